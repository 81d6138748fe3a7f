// No ACL policy grants write on everything, outside an admin allowlist.
import { resourceRule, type Finding } from "../lib/define";
import { GLOBAL_RESOURCES, isWildcardSegment, parseAclRules } from "../lib/consulAcl";
import { configList, isRedacted } from "../lib/infraProps";
import { CONSUL_ACL_POLICY } from "../lib/infraTypes";

export const consulNoWildcardWrite = resourceRule({
  name: "consul-no-wildcard-write",
  description: "A Consul ACL policy must not grant write on a whole resource (`key_prefix \"\"`, `service_prefix \"\"`, `node_prefix \"\"`, `*`, or `operator`/`acl`/`keyring`/`mesh`/`peering = \"write\"`) unless its name is in config adminPolicies.",
  appliesTo: (type) => type === CONSUL_ACL_POLICY,
  configProperties: { adminPolicies: { type: "array", items: { type: "string" }, default: [] } },
  check: ({ props, name }, config) => {
    const admins = configList<string>(config, "adminPolicies", []);
    const policyName = typeof props.name === "string" ? props.name : name;
    if (admins.includes(policyName) || admins.includes(name)) return [];
    const rules = props.rules;
    if (typeof rules !== "string" || isRedacted(rules)) return [];
    const findings: Finding[] = [];
    const fix = `narrow the rule to the prefixes/services this policy's holders use (e.g. key_prefix "app/web/"), or add "${policyName}" to this policy's adminPolicies`;
    for (const grant of parseAclRules(rules)) {
      const at = grant.line ? ` (line ${grant.line})` : "";
      if (grant.segment === undefined) {
        if (GLOBAL_RESOURCES.has(grant.resource) && grant.policy === "write") {
          findings.push({ field: `rules${at}`, problem: `grants ${grant.resource} = "write": cluster-wide ${grant.resource} control`, fix });
        }
        continue;
      }
      if (!isWildcardSegment(grant.segment)) continue;
      const label = `${grant.resource} ${JSON.stringify(grant.segment)}`;
      if (grant.policy === "write") findings.push({ field: `rules${at}`, problem: `grants write on ${label}: every ${grant.resource.replace(/_prefix$/, "")} in the cluster`, fix });
      if (grant.intentions === "write") findings.push({ field: `rules${at}`, problem: `grants intentions = "write" on ${label}: it can open any service to any other`, fix });
    }
    return findings;
  },
});
