// The ports table as policies see it: the same nix/lib/ports.json the program and the NixOS
// modules read, so a node's firewall can be re-derived from its roles and compared.
import portTable from "../../nix/lib/ports.json";

export interface PortEntry {
  name: string;
  roles: string[];
  protocol: "tcp" | "udp";
  port: number;
  to?: number;
  scope: "lan" | "cluster";
  purpose: string;
}

export const PORTS: readonly PortEntry[] = portTable.ports as PortEntry[];

export const portLabel = (p: { protocol: string; from: number; to: number }) =>
  `${p.from === p.to ? p.from : `${p.from}-${p.to}`}/${p.protocol}`;
