// AppArmor's runtime default profile confines what a container may do with files, mounts and
// signals; Unconfined switches that off (PSS baseline "AppArmor"). Both channels are live: the
// securityContext field and the older per-container annotation.
import { resourceRule, type Finding } from "../lib/define";
import { forEachPod, isWorkload, securitySettings } from "../lib/kubernetes";

const CONFINED_TYPES = ["RuntimeDefault", "Localhost"];
const ANNOTATION_PREFIX = "container.apparmor.security.beta.kubernetes.io/";
const confinedAnnotation = (v: unknown) => v === "" || v === "runtime/default" || (typeof v === "string" && v.startsWith("localhost/"));
const FIX = 'remove the override (the runtime default profile applies) or set securityContext.appArmorProfile: { type: "RuntimeDefault" } (or Localhost with a localhostProfile)';

export const noAppArmorUnconfined = resourceRule({
  name: "k8s-no-apparmor-unconfined",
  description: "No workload turns AppArmor off: appArmorProfile.type (pod or container) is RuntimeDefault or Localhost, and container.apparmor.security.beta.kubernetes.io annotations are runtime/default or localhost/*.",
  appliesTo: isWorkload,
  check: (args) =>
    forEachPod(args, (pod) => {
      const findings: Finding[] = securitySettings(pod, "appArmorProfile").flatMap((s) => {
        const type = (s.value as { type?: unknown }).type;
        if (typeof type === "string" && CONFINED_TYPES.includes(type)) return [];
        return [{ field: `${s.path}.type`, problem: `${s.who} ${type === undefined ? "sets an appArmorProfile without a type" : `uses AppArmor profile ${JSON.stringify(type)}`}`, fix: FIX }];
      });
      for (const [key, value] of Object.entries((pod.meta?.annotations ?? {}) as Record<string, unknown>)) {
        if (!key.startsWith(ANNOTATION_PREFIX) || confinedAnnotation(value)) continue;
        findings.push({
          field: `${pod.metaPath}.annotations["${key}"]`,
          problem: `the pod's annotation sets container "${key.slice(ANNOTATION_PREFIX.length)}" to AppArmor profile ${JSON.stringify(value)}`,
          fix: FIX,
        });
      }
      return findings;
    }),
});
