// Consul: servers from borg:services.consul.servers, clients everywhere else (the edge Pi too).
// Everything secret is generated here, once per stack, and reaches the agents in one JSON config
// file in the secrets dir (gossip key, the whole ACL block with its tokens, the TLS block naming the
// certificate files): /etc/consul.json and the Nix store only ever see nix/lib/consul.nix's part.
//   - ACLs: default deny, down policy extend-cache; the servers create the management token
//     (acl.tokens.initial_management) themselves when they elect a leader, so there is no
//     `consul acl bootstrap` call to race or to lose.
//   - Agent tokens: each node's SecretID is generated here and is in its file before the agent
//     first starts; a step on the first server creates the token with that SecretID (a node
//     identity) once the servers have a leader. No provider call, nothing copied back from a node.
//   - TLS (outside dev): one CA; servers get `server.<dc>.consul` certificates, clients
//     `client.<dc>.consul` ones, all signed here, so an agent starts and joins without asking a
//     server for a certificate; internal RPC verifies both ways and checks the server name.
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { createHash } from "node:crypto";
import { SECRETS_DIR } from "../bundle-paths.js";
import type { NodeSpec } from "../config/validate.js";
import { serviceContext, type ServiceContext } from "./context.js";
import { ServiceCa, type IssuedCert } from "./pki.js";
import { port } from "./ports.js";
import { remoteStep } from "./remoteStep.js";
import type { ServiceArgs } from "./registry.js";
import type { CollectiveService, NodeHandle, RolloutGuard, SecretFile } from "./types.js";

export const CONSUL_UNIT = "consul.service";
/** Every file the agent reads from the secrets dir; names end in .json/.pem (consul picks the format by extension). */
const CONSUL_NAMES = { config: "consul-secrets.json", ca: "consul-ca.pem", cert: "consul-cert.pem", key: "consul-key.pem" } as const;
export const CONSUL_FILES = {
  config: `${SECRETS_DIR}/${CONSUL_NAMES.config}`,
  ca: `${SECRETS_DIR}/${CONSUL_NAMES.ca}`,
  cert: `${SECRETS_DIR}/${CONSUL_NAMES.cert}`,
  key: `${SECRETS_DIR}/${CONSUL_NAMES.key}`,
} as const;

export interface ConsulTls {
  caFile: string;
  certFile: string;
  keyFile: string;
  /** Internal RPC: every agent presents a certificate of the CA. */
  verifyIncoming: boolean;
  verifyOutgoing: boolean;
  /** A server must present `server.<dc>.consul`: a client certificate cannot act as a server. */
  verifyServerHostname: boolean;
}

export interface ConsulSettings {
  enable: boolean;
  server: boolean;
  datacenter: string;
  nodeName: string;
  /** Bind and advertise address: the node's static address. */
  address: string;
  bootstrapExpect: number | null;
  /** Server addresses this agent joins (every server but itself). */
  retryJoin: string[];
  ui: boolean;
  /**
   * The HTTP(S) API: on loopback everywhere (node scripts, operators on the node); also on the
   * node address on the queen (the UI, operators, the platform's Consul provider).
   */
  api: { scheme: "http" | "https"; port: number; lan: boolean };
  acl: { enabled: true; defaultPolicy: "deny"; downPolicy: "extend-cache" };
  gossip: { encrypt: true; verifyIncoming: true; verifyOutgoing: true };
  tls: ConsulTls | null;
  /** The secret config file (consul:consul 0400), passed to the agent with -config-file. */
  secretConfigFile: string;
}

export function consulSettings({ spec, node, addressOf }: ServiceContext): ConsulSettings {
  const { consul } = spec.services;
  const server = consul.servers.includes(node.name);
  const tls = spec.security.tls;
  return {
    enable: consul.enabled,
    server,
    datacenter: consul.datacenter,
    nodeName: node.name,
    address: node.address,
    bootstrapExpect: server ? consul.servers.length : null,
    retryJoin: consul.servers.filter((s) => s !== node.name).map(addressOf),
    ui: consul.enabled && consul.ui && node.role === "queen",
    api: { scheme: tls ? "https" : "http", port: port(tls ? "consul-https" : "consul-http"), lan: consul.enabled && node.role === "queen" },
    acl: { enabled: true, defaultPolicy: "deny", downPolicy: "extend-cache" },
    gossip: { encrypt: true, verifyIncoming: true, verifyOutgoing: true },
    tls: tls
      ? { caFile: CONSUL_FILES.ca, certFile: CONSUL_FILES.cert, keyFile: CONSUL_FILES.key, verifyIncoming: true, verifyOutgoing: true, verifyServerHostname: true }
      : null,
    secretConfigFile: CONSUL_FILES.config,
  };
}

export function consulRoles(s: ConsulSettings): string[] {
  if (!s.enable) return [];
  return ["consul-agent", ...(s.server ? ["consul-server"] : []), ...(s.api.lan ? [s.api.scheme === "https" ? "consul-https" : "consul-http"] : [])];
}

/** Generated values that go into a node's secret config file. */
export interface ConsulSecretValues {
  /** Gossip key: base64 of 32 random bytes (what `consul keygen` prints). */
  encrypt: string;
  /** This node's agent token (SecretID of its node-identity token). */
  agentToken: string;
  /** Servers only: the management token the servers create when they first elect a leader. */
  managementToken?: string;
}

/**
 * The secret config file of one node (Consul's JSON config schema). Pure: the settings it follows are
 * node.json's, which is what the policies judge. The whole `acl` and `tls` blocks live here, so no
 * other file can half-override them.
 */
export function consulSecretConfig(s: ConsulSettings, v: ConsulSecretValues): Record<string, unknown> {
  if (s.server !== (v.managementToken !== undefined)) {
    throw new Error(`consul ${s.nodeName}: only servers carry the management token (server: ${s.server})`);
  }
  return {
    encrypt: v.encrypt,
    encrypt_verify_incoming: s.gossip.verifyIncoming,
    encrypt_verify_outgoing: s.gossip.verifyOutgoing,
    acl: {
      enabled: s.acl.enabled,
      default_policy: s.acl.defaultPolicy,
      down_policy: s.acl.downPolicy,
      // Tokens come from this file only: a token set through the API must not outlive a restart.
      enable_token_persistence: false,
      tokens: { ...(v.managementToken !== undefined ? { initial_management: v.managementToken } : {}), agent: v.agentToken },
    },
    ...(s.tls
      ? {
          tls: {
            defaults: {
              ca_file: s.tls.caFile,
              cert_file: s.tls.certFile,
              key_file: s.tls.keyFile,
              verify_incoming: s.tls.verifyIncoming,
              verify_outgoing: s.tls.verifyOutgoing,
            },
            internal_rpc: { verify_server_hostname: s.tls.verifyServerHostname },
            // The API authenticates with ACL tokens: browsers and the platform's provider hold no
            // client certificate. Internal RPC keeps verify_incoming from the defaults.
            https: { verify_incoming: false },
          },
        }
      : {}),
  };
}

/** Where operators and the platform reach the API (the queen's address). */
export function consulApiUrl(s: ConsulSettings): string {
  return `${s.api.scheme}://${s.address}:${s.api.port}`;
}

/**
 * A node's agent-token AccessorID: a UUID derived from the stack, datacenter and node, so the
 * first server can check for the token without a generated resource per node (it is an
 * identifier, not a credential; the SecretID is the random part).
 */
export function agentAccessorId(stack: string, datacenter: string, node: string): string {
  const h = createHash("sha256").update(`borg-consul-agent:${stack}:${datacenter}:${node}`).digest("hex");
  // RFC 4122 layout with version 5 and the variant bits set, as a name-based UUID has.
  const variant = ((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export interface ConsulOutputs {
  /** The HTTP(S) API and UI on the queen. */
  address: string;
  datacenter: string;
  /** PEM of the Consul CA (null in dev: no TLS). */
  caCertificate: pulumi.Output<string> | null;
  managementToken: pulumi.Output<string>;
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

export class Consul extends pulumi.ComponentResource implements CollectiveService {
  outputs!: ConsulOutputs;
  private readonly args: ServiceArgs;
  private readonly prefix: string;
  private readonly gossipKey: pulumi.Output<string>;
  private readonly managementToken: pulumi.Output<string>;
  private readonly agentTokens = new Map<string, pulumi.Output<string>>();
  private readonly ca?: ServiceCa;
  private readonly certs = new Map<string, IssuedCert>();

  constructor(name: string, args: ServiceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("borg:index:Consul", name, {}, opts);
    this.args = args;
    this.prefix = name;
    const child = { parent: this };
    // A RandomUuid's result is plain in state unless declared secret.
    const secretUuid = { ...child, additionalSecretOutputs: ["result"] };
    const { spec } = args;
    this.gossipKey = pulumi.secret(new random.RandomBytes(`${name}-gossip-key`, { length: 32 }, child).base64);
    this.managementToken = pulumi.secret(new random.RandomUuid(`${name}-management-token`, {}, secretUuid).result);
    const dc = spec.services.consul.datacenter;
    if (spec.security.tls) this.ca = new ServiceCa(name, `borg ${args.stack} Consul CA`, child);
    for (const node of spec.nodes) {
      const s = consulSettings(serviceContext(spec, node));
      this.agentTokens.set(node.name, pulumi.secret(new random.RandomUuid(`${name}-${node.name}-agent-token`, {}, secretUuid).result));
      if (!this.ca) continue;
      // The same names and addresses on every certificate, so an operator can reach any agent's
      // API by name or address; only servers carry server.<dc>.consul.
      const role = s.server ? "server" : "client";
      this.certs.set(
        node.name,
        this.ca.issue(node.name, {
          commonName: `${role}.${dc}.consul`,
          dnsNames: [`${role}.${dc}.consul`, node.name, `${node.name}.${spec.network.domain}`, "localhost"],
          ipAddresses: [node.address, "127.0.0.1"],
          usage: "server+client",
        }),
      );
    }
  }

  secretFiles(node: NodeSpec): SecretFile[] {
    const s = consulSettings(serviceContext(this.args.spec, node));
    if (!s.enable) return [];
    const mine = { owner: "consul", group: "consul", restartUnits: [CONSUL_UNIT] };
    const values = pulumi.all([this.gossipKey, this.agentTokens.get(node.name)!, this.managementToken]);
    const config = values.apply(([encrypt, agentToken, management]) =>
      `${JSON.stringify(consulSecretConfig(s, { encrypt, agentToken, ...(s.server ? { managementToken: management } : {}) }), null, 2)}\n`,
    );
    const files: SecretFile[] = [{ name: CONSUL_NAMES.config, ...mine, value: pulumi.secret(config) }];
    if (s.tls && this.ca) {
      const cert = this.certs.get(node.name)!;
      files.push(
        { name: CONSUL_NAMES.ca, ...mine, value: this.ca.certPem },
        { name: CONSUL_NAMES.cert, ...mine, value: cert.certPem },
        { name: CONSUL_NAMES.key, ...mine, value: cert.keyPem },
      );
    }
    return files;
  }

  guards(node: NodeSpec): RolloutGuard[] {
    const s = consulSettings(serviceContext(this.args.spec, node));
    if (!s.enable || !s.server) return [];
    // The guard changes nothing in Consul: it only waits. A failed confirm leaves the server as
    // the revert left it; the next lane member is not started.
    return [
      {
        service: "consul",
        before: { on: "self", script: "services/consul-guard.sh", args: ["before"] },
        after: { on: "self", script: "services/consul-guard.sh", args: ["after"] },
        leftInPlace: `nothing to undo in Consul; check that ${node.name} is back in the raft peer set (consul operator raft list-peers) before retrying`,
      },
    ];
  }

  bootstrap(nodes: ReadonlyMap<string, NodeHandle>): void {
    const child = { parent: this };
    const { spec, stack } = this.args;
    const consul = spec.services.consul;
    const handles = spec.nodes.map((n) => nodes.get(n.name)!);
    const servers = consul.servers.map((name) => nodes.get(name)!);
    const first = servers[0]!;
    const fingerprint = (hs: readonly NodeHandle[]) => hs.flatMap((h) => [h.machineId, h.bundleHash]);

    // 1. The servers have a leader and every one of them is a raft voter.
    const serversGate = remoteStep(
      `${this.prefix}-servers-gate`,
      { node: first, script: "services/consul-gate.sh", args: ["servers", consul.servers.join(",")], triggers: fingerprint(servers), dependsOn: servers.map((h) => h.deployed) },
      child,
    );

    // 2. Every node's agent token, with the SecretID its file already holds (stdin: one line per node).
    const lines = pulumi
      .all(handles.map((h) => this.agentTokens.get(h.spec.name)!))
      .apply((secrets) => handles.map((h, i) => `${h.spec.name} ${agentAccessorId(stack, consul.datacenter, h.spec.name)} ${secrets[i]}\n`).join(""));
    const tokens = remoteStep(
      `${this.prefix}-agent-tokens`,
      {
        node: first,
        script: "services/consul-agent-tokens.sh",
        args: [consul.datacenter],
        stdin: lines,
        // A new or rotated token re-runs it; the digest is all the trigger shows.
        triggers: [pulumi.secret(lines.apply(sha256))],
        dependsOn: [serversGate],
      },
      child,
    );

    // 3. The whole cluster: leader, every member alive, anonymous reads denied.
    remoteStep(
      `${this.prefix}-gate`,
      {
        node: first,
        script: "services/consul-gate.sh",
        args: ["cluster", spec.nodes.map((n) => n.name).join(",")],
        triggers: fingerprint(handles),
        dependsOn: [tokens, ...handles.map((h) => h.deployed)],
      },
      child,
    );

    const queen = spec.nodes.find((n) => n.role === "queen")!;
    this.outputs = {
      address: consulApiUrl(consulSettings(serviceContext(spec, queen))),
      datacenter: consul.datacenter,
      caCertificate: this.ca?.certPem ?? null,
      managementToken: this.managementToken,
    };
    this.registerOutputs({ ...this.outputs });
  }
}
