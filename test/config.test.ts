// The config schema: committed stacks are valid; each invalid config is reported by config path,
// all problems at once. Pure validation, no Pulumi.
import { describe, expect, it } from "vitest";
import { cidrsOverlap, parseCidr, parseIpv4 } from "../components/config/ipv4.js";
import { rawBorgConfig } from "../components/config/load.js";
import { configPath, validateConfig } from "../components/config/validate.js";
import { rolloutPredecessors } from "../components/rollout.js";
import { STACKS, stackValues } from "./helpers.js";

const SECRETS = { sshPrivateKey: "<set>", proxmoxApiToken: "<set>" };
const valid = (stack: string): Record<string, any> => ({ ...stackValues(stack), ...SECRETS });
const problemsOf = (raw: Record<string, unknown>) => {
  const result = validateConfig(raw);
  return result.ok ? [] : result.problems;
};

describe("committed stacks", () => {
  it.each(STACKS)("%s is valid", (stack) => {
    const result = validateConfig(valid(stack));
    expect(result.ok ? [] : result.problems).toEqual([]);
  });

  it("prod resolves the named monitors, TLS on and one rollout lane", () => {
    const result = validateConfig(valid("prod"));
    if (!result.ok) throw new Error(result.problems.join("\n"));
    expect(result.spec.services.ceph.monitors).toEqual(["queen", "drone-1", "drone-2"]);
    expect(result.spec.security).toEqual({ level: "prod", tls: true });
    expect(result.spec.rollout.maxParallel).toBe(1);
    expect(result.spec.nodes.map((n) => `${n.role}:${n.name}:${n.platform}`)).toEqual([
      "queen:queen:proxmox-vm",
      "drone:drone-1:proxmox-vm",
      "drone:drone-2:proxmox-vm",
      "drone:drone-3:proxmox-vm",
      "edge:edge-pi:raspberry-pi-4",
    ]);
  });

  it("dev gets documented defaults: K3s CIDRs that avoid the node network, queen as the only monitor, TLS off", () => {
    const result = validateConfig(valid("dev"));
    if (!result.ok) throw new Error(result.problems.join("\n"));
    expect(result.spec.services.k3s.podCidr).toBe("10.244.0.0/16");
    expect(result.spec.services.k3s.serviceCidr).toBe("10.96.0.0/16");
    expect(result.spec.services.ceph.monitors).toEqual(["queen"]);
    expect(result.spec.services.mqtt.allowAnonymous).toBe(false);
    expect(result.spec.security.tls).toBe(false);
  });
});

type Mutation = (c: Record<string, any>) => void;
/** [what, base stack, mutation, expected line prefix `borg:path: …` (substring)] */
const INVALID: Array<[string, string, Mutation, string]> = [
  ["drone outside the network", "dev", (c) => (c.drones[0].address = "10.43.0.9"), "borg:drones[0].address: 10.43.0.9 is outside borg:network.cidr 10.42.2.0/24"],
  ["queen outside the network", "prod", (c) => (c.queen.address = "192.168.1.10"), "borg:queen.address: 192.168.1.10 is outside borg:network.cidr 10.42.0.0/24"],
  ["Pi outside the network", "prod", (c) => (c.edgePi.address = "10.42.1.50"), "borg:edgePi.address: 10.42.1.50 is outside"],
  ["duplicate address", "prod", (c) => (c.drones[2].address = "10.42.0.11"), "borg:drones[2].address: 10.42.0.11 is already used by borg:drones[0].address"],
  ["address is the gateway", "dev", (c) => (c.drones[0].address = "10.42.2.1"), "borg:drones[0].address: 10.42.2.1 is borg:network.gateway"],
  ["address is the broadcast address", "dev", (c) => (c.queen.address = "10.42.2.255"), "borg:queen.address: 10.42.2.255 is the network or broadcast address"],
  ["malformed address", "dev", (c) => (c.queen.address = "10.42.2.300"), "borg:queen.address: must be an IPv4 address"],
  ["gateway outside the network", "dev", (c) => (c.network.gateway = "10.0.0.1"), "borg:network.gateway: 10.0.0.1 is outside borg:network.cidr 10.42.2.0/24"],
  ["CIDR with host bits", "dev", (c) => (c.network.cidr = "10.42.2.5/24"), "borg:network.cidr: must be an IPv4 network in CIDR form"],
  ["no DNS server", "dev", (c) => (c.network.dns = []), "borg:network.dns: needs at least one DNS server"],
  ["VLAN out of range", "dev", (c) => (c.network.vlanId = 5000), "borg:network.vlanId:"],
  ["duplicate node name", "prod", (c) => (c.drones[1].name = "drone-1"), "borg:drones[1].name: 'drone-1' is already the name of borg:drones[0]"],
  ["Pi named like the queen", "prod", (c) => (c.edgePi.name = "queen"), "borg:edgePi.name: 'queen' is already the name of borg:queen"],
  ["bad host name", "dev", (c) => (c.drones[0].name = "Drone_1"), "borg:drones[0].name: must be a lowercase hostname label"],
  ["duplicate vmId", "prod", (c) => (c.drones[1].vmId = 111), "borg:drones[1].vmId: 111 is already the vmId of borg:drones[0]"],
  ["vmId of the template", "dev", (c) => (c.queen.vmId = 9000), "borg:queen.vmId: 9000 is borg:proxmox.templateVmId"],
  ["Proxmox VM without vmId", "dev", (c) => delete c.drones[0].vmId, "borg:drones[0].vmId: is required for a Proxmox VM"],
  ["existing host without host key", "dev", (c) => (c.drones[0] = { name: "drone-1", kind: "existing", address: "10.42.2.11" }), "borg:drones[0].hostKey: is required for an existing host"],
  ["pod CIDR overlaps the node network", "dev", (c) => (c.services.k3s.podCidr = "10.42.0.0/16"), "borg:services.k3s.podCidr: 10.42.0.0/16 overlaps borg:network.cidr 10.42.2.0/24"],
  ["service CIDR overlaps the pod CIDR", "dev", (c) => (c.services.k3s.serviceCidr = "10.244.128.0/17"), "borg:services.k3s.serviceCidr: 10.244.128.0/17 overlaps borg:services.k3s.podCidr 10.244.0.0/16"],
  ["even number of monitors", "prod", (c) => (c.services.ceph.monitors = ["queen", "drone-1"]), "borg:services.ceph.monitors: has 2 monitors; Ceph needs an odd number"],
  ["monitor that is not a node", "prod", (c) => (c.services.ceph.monitors = ["queen", "drone-1", "drone-9"]), "borg:services.ceph.monitors[2]: 'drone-9' is not the queen or a drone"],
  ["monitor on the edge Pi", "prod", (c) => (c.services.ceph.monitors = ["queen", "drone-1", "edge-pi"]), "borg:services.ceph.monitors[2]: 'edge-pi' is not the queen or a drone"],
  ["even number of JetStream peers", "prod", (c) => (c.services.nats.jetstream.peers = ["queen", "drone-1"]), "borg:services.nats.jetstream.peers: has 2 peers; JetStream needs an odd number"],
  ["JetStream peer on the edge Pi", "prod", (c) => (c.services.nats.jetstream.peers = ["queen", "drone-1", "edge-pi"]), "borg:services.nats.jetstream.peers[2]: 'edge-pi' is not the queen or a drone"],
  ["Consul server listed twice", "prod", (c) => (c.services.consul.servers = ["queen", "queen", "drone-1"]), "borg:services.consul.servers[1]: 'queen' is listed twice"],
  ["prod without TLS", "prod", (c) => (c.security.tls = false), "borg:security.tls: must be true at security level prod"],
  ["prod Pi without pinned host key", "prod", (c) => delete c.edgePi.hostKey, "borg:edgePi.hostKey: is required at security level prod"],
  ["unknown security level", "dev", (c) => (c.security.level = "production"), "borg:security.level:"],
  ["typo in a key", "dev", (c) => (c.queen.memoryMB = 4096), "borg:queen.memoryMB: unknown key"],
  ["unknown top-level key", "dev", (c) => (c.drone = []), "borg:drone: unknown config key"],
  ["wrong type", "dev", (c) => (c.queen.cores = "four"), "borg:queen.cores:"],
  ["too little memory", "dev", (c) => (c.queen.memoryMb = 256), "borg:queen.memoryMb:"],
  ["no drones", "dev", (c) => (c.drones = []), "borg:drones: needs at least one drone"],
  ["missing network", "dev", (c) => delete c.network, "borg:network: is required"],
  ["root deploy user", "dev", (c) => (c.ssh.user = "root"), "borg:ssh.user: must not be root"],
  ["root on the Pi", "prod", (c) => (c.edgePi.user = "root"), "borg:edgePi.user: must not be root"],
  ["malformed operator key", "dev", (c) => (c.ssh.authorizedKeys = ["ssh-ed25519"]), "borg:ssh.authorizedKeys[0]: must be one OpenSSH public key line"],
  ["malformed Pi host key", "prod", (c) => (c.edgePi.hostKey = "AAAAC3Nz"), "borg:edgePi.hostKey: must be a host public key"],
  ["unpinned K3s version", "dev", (c) => (c.services.k3s.version = "latest"), "borg:services.k3s.version: must be a pinned K3s release"],
  ["capability that is no label value", "prod", (c) => (c.drones[2].capabilities = ["GPU!"]), "borg:drones[2].capabilities[0]: must be a Kubernetes label value"],
  ["Proxmox VMs without borg:proxmox", "dev", (c) => delete c.proxmox, "borg:proxmox: is required because borg:queen is a Proxmox VM"],
  ["missing SSH key secret", "dev", (c) => delete c.sshPrivateKey, "borg:sshPrivateKey: is not set; run: pulumi config set --secret borg:sshPrivateKey"],
  ["missing Proxmox token", "dev", (c) => delete c.proxmoxApiToken, "borg:proxmoxApiToken: is not set"],
  ["pool size above the OSD hosts", "dev", (c) => (c.services.ceph.osdPoolSize = 3), "borg:services.ceph.osdPoolSize: is 3 but only 1 drone(s) carry an OSD disk"],
  ["bad MQTT ACL line", "dev", (c) => (c.services.mqtt = { users: [{ name: "sensor", acl: ["publish #"] }] }), "borg:services.mqtt.users[0].acl[0]:"],
  ["confirm timeout too short", "dev", (c) => (c.rollout.confirmTimeoutSeconds = 5), "borg:rollout.confirmTimeoutSeconds:"],
  ["maxParallel zero", "prod", (c) => (c.rollout.maxParallel = 0), "borg:rollout.maxParallel:"],
  ["insecure Proxmox endpoint URL", "dev", (c) => (c.proxmox.endpoint = "pve1:8006"), "borg:proxmox.endpoint: must be the Proxmox API URL"],
];

describe("invalid configs name their config path", () => {
  it(`covers at least 25 cases (${INVALID.length})`, () => expect(INVALID.length).toBeGreaterThanOrEqual(25));

  it.each(INVALID)("%s", (_what, stack, mutate, expected) => {
    const config = valid(stack);
    mutate(config);
    const problems = problemsOf(config);
    expect(problems.some((p) => p.includes(expected)), `expected a line containing\n  ${expected}\ngot:\n  ${problems.join("\n  ")}`).toBe(true);
    for (const line of problems) expect(line).toMatch(/^borg:[A-Za-z]+[^ ]*: /);
  });

  it("reports every problem at once, one line each, across sections", () => {
    const config = valid("prod");
    config.drones[0].address = "10.43.0.9";
    config.queen.cores = "many";
    config.services.ceph.monitors = ["queen", "drone-1"];
    config.security.tls = false;
    const problems = problemsOf(config);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^borg:drones\[0\]\.address: 10\.43\.0\.9 is outside/),
        expect.stringMatching(/^borg:queen\.cores: /),
        expect.stringMatching(/^borg:services\.ceph\.monitors: has 2 monitors/),
        expect.stringMatching(/^borg:security\.tls: must be true/),
      ]),
    );
    expect(problems).toHaveLength(4);
  });

  it("never echoes a secret value, even when the rest of the stack is broken", () => {
    const secret = "-----BEGIN OPENSSH PRIVATE KEY----- canary-1f4e";
    const all = Object.fromEntries(Object.entries(valid("dev")).map(([k, v]) => [`borg:${k}`, JSON.stringify(v)]));
    all["borg:sshPrivateKey"] = secret;
    all["borg:proxmoxApiToken"] = `pulumi@pve!borg=${secret}`;
    all["borg:network"] = secret; // a secret pasted into the wrong key is not secret: it is reported
    all["borg:queen"] = JSON.stringify({ address: "nope" });
    const problems = problemsOf(rawBorgConfig(all));
    expect(problems.length).toBeGreaterThan(1);
    expect(problems.filter((p) => p.includes("canary-1f4e"))).toEqual([]);
    expect(rawBorgConfig(all).sshPrivateKey).toBe("<set>");
  });
});

describe("pure helpers", () => {
  it("formats config paths", () => {
    expect(configPath(["drones", 1, "address"])).toBe("borg:drones[1].address");
    expect(configPath(["services", "ceph", "monitors", 0])).toBe("borg:services.ceph.monitors[0]");
  });

  it("does IPv4 arithmetic", () => {
    expect(parseIpv4("10.42.0.1")).toBe(0x0a2a0001);
    expect(parseIpv4("010.1.1.1")).toBeUndefined();
    expect(parseCidr("10.42.0.0/24")).toEqual({ network: 0x0a2a0000, prefixLength: 24, size: 256 });
    expect(cidrsOverlap(parseCidr("10.42.0.0/24")!, parseCidr("10.42.0.0/16")!)).toBe(true);
    expect(cidrsOverlap(parseCidr("10.42.0.0/24")!, parseCidr("10.42.1.0/24")!)).toBe(false);
  });

  it("deals quorum nodes into rollout lanes", () => {
    const result = validateConfig(valid("prod"));
    if (!result.ok) throw new Error("prod invalid");
    expect(Object.fromEntries(rolloutPredecessors(result.spec.nodes, 2))).toEqual({ "drone-2": "queen", "drone-3": "drone-1" });
    expect(rolloutPredecessors(result.spec.nodes, undefined).size).toBe(0);
  });
});
