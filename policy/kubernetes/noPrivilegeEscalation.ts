// Without an explicit false, a setuid binary in the image can gain privileges the container never had.
import { resourceRule } from "../lib/define";
import { describeContainer, forEachContainer, isWorkload, patchOmits } from "../lib/kubernetes";

export const noPrivilegeEscalation = resourceRule({
  name: "k8s-no-privilege-escalation",
  description: "Every container of a workload sets securityContext.allowPrivilegeEscalation to false explicitly.",
  appliesTo: isWorkload,
  check: (args) =>
    forEachContainer(args, (c, pod) => {
      const value = c.container.securityContext?.allowPrivilegeEscalation;
      if (value === false || patchOmits(pod, value)) return [];
      return [
        {
          field: `${c.path}.securityContext.allowPrivilegeEscalation`,
          problem: `${describeContainer(c)} ${value === true ? "allows privilege escalation" : "does not forbid privilege escalation (the default allows it)"}`,
          fix: "set securityContext.allowPrivilegeEscalation: false on the container",
        },
      ];
    }),
});
