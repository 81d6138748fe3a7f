// The runtime's default capability set (NET_RAW, CHOWN, SETUID...) is more than almost any service needs.
import { resourceRule, type Finding } from "../lib/define";
import { describeContainer, forEachContainer, isWorkload, patchOmits } from "../lib/kubernetes";

// Binding a port below 1024 is the one capability a service commonly needs.
const ALLOWED_ADD = ["NET_BIND_SERVICE"];
const normalize = (cap: unknown) => String(cap).toUpperCase().replace(/^CAP_/, "");

export const dropAllCapabilities = resourceRule({
  name: "k8s-drop-all-capabilities",
  description: "Every container of a workload drops ALL capabilities and adds back at most NET_BIND_SERVICE.",
  appliesTo: isWorkload,
  check: (args) =>
    forEachContainer(args, (c, pod) => {
      const caps = c.container.securityContext?.capabilities ?? {};
      const findings: Finding[] = [];
      const drop: unknown[] = Array.isArray(caps.drop) ? caps.drop : [];
      // drop is an atomic list: a Patch that sets it replaces it, one that omits it keeps the live list.
      if (!drop.some((d) => normalize(d) === "ALL") && !patchOmits(pod, caps.drop)) {
        findings.push({
          field: `${c.path}.securityContext.capabilities.drop`,
          problem: `${describeContainer(c)} does not drop ALL capabilities (keeps the runtime defaults)`,
          fix: 'set securityContext.capabilities.drop: ["ALL"]',
        });
      }
      const add: unknown[] = Array.isArray(caps.add) ? caps.add : [];
      const extra = add.filter((a) => !ALLOWED_ADD.includes(normalize(a)));
      if (extra.length > 0) {
        findings.push({
          field: `${c.path}.securityContext.capabilities.add`,
          problem: `${describeContainer(c)} adds ${extra.map(String).join(", ")}`,
          fix: `remove ${extra.map(String).join(", ")} from securityContext.capabilities.add (only NET_BIND_SERVICE may be added back)`,
        });
      }
      return findings;
    }),
});
