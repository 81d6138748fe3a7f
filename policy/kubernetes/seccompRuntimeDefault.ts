// Without a seccomp profile a container may call every syscall, including the ones kernel exploits use.
import { resourceRule } from "../lib/define";
import { describeContainer, effectiveSecurity, forEachContainer, isWorkload } from "../lib/kubernetes";

const CONFINED = ["RuntimeDefault", "Localhost"];

export const seccompRuntimeDefault = resourceRule({
  name: "k8s-seccomp-runtime-default",
  description: "Every container of a workload runs under a seccomp profile of type RuntimeDefault or Localhost (container overrides pod).",
  appliesTo: isWorkload,
  check: (args) =>
    forEachContainer(args, (c, pod) => {
      const profile = effectiveSecurity(pod, c, "seccompProfile");
      const type = (profile.value as { type?: unknown } | undefined)?.type;
      if (typeof type === "string" && CONFINED.includes(type)) return [];
      return [
        {
          field: `${profile.path}.type`,
          problem: `${describeContainer(c)} ${type === undefined ? "has no seccomp profile" : `uses seccomp profile ${JSON.stringify(type)}`}`,
          fix: `set securityContext.seccompProfile: { type: "RuntimeDefault" } on the pod (or Localhost with a localhostProfile)`,
        },
      ];
    }),
});
