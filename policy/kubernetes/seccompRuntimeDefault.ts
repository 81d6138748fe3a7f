// Without a seccomp profile a container may call every syscall, including the ones kernel exploits use.
import { resourceRule, type Finding } from "../lib/define";
import { containersOf, describeContainer, effectiveSecurity, forEachPod, isWorkload, patchOmits, securitySettings } from "../lib/kubernetes";

const CONFINED = ["RuntimeDefault", "Localhost"];
const FIX = `set securityContext.seccompProfile: { type: "RuntimeDefault" } on the pod (or Localhost with a localhostProfile)`;

export const seccompRuntimeDefault = resourceRule({
  name: "k8s-seccomp-runtime-default",
  description: "Every container of a workload runs under a seccomp profile of type RuntimeDefault or Localhost (its own or the pod's), and no securityContext sets another type.",
  appliesTo: isWorkload,
  check: (args) =>
    forEachPod(args, (pod) => {
      // Unconfined is forbidden wherever set, even on a pod whose containers all override it.
      const findings: Finding[] = securitySettings(pod, "seccompProfile").flatMap((s) => {
        const type = (s.value as { type?: unknown }).type;
        if (typeof type === "string" && CONFINED.includes(type)) return [];
        return [{ field: `${s.path}.type`, problem: `${s.who} ${type === undefined ? "sets a seccompProfile without a type" : `uses seccomp profile ${JSON.stringify(type)}`}`, fix: FIX }];
      });
      for (const c of containersOf(pod)) {
        const profile = effectiveSecurity(pod, c, "seccompProfile");
        if (profile.value !== undefined || patchOmits(pod, profile.value)) continue;
        findings.push({ field: `${profile.path}.type`, problem: `${describeContainer(c)} has no seccomp profile (on itself or the pod)`, fix: FIX });
      }
      return findings;
    }),
});
