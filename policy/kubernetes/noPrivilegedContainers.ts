// A privileged container has every capability and all host devices: a container escape is a node takeover.
import { resourceRule } from "../lib/define";
import { describeContainer, forEachContainer, isWorkload } from "../lib/kubernetes";

export const noPrivilegedContainers = resourceRule({
  name: "k8s-no-privileged-containers",
  description: "No container of a workload runs privileged (securityContext.privileged must not be true).",
  appliesTo: isWorkload,
  check: (args) =>
    forEachContainer(args, (c) =>
      c.container.securityContext?.privileged === true
        ? [
            {
              field: `${c.path}.securityContext.privileged`,
              problem: `${describeContainer(c)} runs privileged (full host access)`,
              fix: "remove securityContext.privileged (or set it to false) and add only the capability the container needs under securityContext.capabilities.add",
            },
          ]
        : [],
    ),
});
