// Root in a container is root on the node after any escape; the kubelet enforces runAsNonRoot at start.
import { resourceRule, type Finding } from "../lib/define";
import { describeContainer, effectiveSecurity, forEachContainer, isWorkload } from "../lib/kubernetes";

const FIX = "set securityContext.runAsNonRoot: true and runAsUser to a non-zero UID (on the pod, or on the container to override it)";

export const runAsNonRoot = resourceRule({
  name: "k8s-run-as-non-root",
  description: "Every container of a workload runs as a non-root user: runAsNonRoot true or runAsUser above 0 (container overrides pod).",
  appliesTo: isWorkload,
  check: (args) =>
    forEachContainer(args, (c, pod): Finding[] => {
      const user = effectiveSecurity(pod, c, "runAsUser");
      const nonRoot = effectiveSecurity(pod, c, "runAsNonRoot");
      if (user.value === 0) return [{ field: user.path, problem: `${describeContainer(c)} runs as UID 0 (root)`, fix: FIX }];
      if (nonRoot.value === true || (typeof user.value === "number" && user.value > 0)) return [];
      const problem = nonRoot.value === false ? "sets runAsNonRoot to false and no non-zero runAsUser" : "sets neither runAsNonRoot: true nor a non-zero runAsUser, so it runs as the image's user (often root)";
      return [{ field: nonRoot.path, problem: `${describeContainer(c)} ${problem}`, fix: FIX }];
    }),
});
