// The service settings each node's node.json carries: who runs which Ceph/K3s/Consul/NATS/MQTT/
// Home Assistant role, with which peers. Pure, derived from the spec; never a secret (secret
// material is referenced by file path under the secrets dir).
import type { CollectiveSpec, NodeSpec } from "./config/validate.js";
import { OSD_DEVICE, SECRETS_DIR } from "./bundle-paths.js";

export const PORTS = { k3sApi: 6443, natsRoute: 6222, natsLeaf: 7422 } as const;

export interface MqttListener {
  port: number;
  address: string;
  allowAnonymous: boolean;
  tls: boolean;
}

export interface NodeServices {
  ceph: { enable: boolean; monitor: boolean; manager: boolean; osdDevice: string | null; monitors: { name: string; address: string }[]; publicNetwork: string; poolSize: number };
  k3s: {
    enable: boolean;
    role: "server" | "agent" | null;
    version: string;
    serverAddr: string | null;
    podCidr: string;
    serviceCidr: string;
    clusterDomain: string;
    nodeLabels: Record<string, string>;
    tokenFile: string;
  };
  consul: {
    enable: boolean;
    server: boolean;
    datacenter: string;
    bootstrapExpect: number | null;
    retryJoin: string[];
    ui: boolean;
    acl: { enabled: true; defaultPolicy: "deny"; downPolicy: "extend-cache"; tokensFile: string };
    tls: boolean;
  };
  nats: {
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
  };
  mqtt: { enable: boolean; listeners: MqttListener[]; users: { name: string; acl: string[] }[]; passwordFile: string; bridge: { address: string; port: number; tls: boolean } | null };
  homeAssistant: { enable: boolean; timeZone: string; unitSystem: string; extraComponents: string[] };
}

export function renderServices(spec: CollectiveSpec, node: NodeSpec): NodeServices {
  const { services, security } = spec;
  const queen = spec.nodes.find((n) => n.role === "queen")!;
  const cluster = spec.nodes.filter((n) => n.quorum);
  const addressOf = (name: string) => spec.nodes.find((n) => n.name === name)!.address;
  const isEdge = node.role === "edge";
  const consulServer = services.consul.servers.includes(node.name);
  const mqttBroker = services.mqtt.enabled && (node.role === "queen" || isEdge);
  const osdHosts = spec.nodes.filter((n) => n.osdDiskGb !== undefined).length;

  return {
    ceph: {
      enable: services.ceph.enabled && !isEdge,
      monitor: services.ceph.monitors.includes(node.name),
      manager: node.role === "queen",
      osdDevice: node.osdDiskGb !== undefined ? OSD_DEVICE : null,
      monitors: services.ceph.monitors.map((name) => ({ name, address: addressOf(name) })),
      publicNetwork: spec.network.cidr,
      poolSize: services.ceph.osdPoolSize ?? Math.max(1, Math.min(3, osdHosts)),
    },
    k3s: {
      enable: services.k3s.enabled && !isEdge,
      role: isEdge ? null : node.role === "queen" ? "server" : "agent",
      version: services.k3s.version,
      serverAddr: node.role === "drone" ? `https://${queen.address}:${PORTS.k3sApi}` : null,
      podCidr: services.k3s.podCidr,
      serviceCidr: services.k3s.serviceCidr,
      clusterDomain: services.k3s.clusterDomain,
      nodeLabels: Object.fromEntries(node.capabilities.map((c) => [`borg.io/${c}`, "true"])),
      tokenFile: `${SECRETS_DIR}/k3s-token`,
    },
    consul: {
      enable: services.consul.enabled,
      server: consulServer,
      datacenter: services.consul.datacenter,
      bootstrapExpect: consulServer ? services.consul.servers.length : null,
      retryJoin: services.consul.servers.filter((s) => s !== node.name).map(addressOf),
      ui: services.consul.ui && node.role === "queen",
      acl: { enabled: true, defaultPolicy: "deny", downPolicy: "extend-cache", tokensFile: `${SECRETS_DIR}/consul-acl.json` },
      tls: security.tls,
    },
    nats: {
      enable: services.nats.enabled,
      serverName: node.name,
      clusterName: services.nats.clusterName,
      // Every cluster member routes and serves clients; only the (odd) peer set stores streams.
      jetstream: services.nats.jetstream.peers.includes(node.name),
      maxMemoryStore: services.nats.jetstream.maxMemoryStore,
      maxFileStore: services.nats.jetstream.maxFileStore,
      routes: isEdge ? [] : cluster.filter((n) => n.name !== node.name).map((n) => `nats-route://${n.address}:${PORTS.natsRoute}`),
      leafnodeHub: node.role === "queen",
      leafnodeRemotes: isEdge ? [`nats-leaf://${queen.address}:${PORTS.natsLeaf}`] : [],
      tls: security.tls,
      authorization: { required: true, usersFile: `${SECRETS_DIR}/nats-auth.conf` },
    },
    mqtt: {
      enable: mqttBroker,
      listeners: mqttBroker ? mqttListeners(spec) : [],
      users: services.mqtt.users.map((u) => ({ name: u.name, acl: [...u.acl] })),
      passwordFile: `${SECRETS_DIR}/mosquitto-passwd`,
      // The Pi's broker keeps working when the link drops and forwards to the queen's when it is up.
      bridge: mqttBroker && isEdge ? { address: queen.address, port: security.tls ? services.mqtt.tlsPort : services.mqtt.port, tls: security.tls } : null,
    },
    homeAssistant: {
      enable: services.homeAssistant.enabled && isEdge,
      timeZone: services.homeAssistant.timeZone,
      unitSystem: services.homeAssistant.unitSystem,
      extraComponents: [...services.homeAssistant.extraComponents],
    },
  };
}

/** With TLS the LAN listener is TLS-only and plaintext stays on loopback (local clients). */
function mqttListeners(spec: CollectiveSpec): MqttListener[] {
  const { port, tlsPort, allowAnonymous } = spec.services.mqtt;
  if (spec.security.tls) {
    return [
      { port: tlsPort, address: "0.0.0.0", allowAnonymous, tls: true },
      { port, address: "127.0.0.1", allowAnonymous, tls: false },
    ];
  }
  return [{ port, address: "0.0.0.0", allowAnonymous, tls: false }];
}
