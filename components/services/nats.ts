// NATS: a cluster of the queen and drones (JetStream on the odd peer set), the edge Pi a leaf node.
import { SECRETS_DIR } from "../bundle-paths.js";
import type { ServiceContext } from "./context.js";
import { port } from "./ports.js";

export interface NatsSettings {
  enable: boolean;
  serverName: string;
  clusterName: string;
  jetstream: boolean;
  maxMemoryStore: string;
  maxFileStore: string;
  routes: string[];
  leafnodeHub: boolean;
  leafnodeRemotes: string[];
  tls: boolean;
  authorization: { required: true; usersFile: string };
}

export function natsSettings({ spec, node, queen, cluster, isEdge }: ServiceContext): NatsSettings {
  const { nats } = spec.services;
  return {
    enable: nats.enabled,
    serverName: node.name,
    clusterName: nats.clusterName,
    // Every cluster member routes and serves clients; only the (odd) peer set stores streams.
    jetstream: nats.jetstream.peers.includes(node.name),
    maxMemoryStore: nats.jetstream.maxMemoryStore,
    maxFileStore: nats.jetstream.maxFileStore,
    routes: isEdge ? [] : cluster.filter((n) => n.name !== node.name).map((n) => `nats-route://${n.address}:${port("nats-route")}`),
    leafnodeHub: node.role === "queen",
    leafnodeRemotes: isEdge ? [`nats-leaf://${queen.address}:${port("nats-leaf-hub")}`] : [],
    tls: spec.security.tls,
    authorization: { required: true, usersFile: `${SECRETS_DIR}/nats-auth.conf` },
  };
}

export function natsRoles(s: NatsSettings): string[] {
  if (!s.enable) return [];
  if (s.leafnodeRemotes.length > 0) return ["nats-leaf"];
  return ["nats-server", ...(s.leafnodeHub ? ["nats-leaf-hub"] : [])];
}
