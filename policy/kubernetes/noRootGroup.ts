// Group 0 owns much of an image's and the node's files: a process in it reads (often writes) them
// even as a non-root user. Not in today's Pod Security Standards: it was their optional
// "Non-root groups" control (restricted, before Pod Security Admission), as in PodSecurityPolicy's
// runAsGroup/supplementalGroups/fsGroup rules and Kyverno's require-non-root-groups.
import { resourceRule, type Finding } from "../lib/define";
import { containersOf, describeContainer, effectiveSecurity, forEachPod, isWorkload, patchOmits, securitySettings } from "../lib/kubernetes";

const FIX = "set securityContext.runAsGroup (and fsGroup, if set) to a non-zero GID on the pod, and keep 0 out of supplementalGroups";

export const noRootGroup = resourceRule({
  name: "k8s-no-root-group",
  description: "Every container of a workload runs with a non-zero runAsGroup (its own or the pod's), and the pod's fsGroup and supplementalGroups are never 0.",
  appliesTo: isWorkload,
  check: (args) =>
    forEachPod(args, (pod) => {
      const findings: Finding[] = [
        ...securitySettings(pod, "runAsGroup")
          .filter((s) => s.value === 0)
          .map((s) => ({ field: s.path, problem: `${s.who} runs with primary group 0 (root)`, fix: FIX })),
        ...securitySettings(pod, "fsGroup", true)
          .filter((s) => s.value === 0)
          .map((s) => ({ field: s.path, problem: "the pod's volumes are owned by group 0 (fsGroup), which every container joins", fix: FIX })),
      ];
      const supplemental: unknown = pod.spec.securityContext?.supplementalGroups;
      if (Array.isArray(supplemental)) {
        supplemental.forEach((gid, i) => {
          if (gid === 0) findings.push({ field: `${pod.path}.securityContext.supplementalGroups[${i}]`, problem: "the pod adds group 0 (root) to every container", fix: FIX });
        });
      }
      // Unset, the runtime takes the image user's group: 0 for a UID without an /etc/passwd entry.
      for (const c of containersOf(pod)) {
        const group = effectiveSecurity(pod, c, "runAsGroup");
        if (group.value !== undefined || patchOmits(pod, group.value)) continue;
        findings.push({ field: group.path, problem: `${describeContainer(c)} has no runAsGroup (on itself or the pod), so it runs with the image's group, often 0`, fix: FIX });
      }
      return findings;
    }),
});
