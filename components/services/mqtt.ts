// Mosquitto: a broker on the queen and one on the edge Pi, whose bridge shares the configured topics
// with the queen's (both ways, QoS 1, persistent session), so the Pi keeps serving its local clients
// (Home Assistant) when the link drops and catches up when it returns. Users and their ACLs come
// from borg:services.mqtt.users; passwords are generated here and reach the brokers only as
// mosquitto `$7$` hashes in files. The bridge authenticates with a client certificate (a password
// would land in the Nix store: nixpkgs' bridge settings are inline only).
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { pbkdf2Sync } from "node:crypto";
import { SECRETS_DIR } from "../bundle-paths.js";
import type { CollectiveSpec, NodeSpec } from "../config/validate.js";
import { serviceContext, type ServiceContext } from "./context.js";
import { ServiceCa, type IssuedCert } from "./pki.js";
import { port } from "./ports.js";
import { remoteStep } from "./remoteStep.js";
import type { ServiceArgs } from "./registry.js";
import type { CollectiveService, NodeHandle, RolloutGuard, SecretFile } from "./types.js";

import { COLLECTIVE_STATUS_TOPIC, PROBE_USER, STATUS_USER } from "../config/mqtt.js";

export { PROBE_USER, STATUS_USER };
const UNIT = "mosquitto.service";

/** Every broker user: the configured ones, then the ones the collective generates for itself. */
export function mqttUsers(spec: CollectiveSpec): { name: string; acl: string[] }[] {
  const publishesStatus = spec.services.homeAssistant.enabled && spec.nodes.some((n) => n.role === "edge");
  return [
    ...spec.services.mqtt.users.map((u) => ({ name: u.name, acl: [...u.acl] })),
    { name: PROBE_USER, acl: ["read $SYS/#"] },
    ...(publishesStatus ? [{ name: STATUS_USER, acl: [`write ${COLLECTIVE_STATUS_TOPIC.split("/").slice(0, -1).join("/")}/#`] }] : []),
  ];
}

export interface MqttListener {
  /** lan: the network clients; local: loopback only (TLS stacks); bridge: mTLS, edge bridges only. */
  name: "lan" | "local" | "bridge";
  port: number;
  address: string;
  allowAnonymous: boolean;
  tls: boolean;
  /** Client certificates instead of passwords: the certificate's CN is the user name. */
  clientCertificates: boolean;
}

export interface MqttUser {
  name: string;
  acl: string[];
  /** `$7$` hash file (single line, no `user:` prefix) in the secrets dir. */
  hashFile: string;
}

export interface MqttSettings {
  enable: boolean;
  listeners: MqttListener[];
  users: MqttUser[];
  /** Server certificate of TLS listeners (and the bridge listener), in the secrets dir. */
  tls: { caFile: string; certFile: string; keyFile: string } | null;
  /** On the queen: the edge bridges' certificate identities and what they may touch. */
  bridgeUsers: { name: string; acl: string[] }[];
  /** On the edge Pi: the bridge to the queen's bridge listener. */
  bridge: { address: string; port: number; tls: true; clientId: string; topics: string[]; caFile: string; certFile: string; keyFile: string } | null;
}

const file = (name: string) => `${SECRETS_DIR}/${name}`;
const hashFileOf = (user: string) => file(`mqtt-${user}.hash`);
const bridgeIdentity = (edge: string) => `bridge-${edge}`;
const TLS_FILES = { caFile: file("mqtt-ca.crt"), certFile: file("mqtt-server.crt"), keyFile: file("mqtt-server.key") };

export function mqttSettings({ spec, node, queen, isEdge }: ServiceContext): MqttSettings {
  const { mqtt } = spec.services;
  const tls = spec.security.tls;
  const broker = mqtt.enabled && (node.role === "queen" || isEdge);
  const edges = spec.nodes.filter((n) => n.role === "edge");
  const hub = broker && node.role === "queen" && edges.length > 0;
  const users = mqttUsers(spec);
  return {
    enable: broker,
    listeners: broker ? [...listeners(mqtt.allowAnonymous, tls), ...(hub ? [bridgeListener()] : [])] : [],
    users: broker ? users.map((u) => ({ ...u, hashFile: hashFileOf(u.name) })) : [],
    tls: broker && (tls || hub) ? TLS_FILES : null,
    bridgeUsers: hub ? edges.map((e) => ({ name: bridgeIdentity(e.name), acl: mqtt.bridgeTopics.map((t) => `readwrite ${t}`) })) : [],
    bridge:
      broker && isEdge
        ? {
            address: queen.address,
            port: port("mqtt-bridge"),
            tls: true,
            clientId: bridgeIdentity(node.name),
            topics: [...mqtt.bridgeTopics],
            caFile: file("mqtt-ca.crt"),
            certFile: file("mqtt-bridge.crt"),
            keyFile: file("mqtt-bridge.key"),
          }
        : null,
  };
}

/** With TLS the LAN listener is TLS-only and plaintext stays on loopback (local clients, gates). */
function listeners(allowAnonymous: boolean, tls: boolean): MqttListener[] {
  const plain = { allowAnonymous, tls: false, clientCertificates: false };
  if (tls) {
    return [
      { name: "lan", port: port("mqtt-tls"), address: "0.0.0.0", allowAnonymous, tls: true, clientCertificates: false },
      { name: "local", port: port("mqtt"), address: "127.0.0.1", ...plain },
    ];
  }
  return [{ name: "lan", port: port("mqtt"), address: "0.0.0.0", ...plain }];
}

/** Always TLS with client certificates, also in dev: the bridge has no password to leak. */
function bridgeListener(): MqttListener {
  return { name: "bridge", port: port("mqtt-bridge"), address: "0.0.0.0", allowAnonymous: false, tls: true, clientCertificates: true };
}

export function mqttRoles(s: MqttSettings): string[] {
  if (!s.enable) return [];
  return s.listeners
    .filter((l) => l.address !== "127.0.0.1")
    .map((l) => (l.name === "bridge" ? "mqtt-bridge-hub" : l.tls ? "mqtt-tls" : "mqtt-plain"));
}

/** mosquitto's own PBKDF2-SHA512 format (`mosquitto_passwd`, 101 iterations, 12-byte salt). */
export function mosquittoHash(password: string, salt: Buffer): string {
  if (salt.length !== 12) throw new Error(`mosquitto salts are 12 bytes, got ${salt.length}`);
  const hash = pbkdf2Sync(password, salt, 101, 64, "sha512");
  return `$7$101$${salt.toString("base64")}$${hash.toString("base64")}`;
}

export interface MqttOutputs {
  brokers: Record<string, string>;
  caCertificate: pulumi.Output<string>;
  users: pulumi.Output<Record<string, string>>;
}

export class Mqtt extends pulumi.ComponentResource implements CollectiveService {
  outputs!: MqttOutputs;
  private readonly args: ServiceArgs;
  private readonly passwords = new Map<string, pulumi.Output<string>>();
  private readonly hashes = new Map<string, pulumi.Output<string>>();
  private readonly ca: ServiceCa;
  private readonly serverCerts = new Map<string, IssuedCert>();
  private readonly bridgeCerts = new Map<string, IssuedCert>();
  /** Each broker's readiness gate, by node (set in bootstrap): clients of a broker wait for it. */
  readonly gates = new Map<string, pulumi.Resource>();

  constructor(name: string, args: ServiceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("borg:index:Mqtt", name, {}, opts);
    this.args = args;
    const child = { parent: this };
    const { spec } = args;
    for (const user of mqttUsers(spec).map((u) => u.name)) {
      const password = new random.RandomPassword(`${name}-${user}-password`, { length: 32, special: false }, child);
      // A stored salt keeps the hash (and so every trigger) stable from one run to the next.
      const salt = new random.RandomBytes(`${name}-${user}-salt`, { length: 12 }, child);
      this.passwords.set(user, pulumi.secret(password.result));
      this.hashes.set(user, pulumi.secret(pulumi.all([password.result, salt.base64]).apply(([p, s]) => mosquittoHash(p, Buffer.from(s, "base64")))));
    }
    this.ca = new ServiceCa(`${name}`, `borg ${args.stack} MQTT CA`, child);
    for (const node of spec.nodes) {
      if (!mqttSettings(ctxOf(args, node)).enable) continue;
      this.serverCerts.set(
        node.name,
        this.ca.issue(node.name, { commonName: node.name, dnsNames: [node.name, `${node.name}.${spec.network.domain}`], ipAddresses: [node.address, "127.0.0.1"], usage: "server" }),
      );
      if (node.role === "edge") this.bridgeCerts.set(node.name, this.ca.issue(`${node.name}-bridge`, { commonName: bridgeIdentity(node.name), usage: "client" }));
    }
  }

  /** A broker user's generated password (secret), for the service that logs in as it. */
  passwordOf(user: string): pulumi.Output<string> {
    const password = this.passwords.get(user);
    if (!password) throw new Error(`mqtt: no user ${user} (borg:services.mqtt.users)`);
    return password;
  }

  secretFiles(node: NodeSpec): SecretFile[] {
    const s = mqttSettings(ctxOf(this.args, node));
    if (!s.enable) return [];
    const restart = { restartUnits: [UNIT] };
    // Hashes go through systemd's LoadCredential (root may own them); the broker reads the TLS files itself.
    const files: SecretFile[] = s.users.map((u) => ({ name: `mqtt-${u.name}.hash`, owner: "root", group: "root", value: this.hashes.get(u.name)!, ...restart }));
    files.push({ name: `mqtt-${PROBE_USER}.password`, owner: "root", group: "root", value: this.passwords.get(PROBE_USER)! });
    const mine = { owner: "mosquitto", group: "mosquitto", ...restart };
    if (s.tls) {
      const cert = this.serverCerts.get(node.name)!;
      files.push({ name: "mqtt-ca.crt", ...mine, value: this.ca.certPem }, { name: "mqtt-server.crt", ...mine, value: cert.certPem }, { name: "mqtt-server.key", ...mine, value: cert.keyPem });
    }
    if (s.bridge) {
      const cert = this.bridgeCerts.get(node.name)!;
      if (!s.tls) files.push({ name: "mqtt-ca.crt", ...mine, value: this.ca.certPem });
      files.push({ name: "mqtt-bridge.crt", ...mine, value: cert.certPem }, { name: "mqtt-bridge.key", ...mine, value: cert.keyPem });
    }
    return files;
  }

  guards(): RolloutGuard[] {
    // A broker restart drops connections for a second; clients and the bridge reconnect and QoS 1
    // messages are redelivered. Nothing quorum-like to protect.
    return [];
  }

  bootstrap(nodes: ReadonlyMap<string, NodeHandle>): void {
    const child = { parent: this };
    const gates = this.gates;
    const brokers: Record<string, string> = {};
    // The queen first: the edge's gate waits for the bridge to connect to it.
    const ordered = [...nodes.values()].sort((a, b) => Number(a.spec.role === "edge") - Number(b.spec.role === "edge"));
    for (const handle of ordered) {
      const s = mqttSettings(ctxOf(this.args, handle.spec));
      if (!s.enable) continue;
      const lan = s.listeners.find((l) => l.name === "lan")!;
      brokers[handle.spec.name] = `${lan.tls ? "mqtts" : "mqtt"}://${handle.spec.address}:${lan.port}`;
      const queenGate = handle.spec.role === "edge" ? [...gates.values()] : [];
      gates.set(
        handle.spec.name,
        remoteStep(
          `${handle.spec.name}-mqtt-gate`,
          { node: handle, script: "services/mqtt-gate.sh", args: [String(port("mqtt")), ...(s.bridge ? [s.bridge.clientId] : [])], dependsOn: queenGate },
          child,
        ),
      );
    }
    const users = pulumi.secret(
      pulumi.all(Object.fromEntries(this.args.spec.services.mqtt.users.map((u) => [u.name, this.passwords.get(u.name)!]))),
    ) as pulumi.Output<Record<string, string>>;
    this.outputs = { brokers, caCertificate: this.ca.certPem, users };
    this.registerOutputs({ brokers, caCertificate: this.ca.certPem, users });
  }
}

const ctxOf = (args: ServiceArgs, node: NodeSpec): ServiceContext => serviceContext(args.spec, node);
