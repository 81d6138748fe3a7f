// Root in a container is root on the node after any escape. runAsNonRoot makes the kubelet refuse
// to start a container whose image would run as UID 0; a UID alone does not (PSS restricted asks
// for both: "Running as Non-root" and "Running as Non-root user").
import { resourceRule, type Finding } from "../lib/define";
import { containersOf, describeContainer, effectiveSecurity, forEachPod, isWorkload, patchOmits, securitySettings } from "../lib/kubernetes";

const FIX = "set securityContext.runAsNonRoot: true and runAsUser to a non-zero UID on the pod (a container may override them, but never with false or 0)";

export const runAsNonRoot = resourceRule({
  name: "k8s-run-as-non-root",
  description: "Every container of a workload runs with runAsNonRoot: true (its own or the pod's), and no securityContext sets runAsNonRoot: false or runAsUser: 0.",
  appliesTo: isWorkload,
  check: (args) =>
    forEachPod(args, (pod) => {
      // Forbidden wherever set, even on a pod whose containers all override it (as PSS judges it).
      const findings: Finding[] = [
        ...securitySettings(pod, "runAsUser")
          .filter((s) => s.value === 0)
          .map((s) => ({ field: s.path, problem: `${s.who} runs as UID 0 (root)`, fix: FIX })),
        ...securitySettings(pod, "runAsNonRoot")
          .filter((s) => s.value === false)
          .map((s) => ({ field: s.path, problem: `${s.who} sets runAsNonRoot to false`, fix: FIX })),
      ];
      for (const c of containersOf(pod)) {
        const nonRoot = effectiveSecurity(pod, c, "runAsNonRoot");
        // false is reported where it is set (above), once.
        if (nonRoot.value === true || nonRoot.value === false || patchOmits(pod, nonRoot.value)) continue;
        findings.push({
          field: nonRoot.path,
          problem: `${describeContainer(c)} has no runAsNonRoot: true (on itself or the pod), so the kubelet starts it even if its image runs as root`,
          fix: FIX,
        });
      }
      return findings;
    }),
});
