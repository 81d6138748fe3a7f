// Per-node service settings in node.json: who runs which role, with which peers.
import { describe, expect, it } from "vitest";
import { validateConfig, type CollectiveSpec } from "../components/config/validate.js";
import { renderServices } from "../components/services/index.js";
import { stackValues, specOf } from "./helpers.js";

const spec = specOf;
const servicesOf = (s: CollectiveSpec, name: string) => renderServices(s, s.nodes.find((n) => n.name === name)!);

describe("service roles per node", () => {
  const prod = spec("prod");

  it("the queen: Ceph mon + mgr, K3s server, Consul server with UI, NATS leaf hub, MQTT broker", () => {
    const q = servicesOf(prod, "queen");
    expect(q.ceph).toMatchObject({ enable: true, monitor: true, manager: true, osdDevice: null });
    expect(q.k3s).toMatchObject({ enable: true, role: "server", serverAddr: null, version: "v1.36.3+k3s1" });
    expect(q.consul).toMatchObject({ enable: true, server: true, bootstrapExpect: 3, ui: true, retryJoin: ["10.42.0.11", "10.42.0.12"] });
    expect(q.consul.acl).toMatchObject({ enabled: true, defaultPolicy: "deny" });
    expect(q.nats).toMatchObject({ jetstream: true, leafnodeHub: true, tls: true, authorization: { required: true } });
    expect(q.nats.routes).toEqual(["nats-route://10.42.0.11:6222", "nats-route://10.42.0.12:6222", "nats-route://10.42.0.13:6222"]);
    expect(q.mqtt.listeners).toEqual([
      { name: "lan", port: 8883, address: "0.0.0.0", allowAnonymous: false, tls: true, clientCertificates: false },
      { name: "local", port: 1883, address: "127.0.0.1", allowAnonymous: false, tls: false, clientCertificates: false },
      { name: "bridge", port: 8884, address: "0.0.0.0", allowAnonymous: false, tls: true, clientCertificates: true },
    ]);
    expect(q.mqtt.bridgeUsers).toEqual([{ name: "bridge-edge-pi", acl: ["readwrite homeassistant/#", "readwrite borg/#"] }]);
  });

  it("a drone: OSD on its extra disk, K3s agent joining the queen, capabilities as labels, JetStream only if a peer", () => {
    const d3 = servicesOf(prod, "drone-3");
    expect(d3.ceph).toMatchObject({ enable: true, monitor: false, manager: false, osdDevice: "/dev/vdb" });
    expect(d3.k3s).toMatchObject({ role: "agent", serverAddr: "https://10.42.0.10:6443", nodeLabels: ["borg.io/gpu=true", "borg.io/high-memory=true"] });
    expect(d3.consul.server).toBe(false);
    expect(d3.nats.jetstream).toBe(false);
    expect(servicesOf(prod, "drone-2").nats.jetstream).toBe(true);
    expect(d3.mqtt.enable).toBe(false);
  });

  it("the edge Pi: no Ceph or K3s; Consul client, NATS leaf, a local broker bridged to the queen, Home Assistant", () => {
    const pi = servicesOf(prod, "edge-pi");
    expect(pi.ceph.enable).toBe(false);
    expect(pi.k3s).toMatchObject({ enable: false, role: null });
    expect(pi.consul).toMatchObject({ enable: true, server: false });
    expect(pi.nats).toMatchObject({ jetstream: false, routes: [], leafnodeRemotes: ["nats-leaf://10.42.0.10:7422"] });
    expect(pi.mqtt.bridge).toMatchObject({ address: "10.42.0.10", port: 8884, tls: true, clientId: "bridge-edge-pi", topics: ["homeassistant/#", "borg/#"] });
    expect(pi.mqtt.listeners.map((l) => l.name)).toEqual(["lan", "local"]);
    expect(pi.homeAssistant).toMatchObject({ enable: true, timeZone: "Europe/Berlin" });
  });

  it("without TLS (dev) the broker listens in plaintext on the LAN, still with auth", () => {
    const dev = spec("dev");
    expect(servicesOf(dev, "queen").mqtt.listeners.filter((l) => l.name === "lan")).toEqual([
      { name: "lan", port: 1883, address: "0.0.0.0", allowAnonymous: false, tls: false, clientCertificates: false },
    ]);
    expect(servicesOf(dev, "queen").nats.tls).toBe(false);
  });

  it("defaults JetStream to an odd peer set: the last quorum node drops out when the count is even", () => {
    const staging = spec("staging", (c) => c.drones.push({ name: "drone-3", vmId: 1113, address: "10.42.1.13" }));
    expect(staging.services.nats.jetstream.peers).toEqual(["queen", "drone-1", "drone-2"]);
    expect(servicesOf(staging, "drone-3").nats.jetstream).toBe(false);
    expect(spec("staging").services.nats.jetstream.peers).toEqual(["queen", "drone-1", "drone-2"]);
    expect(spec("dev").services.nats.jetstream.peers).toEqual(["queen"]);
  });

  it("references secrets by path only", () => {
    const q = servicesOf(prod, "queen");
    expect(q.k3s.tokenFile).toBe("/var/lib/borg/secrets/k3s-token");
    expect(q.k3s.agentTokenFile).toBe("/var/lib/borg/secrets/k3s-agent-token");
    expect(q.mqtt.users.map((u) => u.hashFile)).toEqual([
      "/var/lib/borg/secrets/mqtt-homeassistant.hash",
      "/var/lib/borg/secrets/mqtt-borg-probe.hash",
      "/var/lib/borg/secrets/mqtt-borg-status.hash",
    ]);
    expect(q.mqtt.tls).toEqual({ caFile: "/var/lib/borg/secrets/mqtt-ca.crt", certFile: "/var/lib/borg/secrets/mqtt-server.crt", keyFile: "/var/lib/borg/secrets/mqtt-server.key" });
    expect(JSON.stringify(q)).not.toMatch(/password"\s*:\s*"[^/]/i);
  });
});

describe("Home Assistant (edge Pi only)", () => {
  it("prod: LAN-only HTTPS on the Pi, the Pi's broker on loopback, the status sensor fed from Consul and NATS", () => {
    const ha = servicesOf(spec("prod"), "edge-pi").homeAssistant;
    expect(ha).toEqual({
      enable: true,
      name: "Borg Collective",
      timeZone: "Europe/Berlin",
      unitSystem: "metric",
      extraComponents: ["default_config", "met", "esphome", "mqtt", "rpi_power"],
      location: false,
      http: {
        port: 8123,
        serverHosts: ["127.0.0.1", "10.42.0.50"],
        tls: { certFile: "/var/lib/borg/secrets/hass-tls.crt", keyFile: "/var/lib/borg/secrets/hass-tls.key" },
        useXForwardedFor: false,
        trustedProxies: [],
        ipBan: { enabled: true, loginAttemptsThreshold: 10 },
      },
      secretsFile: "/var/lib/borg/secrets/hass-secrets.yaml",
      mqtt: { broker: "127.0.0.1", port: 1883, user: "homeassistant" },
      collectiveStatus: {
        topic: "borg/collective/status",
        intervalSeconds: 60,
        expireAfterSeconds: 180,
        mqttPort: 1883,
        mqttUser: "borg-status",
        passwordFile: "/var/lib/borg/secrets/mqtt-borg-status.password",
        consul: { url: "https://127.0.0.1:8501", caFile: "/var/lib/borg/secrets/consul-ca.pem", servers: 3 },
        nats: { monitorUrl: "http://127.0.0.1:8222" },
      },
    });
    for (const node of ["queen", "drone-1"]) expect(servicesOf(spec("prod"), node).homeAssistant.enable, node).toBe(false);
  });

  it("follows the stack: plain HTTP without TLS, the location flag, integrations de-duplicated, no status without Consul and NATS", () => {
    const plain = servicesOf(spec("staging", (c) => (c.security.tls = false)), "edge-pi").homeAssistant;
    expect(plain.http!.tls).toBeNull();
    expect(plain.collectiveStatus!.consul).toEqual({ url: "http://127.0.0.1:8500", caFile: null, servers: 1 });
    const located = servicesOf(spec("prod", (c) => (c.services.homeAssistant.location = { latitude: 52.5, longitude: 13.4 })), "edge-pi").homeAssistant;
    expect(located.location).toBe(true);
    expect(JSON.stringify(located)).not.toContain("52.5");
    const listed = servicesOf(spec("prod", (c) => (c.services.homeAssistant.extraComponents = ["zha", "mqtt"])), "edge-pi").homeAssistant;
    expect(listed.extraComponents).toEqual(["zha", "mqtt", "rpi_power"]);
    const alone = servicesOf(spec("prod", (c) => Object.assign(c.services, { consul: { enabled: false }, nats: { enabled: false } })), "edge-pi").homeAssistant;
    expect(alone.collectiveStatus).toBeNull();
    const off = servicesOf(spec("prod", (c) => (c.services.homeAssistant.enabled = false)), "edge-pi");
    expect(off.homeAssistant).toMatchObject({ enable: false, http: null, mqtt: null });
    expect(off.mqtt.users.map((u) => u.name)).toEqual(["homeassistant", "borg-probe"]);
  });
});
