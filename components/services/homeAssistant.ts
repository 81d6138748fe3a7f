// Home Assistant on the edge Pi: nixpkgs' services.home-assistant with the configured integrations,
// LAN only (bound to loopback and the Pi's own address, the port open to the node network; outside
// dev HTTPS with a certificate from the stack's Home Assistant CA), logged in to the Pi's broker as
// its own MQTT user. HA keeps its broker connection in a config entry it owns (YAML broker keys are
// gone), so a step on the Pi drives HA's REST API: onboarding with a generated owner if pending,
// then the MQTT entry, created only if none matches. A timer on the Pi publishes the collective's
// health (Consul leader and servers, the NATS leaf link) to an MQTT topic HA shows as a sensor.
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { createHash } from "node:crypto";
import { SECRETS_DIR } from "../bundle-paths.js";
import { COLLECTIVE_STATUS_TOPIC } from "../config/mqtt.js";
import type { CollectiveSpec, NodeSpec } from "../config/validate.js";
import { consulSettings } from "./consul.js";
import { serviceContext, type ServiceContext } from "./context.js";
import { STATUS_USER, type Mqtt } from "./mqtt.js";
import { natsSettings } from "./nats.js";
import { ServiceCa, type IssuedCert } from "./pki.js";
import { port } from "./ports.js";
import { remoteStep } from "./remoteStep.js";
import type { ServiceArgs } from "./registry.js";
import type { CollectiveService, NodeHandle, RolloutGuard, SecretFile } from "./types.js";

export const HASS_UNIT = "home-assistant.service";
/** The owner account the REST step creates at onboarding (its password is generated). */
export const OWNER_USER = "borg";
const file = (name: string) => `${SECRETS_DIR}/${name}`;
export const HASS_FILES = {
  /** Linked as /var/lib/hass/secrets.yaml: the values behind `!secret` (the home's location). */
  secrets: file("hass-secrets.yaml"),
  ca: file("hass-ca.crt"),
  cert: file("hass-tls.crt"),
  key: file("hass-tls.key"),
  owner: file("hass-owner.password"),
  mqtt: file("hass-mqtt.password"),
  status: file(`mqtt-${STATUS_USER}.password`),
} as const;
/** The status timer's period; the sensor turns unavailable after three missed updates. */
const STATUS_INTERVAL = 60;

export interface HomeAssistantHttp {
  port: number;
  /** Addresses HA listens on: loopback (the node's own steps) and the node's LAN address; never a wildcard. */
  serverHosts: string[];
  tls: { certFile: string; keyFile: string } | null;
  /** No reverse proxy in front of HA: forwarded headers are not trusted. */
  useXForwardedFor: boolean;
  trustedProxies: string[];
  ipBan: { enabled: boolean; loginAttemptsThreshold: number };
}

export interface CollectiveStatus {
  topic: string;
  intervalSeconds: number;
  /** The sensor turns unavailable when no update arrived for this long. */
  expireAfterSeconds: number;
  mqttPort: number;
  mqttUser: string;
  passwordFile: string;
  consul: { url: string; caFile: string | null; servers: number } | null;
  nats: { monitorUrl: string } | null;
}

export interface HomeAssistantSettings {
  enable: boolean;
  name: string;
  timeZone: string;
  unitSystem: "metric" | "us_customary";
  extraComponents: string[];
  /** latitude, longitude and elevation come from secrets.yaml (`!secret`), never node.json. */
  location: boolean;
  http: HomeAssistantHttp | null;
  secretsFile: string | null;
  /** The broker HA's MQTT entry points at (the Pi's own, on loopback) and the user it logs in as. */
  mqtt: { broker: string; port: number; user: string } | null;
  collectiveStatus: CollectiveStatus | null;
}

export function homeAssistantSettings(ctx: ServiceContext): HomeAssistantSettings {
  const { spec, node, isEdge } = ctx;
  const ha = spec.services.homeAssistant;
  const base = { name: ha.name, timeZone: ha.timeZone, unitSystem: ha.unitSystem };
  if (!(ha.enabled && isEdge)) {
    return { enable: false, ...base, extraComponents: [], location: false, http: null, secretsFile: null, mqtt: null, collectiveStatus: null };
  }
  // mqtt always (the broker entry needs its dependencies); rpi_power as nixpkgs' default has it on a Pi.
  const extra = [...ha.extraComponents, "mqtt", ...(node.platform === "raspberry-pi-4" ? ["rpi_power"] : [])];
  return {
    enable: true,
    ...base,
    extraComponents: [...new Set(extra)],
    location: ha.location !== undefined,
    http: {
      port: port("home-assistant"),
      serverHosts: ["127.0.0.1", node.address],
      tls: spec.security.tls ? { certFile: HASS_FILES.cert, keyFile: HASS_FILES.key } : null,
      useXForwardedFor: false,
      trustedProxies: [],
      ipBan: { enabled: true, loginAttemptsThreshold: 10 },
    },
    secretsFile: HASS_FILES.secrets,
    mqtt: { broker: "127.0.0.1", port: port("mqtt"), user: ha.mqttUser },
    collectiveStatus: collectiveStatus(ctx),
  };
}

/** What the Pi can see of the collective's health: the Consul servers through its agent, the NATS leaf link. */
function collectiveStatus(ctx: ServiceContext): CollectiveStatus | null {
  const { consul, nats } = ctx.spec.services;
  if (!consul.enabled && !nats.enabled) return null;
  // The Pi's own Consul agent, on loopback, as the Consul service configures it.
  const agent = consulSettings(ctx);
  return {
    topic: COLLECTIVE_STATUS_TOPIC,
    intervalSeconds: STATUS_INTERVAL,
    expireAfterSeconds: 3 * STATUS_INTERVAL,
    mqttPort: port("mqtt"),
    mqttUser: STATUS_USER,
    passwordFile: HASS_FILES.status,
    consul: consul.enabled ? { url: `${agent.api.scheme}://127.0.0.1:${agent.api.port}`, caFile: agent.tls?.caFile ?? null, servers: consul.servers.length } : null,
    // The Pi's leaf serves NATS' monitoring endpoint on loopback, like every NATS node.
    nats: nats.enabled ? { monitorUrl: `http://127.0.0.1:${natsSettings(ctx).ports.monitor}` } : null,
  };
}

export function homeAssistantRoles(s: HomeAssistantSettings): string[] {
  return s.enable ? ["home-assistant"] : [];
}

/** secrets.yaml: only what the configuration references with `!secret`. */
export function secretsYaml(location: CollectiveSpec["services"]["homeAssistant"]["location"]): string {
  if (!location) return "{}\n";
  return `latitude: ${location.latitude}\nlongitude: ${location.longitude}\nelevation: ${location.elevation}\n`;
}

export interface HomeAssistantOutputs {
  url: string;
  caCertificate: pulumi.Output<string> | null;
  /** The owner account the onboarding step created (its password is secret). */
  owner: { username: string; password: pulumi.Output<string> };
}

export interface HomeAssistantArgs extends ServiceArgs {
  /** The MQTT service: HA's user password, the status publisher's, and the Pi broker's gate. */
  readonly mqtt: Mqtt;
}

export class HomeAssistant extends pulumi.ComponentResource implements CollectiveService {
  outputs: HomeAssistantOutputs | undefined;
  private readonly args: HomeAssistantArgs;
  private readonly ownerPassword: pulumi.Output<string>;
  private readonly ca: ServiceCa | undefined;
  private readonly certs = new Map<string, IssuedCert>();

  constructor(name: string, args: HomeAssistantArgs, opts?: pulumi.ComponentResourceOptions) {
    super("borg:index:HomeAssistant", name, {}, opts);
    this.args = args;
    const child = { parent: this };
    const { spec } = args;
    this.ownerPassword = pulumi.secret(new random.RandomPassword(`${name}-owner-password`, { length: 32, special: false }, child).result);
    if (spec.security.tls) {
      this.ca = new ServiceCa(name, `borg ${args.stack} Home Assistant CA`, child);
      for (const node of spec.nodes) {
        if (!settingsOf(args, node).enable) continue;
        const names = [node.name, `${node.name}.${spec.network.domain}`];
        this.certs.set(node.name, this.ca.issue(node.name, { commonName: node.name, dnsNames: names, ipAddresses: [node.address, "127.0.0.1"], usage: "server" }));
      }
    }
  }

  secretFiles(node: NodeSpec): SecretFile[] {
    const s = settingsOf(this.args, node);
    if (!s.enable) return [];
    const { mqtt } = this.args;
    const root = { owner: "root", group: "root" };
    const hass = { owner: "hass", group: "hass", restartUnits: [HASS_UNIT] };
    const name = (path: string) => path.slice(SECRETS_DIR.length + 1);
    const files: SecretFile[] = [
      { name: name(HASS_FILES.secrets), ...hass, value: pulumi.secret(secretsYaml(this.args.spec.services.homeAssistant.location)) },
      // Read by the REST step only (HA keeps what it needs in its own store).
      { name: name(HASS_FILES.owner), ...root, value: this.ownerPassword },
      { name: name(HASS_FILES.mqtt), ...root, value: mqtt.passwordOf(s.mqtt!.user) },
    ];
    // The status timer reads it through systemd credentials.
    if (s.collectiveStatus) files.push({ name: name(HASS_FILES.status), ...root, value: mqtt.passwordOf(STATUS_USER) });
    const cert = this.certs.get(node.name);
    if (cert && this.ca) {
      files.push(
        { name: name(HASS_FILES.ca), ...root, value: this.ca.certPem },
        { name: name(HASS_FILES.cert), ...hass, value: cert.certPem },
        { name: name(HASS_FILES.key), ...hass, value: cert.keyPem },
      );
    }
    return files;
  }

  guards(): RolloutGuard[] {
    // One instance, no quorum: a restart is a short outage of the UI, automations resume after it.
    return [];
  }

  bootstrap(nodes: ReadonlyMap<string, NodeHandle>): void {
    const child = { parent: this };
    let outputs: HomeAssistantOutputs | undefined;
    for (const handle of nodes.values()) {
      const s = settingsOf(this.args, handle.spec);
      if (!s.enable) continue;
      const http = s.http!;
      const scheme = http.tls ? "https" : "http";
      // The steps talk to HA on loopback: the certificate names 127.0.0.1.
      const local = `${scheme}://127.0.0.1:${http.port}`;
      const broker = s.mqtt!;
      // A new MQTT or owner password re-runs the step (which replaces the entry); a digest, never the value.
      const fingerprint = pulumi
        .all([this.args.mqtt.passwordOf(broker.user), this.ownerPassword])
        .apply(([mqttPassword, owner]) => createHash("sha256").update(`hass\n${broker.user}\n${mqttPassword}\n${owner}`).digest("hex"));
      const mqttGate = this.args.mqtt.gates.get(handle.spec.name);
      const configure = remoteStep(
        `${handle.spec.name}-hass-mqtt`,
        {
          node: handle,
          script: "services/hass-mqtt.sh",
          args: [local, broker.broker, String(broker.port), broker.user, OWNER_USER],
          triggers: [pulumi.secret(fingerprint)],
          dependsOn: mqttGate ? [mqttGate] : [],
        },
        child,
      );
      remoteStep(`${handle.spec.name}-hass-gate`, { node: handle, script: "services/hass-gate.sh", args: [local, OWNER_USER], triggers: [pulumi.secret(fingerprint)], dependsOn: [configure] }, child);
      outputs = {
        url: `${scheme}://${handle.spec.address}:${http.port}`,
        caCertificate: this.ca?.certPem ?? null,
        owner: { username: OWNER_USER, password: this.ownerPassword },
      };
    }
    this.outputs = outputs;
    this.registerOutputs(outputs ? { ...outputs } : {});
  }
}

const settingsOf = (args: ServiceArgs, node: NodeSpec): HomeAssistantSettings => homeAssistantSettings(serviceContext(args.spec, node));
