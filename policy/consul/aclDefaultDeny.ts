// Every Consul agent the collective runs enforces ACLs, denying what no token allows.
import { resourceRule, type Finding } from "../lib/define";
import { isOn } from "../lib/infraProps";
import { NIXOS_HOST, nodeConfigOf } from "../lib/nodes";

const BASE = "nodeConfig.services.consul.acl";

export const consulAclDefaultDeny = resourceRule({
  name: "consul-acl-default-deny",
  description: "Every node that runs Consul must enable ACLs with default policy \"deny\" (and not fall back to \"allow\" when servers are unreachable).",
  appliesTo: (type) => type === NIXOS_HOST,
  check: ({ props }) => {
    const consul = nodeConfigOf(props)?.services?.consul;
    if (!consul || !isOn(consul.enable)) return [];
    const acl = (consul.acl ?? {}) as Record<string, unknown>;
    const findings: Finding[] = [];
    if (!isOn(acl.enabled)) {
      findings.push({
        field: `${BASE}.enabled`,
        problem: "is not true: the agent serves its KV store, catalog and operator API to anyone who can reach it",
        fix: "enable ACLs (acl.enabled = true) in the node's Consul settings (components/services/consul.ts)",
      });
    }
    if (acl.defaultPolicy !== "deny") {
      findings.push({
        field: `${BASE}.defaultPolicy`,
        problem: `is ${JSON.stringify(acl.defaultPolicy ?? null)}, not "deny": requests without a token are allowed`,
        fix: 'set acl.defaultPolicy = "deny" and grant access with per-service tokens',
      });
    }
    if (acl.downPolicy === "allow") {
      findings.push({
        field: `${BASE}.downPolicy`,
        problem: 'is "allow": while the servers are unreachable every request is allowed',
        fix: 'set acl.downPolicy = "extend-cache" (or "deny")',
      });
    }
    return findings;
  },
});
