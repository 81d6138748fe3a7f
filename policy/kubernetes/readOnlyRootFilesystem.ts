// A writable root filesystem lets an intruder drop tools and persist changes inside the container.
import { resourceRule } from "../lib/define";
import { describeContainer, forEachContainer, isWorkload, patchOmits } from "../lib/kubernetes";

export const readOnlyRootFilesystem = resourceRule({
  name: "k8s-read-only-root-filesystem",
  description: "Every container of a workload mounts its root filesystem read-only (securityContext.readOnlyRootFilesystem: true).",
  appliesTo: isWorkload,
  check: (args) =>
    forEachContainer(args, (c, pod) =>
      c.container.securityContext?.readOnlyRootFilesystem === true || patchOmits(pod, c.container.securityContext?.readOnlyRootFilesystem)
        ? []
        : [
            {
              field: `${c.path}.securityContext.readOnlyRootFilesystem`,
              problem: `${describeContainer(c)} has a writable root filesystem`,
              fix: "set securityContext.readOnlyRootFilesystem: true and mount an emptyDir volume where the container must write (e.g. /tmp)",
            },
          ],
    ),
});
