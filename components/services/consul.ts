// Consul: servers from borg:services.consul.servers, clients everywhere else (the edge Pi too).
import { SECRETS_DIR } from "../bundle-paths.js";
import type { ServiceContext } from "./context.js";

export interface ConsulSettings {
  enable: boolean;
  server: boolean;
  datacenter: string;
  bootstrapExpect: number | null;
  retryJoin: string[];
  ui: boolean;
  acl: { enabled: true; defaultPolicy: "deny"; downPolicy: "extend-cache"; tokensFile: string };
  tls: boolean;
}

export function consulSettings({ spec, node, addressOf }: ServiceContext): ConsulSettings {
  const { consul } = spec.services;
  const server = consul.servers.includes(node.name);
  return {
    enable: consul.enabled,
    server,
    datacenter: consul.datacenter,
    bootstrapExpect: server ? consul.servers.length : null,
    retryJoin: consul.servers.filter((s) => s !== node.name).map(addressOf),
    ui: consul.ui && node.role === "queen",
    acl: { enabled: true, defaultPolicy: "deny", downPolicy: "extend-cache", tokensFile: `${SECRETS_DIR}/consul-acl.json` },
    tls: spec.security.tls,
  };
}

export function consulRoles(s: ConsulSettings): string[] {
  if (!s.enable) return [];
  return [
    "consul-agent",
    ...(s.server ? ["consul-server"] : []),
    ...(s.ui ? [s.tls ? "consul-https" : "consul-http"] : []),
  ];
}
