// No token (or role) carries the built-in global-management policy, outside an exempted bootstrap.
import { resourceRule, type Finding } from "../lib/define";
import { GLOBAL_MANAGEMENT } from "../lib/consulAcl";
import { asArray } from "../lib/infraProps";
import { CONSUL_ACL_ROLE, CONSUL_ACL_TOKEN } from "../lib/infraTypes";

export const consulNoGlobalManagementToken = resourceRule({
  name: "consul-no-global-management-token",
  description: "A Consul ACL token or role must not carry the global-management policy (id 00000000-0000-0000-0000-000000000001); only the bootstrap token may, by an exemption with a reason.",
  appliesTo: (type) => type === CONSUL_ACL_TOKEN || type === CONSUL_ACL_ROLE,
  check: ({ props, type }) => {
    const findings: Finding[] = [];
    asArray(props.policies).forEach((policy, i) => {
      const name = typeof policy === "string" ? policy : String((policy as { name?: unknown; id?: unknown })?.name ?? (policy as { id?: unknown })?.id ?? "");
      if (!GLOBAL_MANAGEMENT.has(name.trim())) return;
      findings.push({
        field: `policies[${i}]`,
        problem: `is ${name}: the ${type === CONSUL_ACL_ROLE ? "role makes every token holding it" : "token is"} a full management credential (every ACL, KV and operator action)`,
        fix: "attach a least-privilege AclPolicy for what this token does; for the one bootstrap token, exempt it in the policy config with a reason and revoke it after setup",
      });
    });
    return findings;
  },
});
