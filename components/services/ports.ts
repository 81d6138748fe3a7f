// The ports table (nix/lib/ports.json) and what a node opens: exactly the ports of the roles it
// runs. The NixOS modules read the same table (nix/lib/ports.nix); the node-firewall-allowlist
// policy re-derives the rules from it and the node's roles.
import table from "../../nix/lib/ports.json" with { type: "json" };

export type Protocol = "tcp" | "udp";
/** lan: the node network (operators, clients); cluster: only the collective's node addresses. */
export type Scope = "lan" | "cluster";

export interface PortEntry {
  name: string;
  roles: string[];
  protocol: Protocol;
  port: number;
  to?: number;
  scope: Scope;
  purpose: string;
}

/** One firewall opening in node.json: a port or an inclusive range, open to a scope. */
export interface FirewallRule {
  name: string;
  protocol: Protocol;
  from: number;
  to: number;
  scope: Scope;
}

export const PORT_TABLE: readonly PortEntry[] = table.ports as PortEntry[];

export function port(name: string): number {
  const entry = PORT_TABLE.find((p) => p.name === name);
  if (!entry) throw new Error(`nix/lib/ports.json has no port named ${name}`);
  return entry.port;
}

/** The rules for a set of roles, in table order; a port shared by several roles appears once. */
export function firewallRules(roles: readonly string[]): FirewallRule[] {
  return PORT_TABLE.filter((p) => p.roles.some((r) => roles.includes(r))).map((p) => ({
    name: p.name,
    protocol: p.protocol,
    from: p.port,
    to: p.to ?? p.port,
    scope: p.scope,
  }));
}

/** The README's ports table (a test keeps README and nix/lib/ports.json in step). */
export function portsMarkdown(): string {
  const rows = PORT_TABLE.map(
    (p) => `| \`${p.name}\` | ${p.to ? `${p.port}–${p.to}` : p.port}/${p.protocol} | ${p.scope} | ${p.roles.map((r) => `\`${r}\``).join(", ")} | ${p.purpose} |`,
  );
  return ["| port | number | open to | roles | purpose |", "|---|---|---|---|---|", ...rows].join("\n");
}
