// A node opens exactly what its roles need: every firewall rule in its node.json must be a row of
// the ports table (nix/lib/ports.json) for one of the node's roles, with the table's port, range,
// protocol and scope. A hand-added port, or a cluster-only port opened to the whole LAN, fails.
import { resourceRule, type Finding } from "../lib/define";
import { asArray, asRecord } from "../lib/infraProps";
import { NIXOS_HOST, nodeConfigOf } from "../lib/nodes";
import { PORTS, portLabel } from "../lib/ports";

export const nodeFirewallAllowlist = resourceRule({
  name: "node-firewall-allowlist",
  description:
    "A node's firewall opens only ports of the roles it runs, exactly as the ports table (nix/lib/ports.json) lists them: same port or range, protocol and scope (cluster ports only to the collective's nodes).",
  appliesTo: (type) => type === NIXOS_HOST,
  check: (args) => {
    const config = nodeConfigOf(args.props);
    if (!config) return [];
    const roles = asArray(config.roles).map(String);
    const firewall = asRecord(config.firewall) ?? {};
    const findings: Finding[] = [];
    for (const legacy of ["allowedTCPPorts", "allowedUDPPorts"]) {
      const ports = asArray(firewall[legacy]);
      if (ports.length > 0) {
        findings.push({
          field: `nodeConfig.firewall.${legacy}`,
          problem: `opens ${ports.join(", ")} outside the ports table`,
          fix: "open ports only through roles (nix/lib/ports.json); node.json's firewall.rules is derived from them",
        });
      }
    }
    asArray(firewall.rules).forEach((raw, i) => {
      const rule = asRecord(raw) ?? {};
      const field = `nodeConfig.firewall.rules[${i}]`;
      const shown = portLabel({ protocol: String(rule.protocol), from: Number(rule.from), to: Number(rule.to) });
      const entry = PORTS.find((p) => p.name === rule.name);
      if (!entry) {
        findings.push({ field, problem: `opens ${shown} as '${String(rule.name)}', which is not in the ports table`, fix: "add the port to nix/lib/ports.json under the role that needs it, or remove it" });
        return;
      }
      if (!entry.roles.some((r) => roles.includes(r))) {
        findings.push({
          field,
          problem: `opens ${entry.name} (${shown}), which only ${entry.roles.join(" or ")} need(s); this node runs ${roles.join(", ") || "no roles"}`,
          fix: "remove the rule: a node opens exactly the ports of the roles it runs",
        });
        return;
      }
      const wanted = { protocol: entry.protocol, from: entry.port, to: entry.to ?? entry.port };
      if (rule.protocol !== wanted.protocol || rule.from !== wanted.from || rule.to !== wanted.to) {
        findings.push({ field, problem: `opens ${shown} as ${entry.name}, but the table says ${portLabel(wanted)}`, fix: "render the rule from the ports table" });
      }
      if (rule.scope !== entry.scope) {
        findings.push({
          field,
          problem: `opens ${entry.name} (${shown}) to '${String(rule.scope)}', but the table allows it only to '${entry.scope}'`,
          fix: entry.scope === "cluster" ? "restrict it to the collective's node addresses (scope cluster)" : "render the rule's scope from the ports table",
        });
      }
    });
    return findings;
  },
});
