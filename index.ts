// borg-collective: stack config → one validated spec → the Collective → exports.
import * as pulumi from "@pulumi/pulumi";
import { Collective } from "./components/collective.js";
import { loadSpec, requireSecret } from "./components/config/load.js";
import { Ceph } from "./components/services/ceph.js";
import { Consul } from "./components/services/consul.js";
import { HomeAssistant } from "./components/services/homeAssistant.js";
import { K3s } from "./components/services/k3s.js";
import { Mqtt } from "./components/services/mqtt.js";
import { Nats } from "./components/services/natsService.js";

// Validation runs before the first resource: an invalid stack registers nothing.
const spec = loadSpec();

const collective = new Collective("borg", {
  spec,
  stack: pulumi.getStack(),
  sshPrivateKey: requireSecret("sshPrivateKey"),
  ...(spec.nodes.some((n) => n.platform === "proxmox-vm") ? { proxmoxApiToken: requireSecret("proxmoxApiToken") } : {}),
  // The bundles CopyToRemote ships are written here (synth points it at its --out directory).
  bundleRoot: process.env.BORG_BUNDLE_ROOT ?? ".borg",
});

export const securityLevel = spec.security.level;
export const nodes = collective.summary();
export const queenAddress = spec.nodes.find((n) => n.role === "queen")!.address;
export const knownHosts = collective.knownHosts;

// K3s (when enabled): the admin kubeconfig (secret: `pulumi stack output --show-secrets kubeconfig`)
// and the API URL it points at.
const k3s = collective.services.find((s): s is K3s => s instanceof K3s);
export const kubeconfig = k3s?.kubeconfig;
export const k3sApiUrl = k3s?.apiUrl;

// MQTT brokers: URLs, the CA certificate and the users' passwords (secret).
const mqttService = collective.services.find((s): s is Mqtt => s instanceof Mqtt);
export const mqtt = mqttService?.outputs;

// Service endpoints (secrets stay secret outputs: `pulumi stack output --show-secrets <name>`).
const consulService = collective.services.find((s): s is Consul => s instanceof Consul);
/** The Consul API/UI address, datacenter, CA certificate and management token (secret). */
export const consul = consulService?.outputs;

// NATS: client, leaf and monitoring endpoints with the CA; every user's password (secret).
const nats = collective.services.find((s): s is Nats => s instanceof Nats);
export const natsEndpoints = nats?.endpoints;
export const natsCredentials = nats?.credentials;

// Home Assistant on the edge Pi: its URL, the CA its certificate chains to (null in dev) and the
// generated owner account (secret: `pulumi stack output homeAssistant --show-secrets`).
const homeAssistantService = collective.services.find((s): s is HomeAssistant => s instanceof HomeAssistant);
// null (not undefined) without a Pi: an undefined export draws a warning from the engine.
export const homeAssistant = homeAssistantService?.outputs ?? null;

// What Ceph CSI needs (README "Ceph"): clusterID = fsid, msgr1 monitor addresses, the RBD pool and
// its client (`userId` without "client."); the key is a secret output.
const cephService = collective.services.find((s): s is Ceph => s instanceof Ceph);
export const ceph = cephService?.exports ?? null;
