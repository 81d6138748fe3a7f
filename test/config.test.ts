// The config schema: committed stacks are valid; each invalid config is reported by config path,
// all problems at once. Pure validation, no Pulumi.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { PROJECT_ROOT } from "../components/bundle.js";
import { cidrsOverlap, parseCidr, parseIpv4 } from "../components/config/ipv4.js";
import { z } from "zod";
import { describeValue, explainIssue, PARSE_OPTIONS, schemaAt } from "../components/config/issues.js";
import { checkConfig, rawBorgConfig } from "../components/config/load.js";
import { checkNamespaces, looksLikeBorg, PROJECT_NAMESPACE } from "../components/config/namespaces.js";
import { hostKeyProblem, SECRET_KEYS, SECTION_SCHEMAS } from "../components/config/schema.js";
import { closest } from "../components/config/suggest.js";
import { configPath, validateConfig } from "../components/config/validate.js";
import { rolloutPredecessors } from "../components/rollout.js";
import { synthMain } from "../scripts/lib/synthCli.js";
import { runCli, STACKS, stackFile, stackValues, tempDir } from "./helpers.js";

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
/** [what, base stack, mutation, the exact problem line `borg:path: …` it must produce] */
const INVALID: Array<[string, string, Mutation, string]> = [
  ["drone outside the network", "dev", (c) => (c.drones[0].address = "10.43.0.9"), "borg:drones[0].address: 10.43.0.9 is outside borg:network.cidr 10.42.2.0/24"],
  ["queen outside the network", "prod", (c) => (c.queen.address = "192.168.1.10"), "borg:queen.address: 192.168.1.10 is outside borg:network.cidr 10.42.0.0/24"],
  ["Pi outside the network", "prod", (c) => (c.edgePi.address = "10.42.1.50"), "borg:edgePi.address: 10.42.1.50 is outside borg:network.cidr 10.42.0.0/24"],
  ["duplicate address", "prod", (c) => (c.drones[2].address = "10.42.0.11"), "borg:drones[2].address: 10.42.0.11 is already used by borg:drones[0].address"],
  ["address is the gateway", "dev", (c) => (c.drones[0].address = "10.42.2.1"), "borg:drones[0].address: 10.42.2.1 is borg:network.gateway"],
  ["address is the broadcast address", "dev", (c) => (c.queen.address = "10.42.2.255"), "borg:queen.address: 10.42.2.255 is the network or broadcast address of 10.42.2.0/24"],
  ["malformed address", "dev", (c) => (c.queen.address = "10.42.2.300"), 'borg:queen.address: must be an IPv4 address such as 10.42.0.10, got "10.42.2.300"'],
  ["gateway outside the network", "dev", (c) => (c.network.gateway = "10.0.0.1"), "borg:network.gateway: 10.0.0.1 is outside borg:network.cidr 10.42.2.0/24"],
  ["CIDR with host bits", "dev", (c) => (c.network.cidr = "10.42.2.5/24"), 'borg:network.cidr: must be an IPv4 network in CIDR form with host bits zero, such as 10.42.0.0/24, got "10.42.2.5/24"'],
  ["no DNS server", "dev", (c) => (c.network.dns = []), "borg:network.dns: needs at least one DNS server, got an empty list"],
  ["VLAN out of range", "dev", (c) => (c.network.vlanId = 5000), "borg:network.vlanId: must be at most 4094, got 5000"],
  ["duplicate node name", "prod", (c) => (c.drones[1].name = "drone-1"), "borg:drones[1].name: 'drone-1' is already the name of borg:drones[0]"],
  ["Pi named like the queen", "prod", (c) => (c.edgePi.name = "queen"), "borg:edgePi.name: 'queen' is already the name of borg:queen"],
  ["bad host name", "dev", (c) => (c.drones[0].name = "Drone_1"), `borg:drones[0].name: must be a lowercase hostname label: a-z, 0-9 and '-', 1-32 characters, starting with a letter, got "Drone_1"`],
  ["duplicate vmId", "prod", (c) => (c.drones[1].vmId = 111), "borg:drones[1].vmId: 111 is already the vmId of borg:drones[0]"],
  ["vmId of the template", "dev", (c) => (c.queen.vmId = 9000), "borg:queen.vmId: 9000 is borg:proxmox.templateVmId; a clone needs its own id"],
  ["Proxmox VM without vmId", "dev", (c) => delete c.drones[0].vmId, "borg:drones[0].vmId: is required for a Proxmox VM (kind: proxmox)"],
  ["existing host without host key", "dev", (c) => (c.drones[0] = { name: "drone-1", kind: "existing", address: "10.42.2.11" }), "borg:drones[0].hostKey: is required for an existing host: pin its SSH host key: ssh-keyscan -t ed25519 10.42.2.11 | cut -d' ' -f2-"],
  ["pod CIDR overlaps the node network", "dev", (c) => (c.services.k3s.podCidr = "10.42.0.0/16"), "borg:services.k3s.podCidr: 10.42.0.0/16 overlaps borg:network.cidr 10.42.2.0/24"],
  ["service CIDR overlaps the pod CIDR", "dev", (c) => (c.services.k3s.serviceCidr = "10.244.128.0/17"), "borg:services.k3s.serviceCidr: 10.244.128.0/17 overlaps borg:services.k3s.podCidr 10.244.0.0/16"],
  ["even number of monitors", "prod", (c) => (c.services.ceph.monitors = ["queen", "drone-1"]), "borg:services.ceph.monitors: has 2 monitors; Ceph needs an odd number (1, 3, 5) to keep quorum"],
  ["monitor that is not a node", "prod", (c) => (c.services.ceph.monitors = ["queen", "drone-1", "drone-9"]), "borg:services.ceph.monitors[2]: 'drone-9' is not the queen or a drone; a Ceph monitor must run on one of: queen, drone-1, drone-2, drone-3"],
  ["monitor on the edge Pi", "prod", (c) => (c.services.ceph.monitors = ["queen", "drone-1", "edge-pi"]), "borg:services.ceph.monitors[2]: 'edge-pi' is not the queen or a drone; a Ceph monitor must run on one of: queen, drone-1, drone-2, drone-3"],
  ["even number of JetStream peers", "prod", (c) => (c.services.nats.jetstream.peers = ["queen", "drone-1"]), "borg:services.nats.jetstream.peers: has 2 peers; JetStream needs an odd number (1, 3, 5) to keep quorum"],
  ["JetStream peer on the edge Pi", "prod", (c) => (c.services.nats.jetstream.peers = ["queen", "drone-1", "edge-pi"]), "borg:services.nats.jetstream.peers[2]: 'edge-pi' is not the queen or a drone; a JetStream peer must run on one of: queen, drone-1, drone-2, drone-3"],
  ["even number of Consul servers", "prod", (c) => (c.services.consul.servers = ["queen", "drone-1"]), "borg:services.consul.servers: has 2 servers; Consul needs an odd number (1, 3, 5) to keep quorum"],
  ["Consul server listed twice", "prod", (c) => (c.services.consul.servers = ["queen", "queen", "drone-1"]), "borg:services.consul.servers[1]: 'queen' is listed twice"],
  ["prod without TLS", "prod", (c) => (c.security.tls = false), "borg:security.tls: must be true at security level prod"],
  ["prod Pi without pinned host key", "prod", (c) => delete c.edgePi.hostKey, "borg:edgePi.hostKey: is required: pin the Pi's SSH host key: ssh-keyscan -t ed25519 10.42.0.50 | cut -d' ' -f2-"],
  ["unknown security level", "dev", (c) => (c.security.level = "production"), 'borg:security.level: expected one of dev, staging, prod, got "production"'],
  ["typo in a key", "dev", (c) => (c.queen.memoryMB = 4096), "borg:queen.memoryMB: unknown key; did you mean borg:queen.memoryMb?"],
  ["unknown top-level key", "dev", (c) => (c.drone = []), "borg:drone: unknown key; did you mean borg:drones?"],
  ["wrong type", "dev", (c) => (c.queen.cores = "four"), 'borg:queen.cores: expected a whole number, got "four"'],
  ["too little memory", "dev", (c) => (c.queen.memoryMb = 256), "borg:queen.memoryMb: must be at least 1024, got 256"],
  ["no drones", "dev", (c) => (c.drones = []), "borg:drones: needs at least one drone, got an empty list"],
  ["missing network", "dev", (c) => delete c.network, "borg:network: is required"],
  ["root deploy user", "dev", (c) => (c.ssh.user = "root"), 'borg:ssh.user: must not be root: nodes refuse root logins; use a deploy user with sudo, got "root"'],
  ["root on the Pi", "prod", (c) => (c.edgePi.user = "root"), 'borg:edgePi.user: must not be root: nodes refuse root logins; use a deploy user with sudo, got "root"'],
  ["malformed operator key", "dev", (c) => (c.ssh.authorizedKeys = ["ssh-ed25519"]), `borg:ssh.authorizedKeys[0]: must be one OpenSSH public key line: '<type> <base64> [comment]', got "ssh-ed25519"`],
  ["malformed Pi host key", "prod", (c) => (c.edgePi.hostKey = "AAAAC3Nz"), `borg:edgePi.hostKey: must be a host public key '<type> <base64>' such as 'ssh-ed25519 AAAAC3Nz…' (types: ssh-ed25519, ecdsa-sha2-nistp256, ecdsa-sha2-nistp384, ecdsa-sha2-nistp521, ssh-rsa), got "AAAAC3Nz"`],
  ["unpinned K3s version", "dev", (c) => (c.services.k3s.version = "latest"), 'borg:services.k3s.version: must be a pinned K3s release such as v1.36.3+k3s1, got "latest"'],
  ["capability that is no label value", "prod", (c) => (c.drones[2].capabilities = ["GPU!"]), `borg:drones[2].capabilities[0]: must be a Kubernetes label value: lowercase a-z, 0-9, '.', '-', got "GPU!"`],
  ["Proxmox VMs without borg:proxmox", "dev", (c) => delete c.proxmox, "borg:proxmox: is required because borg:queen is a Proxmox VM (kind: proxmox)"],
  ["missing SSH key secret", "dev", (c) => delete c.sshPrivateKey, "borg:sshPrivateKey: is not set; run: pulumi config set --secret borg:sshPrivateKey < ~/.ssh/id_ed25519"],
  ["missing Proxmox token", "dev", (c) => delete c.proxmoxApiToken, "borg:proxmoxApiToken: is not set; run: pulumi config set --secret borg:proxmoxApiToken 'user@pve!token=uuid'"],
  ["pool size above the OSD hosts", "dev", (c) => (c.services.ceph.osdPoolSize = 3), "borg:services.ceph.osdPoolSize: is 3 but only 1 drone(s) carry an OSD disk"],
  ["bad MQTT ACL line", "dev", (c) => (c.services.mqtt = { users: [{ name: "sensor", acl: ["publish #"] }] }), `borg:services.mqtt.users[0].acl[0]: must be '<read|write|readwrite|deny> <topic>', got "publish #"`],
  ["confirm timeout too short", "dev", (c) => (c.rollout.confirmTimeoutSeconds = 5), "borg:rollout.confirmTimeoutSeconds: must be at least 30, got 5"],
  ["maxParallel zero", "prod", (c) => (c.rollout.maxParallel = 0), "borg:rollout.maxParallel: must be at least 1, got 0"],
  ["MQTT user taking a generated name", "dev", (c) => (c.services.mqtt = { users: [{ name: "borg-probe", acl: ["read $SYS/#"] }] }), "borg:services.mqtt.users[0].name: 'borg-probe' is reserved for a user the collective generates itself (borg-probe, borg-status)"],
  ["Home Assistant's MQTT user missing", "prod", (c) => (c.services.homeAssistant.mqttUser = "hass"), "borg:services.homeAssistant.mqttUser: 'hass' is not a user of borg:services.mqtt.users (homeassistant); add it there with the topics Home Assistant needs"],
  ["Home Assistant's user cannot read the status topic", "prod", (c) => (c.services.mqtt = { users: [{ name: "homeassistant", acl: ["readwrite homeassistant/#"] }] }), "borg:services.homeAssistant.mqttUser: 'homeassistant' cannot read borg/collective/status (the collective-status sensor): add 'read borg/collective/#' to borg:services.mqtt.users[0].acl"],
  ["Home Assistant without MQTT", "prod", (c) => (c.services.mqtt = { enabled: false }), "borg:services.homeAssistant.enabled: Home Assistant connects to the edge Pi's MQTT broker: enable borg:services.mqtt, or set this to false"],
  ["Home Assistant integration listed twice", "prod", (c) => (c.services.homeAssistant.extraComponents = ["met", "zha", "met"]), "borg:services.homeAssistant.extraComponents[2]: 'met' is listed twice"],
  ["a location off the globe", "prod", (c) => (c.services.homeAssistant.location = { latitude: 91, longitude: 13.4 }), "borg:services.homeAssistant.location.latitude: must be at most 90, got 91"],
  ["insecure Proxmox endpoint URL", "dev", (c) => (c.proxmox.endpoint = "pve1:8006"), 'borg:proxmox.endpoint: must be the Proxmox API URL such as https://pve.hive.lan:8006/, got "pve1:8006"'],
];

describe("invalid configs name their config path", () => {
  it("the validator rejects a case under every key of the schema, secrets included", () => {
    // What the validator reports for the cases, not what the table expects: a new section, or one
    // whose checks stop firing, fails here until a case shows its bad input is refused.
    const reported = new Set(
      INVALID.flatMap(([, stack, mutate]) => {
        const config = valid(stack);
        mutate(config);
        return problemsOf(config).map((line) => /^borg:([A-Za-z]+)/.exec(line)?.[1]);
      }),
    );
    expect([...Object.keys(SECTION_SCHEMAS), ...SECRET_KEYS].filter((key) => !reported.has(key))).toEqual([]);
  });

  it.each(INVALID)("%s", (_what, stack, mutate, expected) => {
    const config = valid(stack);
    mutate(config);
    const problems = problemsOf(config);
    expect(problems).toContain(expected);
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

/** [what, mutation of dev, the one exact line it must produce]: one row per kind of zod issue. */
const ISSUE_KINDS: Array<[string, Mutation, string]> = [
  // invalid type: the expected type and the value found
  ["a word for a whole number", (c) => (c.queen.cores = "four"), 'borg:queen.cores: expected a whole number, got "four"'],
  ["a fraction for a whole number", (c) => (c.queen.cores = 2.5), "borg:queen.cores: expected a whole number, got 2.5"],
  ["a quoted number", (c) => (c.network.vlanId = "42"), 'borg:network.vlanId: expected a whole number, got "42"'],
  ["a number for an address", (c) => (c.queen.address = 42), "borg:queen.address: expected an IPv4 address such as 10.42.0.10, got 42"],
  ["a string for a list", (c) => (c.network.dns = "10.42.2.1"), 'borg:network.dns: expected a list, got "10.42.2.1"'],
  ["a string for a section", (c) => (c.network = "hello"), 'borg:network: expected a mapping (key: value), got "hello"'],
  ["a list for a section", (c) => (c.rollout = [1]), "borg:rollout: expected a mapping (key: value), got a list of 1"],
  ["a string for a flag", (c) => (c.proxmox.insecure = "yes"), 'borg:proxmox.insecure: expected true or false, got "yes"'],
  ["an empty value (YAML `key:`)", (c) => (c.queen.address = null), "borg:queen.address: expected an IPv4 address such as 10.42.0.10, got an empty value"],
  // "is required" only for an absent key
  ["an absent field", (c) => delete c.queen.address, "borg:queen.address: is required"],
  ["an absent enum", (c) => delete c.security.level, "borg:security.level: is required"],
  ["an absent section", (c) => delete c.security, "borg:security: is required"],
  // enum
  ["an unknown level", (c) => (c.security.level = "production"), 'borg:security.level: expected one of dev, staging, prod, got "production"'],
  ["an unknown node kind", (c) => (c.queen.kind = "vm"), 'borg:queen.kind: expected one of proxmox, existing, got "vm"'],
  // too small / too big
  ["a number below the minimum", (c) => (c.queen.memoryMb = 256), "borg:queen.memoryMb: must be at least 1024, got 256"],
  ["a number above the maximum", (c) => (c.queen.cores = 129), "borg:queen.cores: must be at most 128, got 129"],
  ["a list below its minimum (schema message)", (c) => (c.ssh.authorizedKeys = []), "borg:ssh.authorizedKeys: needs at least one operator public key, got an empty list"],
  ["a list below its minimum (default message)", (c) => (c.services.consul = { servers: [] }), "borg:services.consul.servers: needs at least 1 entry, got an empty list"],
  ["a vmId below 100 (schema message)", (c) => (c.queen.vmId = 99), "borg:queen.vmId: must be a Proxmox VM id >= 100, got 99"],
  // pattern
  ["a string off its pattern", (c) => (c.services.k3s.version = "latest"), 'borg:services.k3s.version: must be a pinned K3s release such as v1.36.3+k3s1, got "latest"'],
  ["a string off a pattern inside a list", (c) => (c.services.homeAssistant = { extraComponents: ["Met"] }), 'borg:services.homeAssistant.extraComponents[0]: must be a Home Assistant integration name such as esphome, got "Met"'],
  // unrecognized keys, with the closest known key
  ["a misspelt field", (c) => (c.queen.memoryMB = 4096), "borg:queen.memoryMB: unknown key; did you mean borg:queen.memoryMb?"],
  ["a misspelt nested field", (c) => (c.services.nats = { jetstream: { maxMemoryStroe: "1G" } }), "borg:services.nats.jetstream.maxMemoryStroe: unknown key; did you mean borg:services.nats.jetstream.maxMemoryStore?"],
  ["a field like no other", (c) => (c.queen.colour = "red"), "borg:queen.colour: unknown key; known keys: name, kind, vmId, address, hostKey, cores, memoryMb, diskGb"],
  ["a misspelt section", (c) => ((c.rollouts = c.rollout), delete c.rollout), "borg:rollouts: unknown key; did you mean borg:rollout?"],
  // custom refinements
  ["a refined string", (c) => (c.network.gateway = "10.42.2"), 'borg:network.gateway: must be an IPv4 address such as 10.42.0.10, got "10.42.2"'],
  ["a refined user", (c) => (c.ssh.user = "root"), 'borg:ssh.user: must not be root: nodes refuse root logins; use a deploy user with sudo, got "root"'],
  ["a host key for a VM", (c) => (c.queen.hostKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHY0mTY1RRuZg/oIjljMJ0MNUBuWZLQT8p0NkowMG2nV"), "borg:queen.hostKey: only applies to kind: existing; a VM gets a generated host key"],
  ["an existing host with a vmId", (c) => (c.drones[0] = { name: "drone-1", kind: "existing", vmId: 2011, address: "10.42.2.11", hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHY0mTY1RRuZg/oIjljMJ0MNUBuWZLQT8p0NkowMG2nV" }), "borg:drones[0].vmId: only applies to kind: proxmox; remove it for an existing host"],
];

describe("every kind of zod issue says what is wrong, with the value", () => {
  it.each(ISSUE_KINDS)("%s", (_what, mutate, expected) => {
    const config = valid("dev");
    mutate(config);
    expect(problemsOf(config)).toEqual([expected]);
  });

  it("a union says which forms it accepts (the formatter, on a union schema)", () => {
    const schema = z.strictObject({ port: z.union([z.string(), z.number()]) });
    const result = schema.safeParse({ port: true }, PARSE_OPTIONS);
    expect(result.success).toBe(false);
    expect(result.error!.issues.flatMap((i) => explainIssue(i, ["x"], schema))).toEqual([{ path: ["x", "port"], message: "expected a string or a number, got true" }]);
    const absent = schema.safeParse({}, PARSE_OPTIONS);
    expect(absent.error!.issues.flatMap((i) => explainIssue(i, ["x"], schema))).toEqual([{ path: ["x", "port"], message: "is required" }]);
  });

  it("a pattern without a schema message falls back to the pattern itself", () => {
    const schema = z.strictObject({ tag: z.string().regex(/^v\d+$/) });
    const result = schema.safeParse({ tag: "x" }, PARSE_OPTIONS);
    expect(result.error!.issues.flatMap((i) => explainIssue(i, [], schema))).toEqual([{ path: ["tag"], message: 'must match /^v\\d+$/, got "x"' }]);
  });

  it("never shows a secret section's value, key material or a token", () => {
    const config = valid("dev");
    config.network = "hunter2";
    expect(problemsOf(config)).toEqual(['borg:network: expected a mapping (key: value), got "hunter2"']);
    const result = validateConfig(config, { secretSections: ["network"] });
    expect(result.ok ? [] : result.problems).toEqual(["borg:network: expected a mapping (key: value), got a secret value (not shown)"]);
    expect(describeValue("-----BEGIN OPENSSH PRIVATE KEY-----")).toBe("a string of 35 characters (not shown)");
    expect(describeValue("pulumi@pve!borg=0c8a4e5e")).toBe("a string of 24 characters (not shown)");
    expect(describeValue("x".repeat(101))).toBe("a string of 101 characters (not shown)");
    expect(describeValue("x".repeat(100))).toBe(JSON.stringify("x".repeat(100)));
  });

  it("suggests only plausible typos", () => {
    expect(closest("netwrok", ["network", "proxmox"])).toBe("network");
    expect(closest("EdgePI", ["queen", "edgePi"])).toBe("edgePi");
    expect(closest("tls", ["dns", "ssh"])).toBeUndefined();
    expect(closest("colour", ["cores", "name"])).toBeUndefined();
  });
});

const ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHY0mTY1RRuZg/oIjljMJ0MNUBuWZLQT8p0NkowMG2nV";
const ECDSA = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBNL//98B/ViC1gOwY3B+L3OSuXP1JAGGO2u/B5pHzC5Y4LQ4Gu0Sx4juIDFU6Hyc5oXQq//0HCsJHbqHIB17C3I=";
const RSA = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDUhuVmHHGIxiomQnWC61X4F9SJ/1dpiGgeQj4DwDeR7fSKA8z+ar5ZTIvlNiS5cypwwpjIILsnnscc/7cy460oHWvT3frDAmoE7gnDOtgi9aBtaGlNGokUncagWrEvm7b1LIsx/L1rTs8oaLe4EuxE7SMp6X6NRDO1U3aGkQWv2w==";

describe("a pinned host key for every host Pulumi does not create, at every level", () => {
  it.each(["dev", "staging", "prod"])("%s: an edge Pi without hostKey is invalid, and the message shows how to get the key", (level) => {
    const config = valid("prod");
    config.security = { level, tls: true };
    delete config.edgePi.hostKey;
    expect(problemsOf(config)).toEqual(["borg:edgePi.hostKey: is required: pin the Pi's SSH host key: ssh-keyscan -t ed25519 10.42.0.50 | cut -d' ' -f2-"]);
  });

  it.each(["dev", "prod"])("%s: an existing queen without hostKey is invalid", (level) => {
    const config = valid("prod");
    config.security = { level, tls: true };
    config.queen = { kind: "existing", address: "10.42.0.10" };
    expect(problemsOf(config)).toEqual(["borg:queen.hostKey: is required for an existing host: pin its SSH host key: ssh-keyscan -t ed25519 10.42.0.10 | cut -d' ' -f2-"]);
  });

  it("accepts ed25519, ECDSA and RSA keys as ssh-keyscan prints them", () => {
    for (const key of [ED25519, ECDSA, RSA, valid("prod").edgePi.hostKey, valid("staging").edgePi.hostKey]) expect(hostKeyProblem(key), key).toBeUndefined();
  });

  it.each([
    ["the host name left in", `10.42.0.50 ${ED25519}`, "starts with a host name: keep only '<type> <base64>' (what `ssh-keyscan … | cut -d' ' -f2-` prints)"],
    ["a comment", `${ED25519} root@pi`, "ends with a comment: keep only '<type> <base64>'"],
    ["a fingerprint", "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s", "must be a host public key '<type> <base64>' such as 'ssh-ed25519 AAAAC3Nz…' (types: ssh-ed25519, ecdsa-sha2-nistp256, ecdsa-sha2-nistp384, ecdsa-sha2-nistp521, ssh-rsa)"],
    ["an unknown type", "ssh-dss AAAAB3NzaC1kc3M=", "must be a host public key '<type> <base64>' such as 'ssh-ed25519 AAAAC3Nz…' (types: ssh-ed25519, ecdsa-sha2-nistp256, ecdsa-sha2-nistp384, ecdsa-sha2-nistp521, ssh-rsa)"],
    ["a truncated paste", ED25519.slice(0, -8), "the base64 part is not a complete ssh-ed25519 key (a 32-byte key)"],
    ["a type label that does not match the key", `ssh-rsa ${ED25519.split(" ")[1]}`, "the base64 part is not a ssh-rsa key"],
    ["an ECDSA key of another curve", `ecdsa-sha2-nistp384 ${ECDSA.split(" ")[1]}`, "the base64 part is not a ecdsa-sha2-nistp384 key"],
  ])("rejects %s", (_what, key, expected) => {
    expect(hostKeyProblem(key)).toBe(expected);
    const config = valid("prod");
    config.edgePi.hostKey = key;
    expect(problemsOf(config)).toEqual([`borg:edgePi.hostKey: ${expected}, got ${describeValue(key)}`]);
  });
});

/** A committed stack's every key as Pulumi hands them to the program (JSON strings), plus `extra`. */
const engineConfig = (stack: string, extra: Record<string, string> = {}) => ({
  ...Object.fromEntries(Object.entries(valid(stack)).map(([k, v]) => [`borg:${k}`, typeof v === "string" ? v : JSON.stringify(v)])),
  ...extra,
});
const notSecret = () => false;

describe("keys outside borg:", () => {
  it.each([
    ["a key without a namespace (bare `rollout:` in the stack file)", "borg-collective:rollout", "borg-collective:rollout: unknown key; did you mean borg:rollout? (a key written without a namespace is read as borg-collective:<key>)"],
    ["a doubled letter", "borgg:rollout", "borgg:rollout: unknown key; did you mean borg:rollout?"],
    ["a capital", "Borg:network", "Borg:network: unknown key; did you mean borg:network?"],
    ["an underscore project name", "borg_collective:queen", "borg_collective:queen: unknown key; did you mean borg:queen?"],
    ["swapped letters and a typo in the key", "brog:drone", "brog:drone: unknown key; did you mean borg:drones?"],
    ["a key like no borg key", "borg-collective:flavour", "borg-collective:flavour: unknown key; this program reads only borg:* keys (network, proxmox, ssh, queen, drones, edgePi, services, rollout, security, sshPrivateKey, proxmoxApiToken) (a key written without a namespace is read as borg-collective:<key>)"],
  ])("%s is an error with a did-you-mean hint", (_what, key, expected) => {
    const result = checkConfig(engineConfig("dev", { [key]: JSON.stringify({ maxParallel: 1 }) }), notSecret);
    expect(result.ok ? [] : result.problems).toEqual([expected]);
    expect(result.warnings).toEqual([]);
  });

  it("the providers' own keys are theirs: allowed without a word", () => {
    const providers = {
      "proxmoxve:endpoint": "https://pve1:8006/",
      "command:logging": "none",
      "kubernetes:context": "lab",
      "consul:address": "10.42.2.10:8500",
      "random:x": "1",
      "tls:y": "2",
      "pulumi:disable-default-providers": '["*"]',
    };
    expect(checkConfig(engineConfig("dev", providers), notSecret)).toMatchObject({ ok: true, warnings: [] });
  });

  it("any other namespace is a warning naming it and its keys, once per namespace", () => {
    const result = checkConfig(engineConfig("dev", { "aws:region": "eu-west-1", "aws:profile": "lab", "gcp:project": "x" }), notSecret);
    expect(result.ok).toBe(true);
    expect(result.warnings).toEqual([
      "config namespace 'aws' (aws:region, aws:profile) is read neither by this program (borg:) nor by its providers (proxmoxve, command, kubernetes, consul, random, tls, pulumi): ignored",
      "config namespace 'gcp' (gcp:project) is read neither by this program (borg:) nor by its providers (proxmoxve, command, kubernetes, consul, random, tls, pulumi): ignored",
    ]);
  });

  it("tells borg look-alikes from other namespaces", () => {
    for (const ns of ["borg", "Borg", "BORG", "borgg", "brog", "bor", "borg-collective", "borg_collective", "borgcollective", "my-borg"]) expect(looksLikeBorg(ns), ns).toBe(true);
    for (const ns of ["proxmoxve", "command", "kubernetes", "consul", "random", "tls", "pulumi", "aws", "gcp", "azure-native"]) expect(looksLikeBorg(ns), ns).toBe(false);
    expect(checkNamespaces(["borg:network", "kubernetes:context"], ["network"])).toEqual({ problems: [], warnings: [] });
  });

  it("the project namespace is Pulumi.yaml's project name", () => {
    expect(fs.readFileSync(path.join(PROJECT_ROOT, "Pulumi.yaml"), "utf8")).toMatch(new RegExp(`^name: ${PROJECT_NAMESPACE}$`, "m"));
  });

  it("synth: a bare key in the stack file exits 2, naming it, and writes nothing; another namespace warns on stderr", async () => {
    const dir = tempDir();
    const doc = { config: { ...Object.fromEntries(Object.entries(stackValues("dev")).map(([k, v]) => [`borg:${k}`, v])), rollout: { maxParallel: 1 } } };
    fs.writeFileSync(path.join(dir, "Pulumi.bare.yaml"), stringify(doc));
    const out = path.join(dir, "out");
    const bare = await runCli(synthMain, "--config", path.join(dir, "Pulumi.bare.yaml"), "--out", out);
    expect(bare.status).toBe(2);
    expect(bare.stderr).toContain("\n  - borg-collective:rollout: unknown key; did you mean borg:rollout?");
    expect(fs.existsSync(out)).toBe(false);

    const other = { config: { ...doc.config, rollout: undefined, "aws:region": "eu-west-1" } };
    delete other.config.rollout;
    fs.writeFileSync(path.join(dir, "Pulumi.other.yaml"), stringify(other));
    const warned = await runCli(synthMain, "--config", path.join(dir, "Pulumi.other.yaml"), "--out", out, "--json");
    expect(warned.status, warned.stderr).toBe(0);
    expect(warned.stderr.split("\n")).toContain(
      "warning: config namespace 'aws' (aws:region) is read neither by this program (borg:) nor by its providers (proxmoxve, command, kubernetes, consul, random, tls, pulumi): ignored",
    );
    expect(JSON.parse(warned.stdout).stack).toBe("other");
  });

  it("pulumi up: the same check runs on the config the engine hands over (PULUMI_CONFIG), before any resource", () => {
    // The engine sets PULUMI_CONFIG (every key, values as strings, objects JSON-encoded, older engines
    // spell keys `borg:config:<key>`) and PULUMI_CONFIG_SECRET_KEYS; loadSpec reads them via the SDK.
    const config = engineConfig("dev", { "borg-collective:rollout": '{"maxParallel":1}', "aws:region": "eu-west-1" });
    const queen = JSON.parse(config["borg:queen"]!);
    queen.cores = "four";
    delete config["borg:queen"];
    config["borg:config:queen"] = JSON.stringify(queen);
    config["borg:network"] = "hunter2-network";
    const script = `
      const { loadSpec } = await import(${JSON.stringify(path.join(PROJECT_ROOT, "components", "config", "load.ts"))});
      try { loadSpec(); console.log("valid"); } catch (err) { console.log(err.name + ": " + err.message); }`;
    const run = spawnSync(path.join(PROJECT_ROOT, "node_modules", ".bin", "tsx"), ["--input-type=module", "-e", script], {
      cwd: PROJECT_ROOT,
      encoding: "utf8",
      env: { ...process.env, PULUMI_CONFIG: JSON.stringify(config), PULUMI_CONFIG_SECRET_KEYS: JSON.stringify(["borg:network"]) },
      timeout: 120_000,
    });
    expect(run.stdout.trim().split("\n")).toEqual([
      "ConfigError: invalid stack configuration (3 problems):",
      "  - borg:network: expected a mapping (key: value), got a secret value (not shown)",
      '  - borg:queen.cores: expected a whole number, got "four"',
      "  - borg-collective:rollout: unknown key; did you mean borg:rollout? (a key written without a namespace is read as borg-collective:<key>)",
    ]);
    expect(run.stderr).toContain("warning: [runtime] config namespace 'aws' (aws:region) is read neither");
    expect(run.stdout + run.stderr).not.toContain("hunter2");
  });
});

describe("README's config reference", () => {
  const readme = fs.readFileSync(path.join(PROJECT_ROOT, "README.md"), "utf8");
  const row = (key: string) => readme.split("\n").find((l) => l.startsWith(`| \`${key}\` |`));
  const fieldsOf = (schema: z.ZodType, at: PropertyKey[] = []) => Object.keys((schemaAt(schema, at)?._zod.def as { shape?: object }).shape ?? {});

  it("has a row for every key, naming every field the schema accepts", () => {
    const rows: Array<[string, string[]]> = [];
    for (const [key, schema] of Object.entries(SECTION_SCHEMAS)) {
      if (key === "services") for (const service of fieldsOf(schema)) rows.push([`borg:services.${service}`, fieldsOf(schema, [service])]);
      else if (key === "drones") rows.push(["borg:drones[]", fieldsOf(schema, [0])]);
      else rows.push([`borg:${key}`, fieldsOf(schema)]);
    }
    rows.push(["borg:services.nats", fieldsOf(SECTION_SCHEMAS.services, ["nats", "jetstream"]).map((f) => `jetstream.${f}`)]);
    for (const key of SECRET_KEYS) rows.push([`borg:${key}`, []]);
    for (const [key, fields] of rows) {
      const line = row(key);
      expect(line, `README has no row for ${key}`).toBeDefined();
      for (const field of fields) if (field !== "jetstream") expect(line, `${key}.${field}`).toMatch(new RegExp(`\`${field.replace(".", "\\.")}(?:\\[\\]|\\?)?\``));
    }
  });

  it("says what the schema says about host keys", () => {
    expect(row("borg:edgePi")).toContain("`hostKey` (required)");
    expect(row("borg:queen")).toContain("`hostKey` (required for `existing`, not allowed for `proxmox`)");
    expect(readme).not.toMatch(/hostKey[^|\n]*required (?:in|at (?:security )?level) prod/);
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
