// K3s: the server on the queen, agents on the drones, never on the edge Pi.
import { SECRETS_DIR } from "../bundle-paths.js";
import type { ServiceContext } from "./context.js";
import { port } from "./ports.js";

export interface K3sSettings {
  enable: boolean;
  role: "server" | "agent" | null;
  version: string;
  serverAddr: string | null;
  podCidr: string;
  serviceCidr: string;
  clusterDomain: string;
  nodeLabels: Record<string, string>;
  tokenFile: string;
}

export function k3sSettings({ spec, node, queen, isEdge }: ServiceContext): K3sSettings {
  const { k3s } = spec.services;
  return {
    enable: k3s.enabled && !isEdge,
    role: isEdge ? null : node.role === "queen" ? "server" : "agent",
    version: k3s.version,
    serverAddr: node.role === "drone" ? `https://${queen.address}:${port("k3s-api")}` : null,
    podCidr: k3s.podCidr,
    serviceCidr: k3s.serviceCidr,
    clusterDomain: k3s.clusterDomain,
    nodeLabels: Object.fromEntries(node.capabilities.map((c) => [`borg.io/${c}`, "true"])),
    tokenFile: `${SECRETS_DIR}/k3s-token`,
  };
}

export function k3sRoles(s: K3sSettings): string[] {
  if (!s.enable || s.role === null) return [];
  return [s.role === "server" ? "k3s-server" : "k3s-agent"];
}
