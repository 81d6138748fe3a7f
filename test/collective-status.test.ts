// The collective-status timer's script (nix/lib/collective-status.sh) run for real: bash, curl,
// jq and mosquitto_pub against stand-ins of the Pi's Consul agent and NATS leaf (HTTP on
// loopback, answering as /v1/status/{leader,peers} and /leafz do) and a real mosquitto (Debian's)
// whose users and ACLs are the program's own (prod: Home Assistant's default user, the generated
// status publisher). Its environment is the one nix/lib/home-assistant.nix gives the unit, with
// this test's ports; its password arrives as the unit's systemd credential would.
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as path from "node:path";
import mqtt from "mqtt";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { PROJECT_ROOT, renderNodeJson } from "../components/bundle.js";
import { validateConfig, type CollectiveSpec } from "../components/config/validate.js";
import { mosquittoHash, mqttUsers, STATUS_USER } from "../components/services/mqtt.js";
import { stackValues, tempDir } from "./helpers.js";
import { freePort, waitForPort } from "./lib/loopback.js";

const HAVE_MOSQUITTO = spawnSync("which", ["mosquitto"]).status === 0;
if (!HAVE_MOSQUITTO) console.warn("\n*** SKIPPING the collective-status tests: mosquitto is not installed (scripts/ensure-tools.sh installs it as root) ***\n");

const SCRIPT = path.join(PROJECT_ROOT, "nix", "lib", "collective-status.sh");
const nixOpts = ["--option", "build-users-group", "", "--store", "dummy://"];

let dir = "";
let spec: CollectiveSpec;
let broker: ChildProcess | undefined;
let brokerPort = 0;
const passwords = new Map<string, string>();
let unitEnv: Record<string, string> = {};

/** What the stand-in Consul agent and NATS leaf answer; undefined: the endpoint is down. */
const world: { leader?: string; peers?: string[]; leafnodes?: number } = {};
let probes: http.Server;
let probeUrl = "";



function runStatus(extra: Record<string, string | undefined> = {}): Promise<{ code: number | null; out: string; err: string }> {
  const env: Record<string, string> = { PATH: `${path.join(dir, "bin")}:${process.env.PATH}`, HOME: dir, CREDENTIALS_DIRECTORY: path.join(dir, "credentials"), ...unitEnv };
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return new Promise((resolve) => {
    const child = spawn("bash", [SCRIPT], { env });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += String(d)));
    child.stderr.on("data", (d) => (err += String(d)));
    child.on("close", (code) => resolve({ code, out, err }));
  });
}

/** The retained status as Home Assistant's user sees it (null: nothing retained). */
async function retained(topic = "borg/collective/status"): Promise<Record<string, any> | null> {
  const client = await mqtt.connectAsync({ host: "127.0.0.1", port: brokerPort, username: "homeassistant", password: passwords.get("homeassistant")!, reconnectPeriod: 0, clean: true });
  try {
    const got = new Promise<string | null>((resolve) => {
      const timer = setTimeout(() => resolve(null), 1000);
      client.on("message", (t, payload) => {
        if (t !== topic) return;
        clearTimeout(timer);
        resolve(payload.toString());
      });
    });
    await client.subscribeAsync(topic, { qos: 1 });
    const text = await got;
    return text === null ? null : JSON.parse(text);
  } finally {
    await client.endAsync(true);
  }
}

describe.skipIf(!HAVE_MOSQUITTO)("collective-status.sh", () => {
  beforeAll(async () => {
    dir = tempDir("borg-status-");
    const raw: Record<string, any> = { ...stackValues("prod"), sshPrivateKey: "<set>", proxmoxApiToken: "<set>" };
    const result = validateConfig(raw);
    if (!result.ok) throw new Error(result.problems.join("\n"));
    spec = result.spec;

    // A broker with the program's users and ACL lines (mosquitto's acl_file format, default deny).
    brokerPort = await freePort();
    const users = mqttUsers(spec);
    for (const u of users) passwords.set(u.name, randomBytes(18).toString("base64url"));
    fs.writeFileSync(path.join(dir, "passwd"), users.map((u) => `${u.name}:${mosquittoHash(passwords.get(u.name)!, randomBytes(12))}\n`).join(""));
    fs.writeFileSync(path.join(dir, "acl"), users.map((u) => `user ${u.name}\n${u.acl.map((l) => `topic ${l}\n`).join("")}`).join(""));
    fs.writeFileSync(
      path.join(dir, "mosquitto.conf"),
      `per_listener_settings true\nlistener ${brokerPort} 127.0.0.1\nallow_anonymous false\npassword_file ${dir}/passwd\nacl_file ${dir}/acl\npersistence false\n`,
    );
    if (process.getuid!() === 0) execFileSync("chmod", ["-R", "a+rX", dir]);
    broker = spawn("mosquitto", ["-c", path.join(dir, "mosquitto.conf")], { stdio: "ignore" });
    await waitForPort(brokerPort);

    // The Pi's Consul agent and NATS leaf, as far as the script asks them.
    probes = http.createServer((req, res) => {
      const send = (value: unknown) => (res.writeHead(200, { "Content-Type": "application/json" }), res.end(JSON.stringify(value)));
      if (req.url === "/v1/status/leader" && world.leader !== undefined) return send(world.leader);
      if (req.url === "/v1/status/peers" && world.peers !== undefined) return send(world.peers);
      if (req.url === "/leafz" && world.leafnodes !== undefined) return send({ server_id: "NX", now: "2026-01-01T00:00:00Z", leafnodes: world.leafnodes, leafs: [] });
      res.writeHead(503);
      res.end();
    });
    await new Promise<void>((r) => probes.listen(0, "127.0.0.1", r));
    probeUrl = `http://127.0.0.1:${(probes.address() as net.AddressInfo).port}`;

    // The unit's environment exactly as nix/lib/home-assistant.nix renders it for the prod Pi.
    const pi = renderNodeJson(spec, spec.nodes.find((n) => n.role === "edge")!, "prod").services.homeAssistant;
    const settings = path.join(dir, "ha.json");
    fs.writeFileSync(settings, JSON.stringify(pi));
    const lib = path.join(PROJECT_ROOT, "nix", "lib", "home-assistant.nix");
    const rendered = JSON.parse(
      execFileSync("nix-instantiate", [...nixOpts, "--eval", "--strict", "--json", "-E", `let h = import ${JSON.stringify(lib)}; s = (builtins.fromJSON (builtins.readFile ${JSON.stringify(settings)})).collectiveStatus; in { env = h.statusEnvironment "edge-pi" s; creds = h.statusCredentials s; }`], { encoding: "utf8" }),
    ) as { env: Record<string, string>; creds: string[] };
    expect(rendered.creds).toEqual(["mqtt-password:/var/lib/borg/secrets/mqtt-borg-status.password", "consul-ca:/var/lib/borg/secrets/consul-ca.pem"]);
    expect(rendered.env).toEqual({
      BORG_NODE: "edge-pi",
      BORG_STATUS_TOPIC: "borg/collective/status",
      BORG_STATUS_MQTT_PORT: "1883",
      BORG_STATUS_MQTT_USER: STATUS_USER,
      BORG_STATUS_CONSUL_URL: "https://127.0.0.1:8501",
      BORG_STATUS_CONSUL_SERVERS: "3",
      BORG_STATUS_NATS_URL: "http://127.0.0.1:8222",
    });
    // this test's broker and stand-ins instead of the Pi's ports (plain HTTP here: no Consul CA)
    unitEnv = { ...rendered.env, BORG_STATUS_MQTT_PORT: String(brokerPort), BORG_STATUS_CONSUL_URL: probeUrl, BORG_STATUS_NATS_URL: probeUrl };
    fs.mkdirSync(path.join(dir, "credentials"));
    fs.writeFileSync(path.join(dir, "credentials", "mqtt-password"), passwords.get(STATUS_USER)!);
    // mosquitto_pub through a recorder: its command line must never hold the password
    fs.mkdirSync(path.join(dir, "bin"));
    const real = execFileSync("bash", ["-c", "command -v mosquitto_pub"], { encoding: "utf8" }).trim();
    fs.writeFileSync(path.join(dir, "bin", "mosquitto_pub"), `#!/usr/bin/env bash\nprintf '%s\\n' "$*" >>"${dir}/argv.log"\nexec ${real} "$@"\n`, { mode: 0o755 });
  });

  afterAll(async () => {
    broker?.kill("SIGTERM");
    await new Promise<void>((r) => (probes ? probes.close(() => r()) : r()));
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(() => {
    world.leader = "10.42.0.10:8300";
    world.peers = ["10.42.0.10:8300", "10.42.0.11:8300", "10.42.0.12:8300"];
    world.leafnodes = 1;
  });

  it("healthy: a Consul leader with every server, the NATS leaf connected; retained for Home Assistant's user", async () => {
    const r = await runStatus();
    expect(r.code, r.err).toBe(0);
    const doc = await retained();
    expect(doc).toMatchObject({
      state: "healthy",
      problems: [],
      consul: { leader: "10.42.0.10:8300", servers: 3, expected: 3 },
      nats: { leafnodes: 1 },
      node: "edge-pi",
    });
    expect(doc!.checked).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(JSON.parse(r.out)).toEqual(doc);
  });

  it("degraded: a server missing from the raft peer set, or the leaf link down", async () => {
    world.peers = world.peers!.slice(0, 2);
    expect((await runStatus()).code).toBe(0);
    expect(await retained()).toMatchObject({ state: "degraded", problems: ["consul: 2 of 3 servers in the raft peer set"] });
    world.peers = undefined; // the peers endpoint failing counts as no peers
    world.leafnodes = 0;
    expect((await runStatus()).code).toBe(0);
    expect(await retained()).toMatchObject({ state: "degraded", problems: ["consul: 0 of 3 servers in the raft peer set", "nats: the leaf is not connected to the queen"] });
  });

  it("down: no leader and no leaf link — nothing of the collective is reachable from the Pi", async () => {
    world.leader = "";
    world.leafnodes = 0;
    expect((await runStatus()).code).toBe(0);
    expect(await retained()).toMatchObject({ state: "down", problems: ["consul: no leader elected", "nats: the leaf is not connected to the queen"] });
    world.leader = undefined;
    world.leafnodes = undefined;
    expect((await runStatus()).code).toBe(0);
    expect(await retained()).toMatchObject({
      state: "down",
      consul: null,
      nats: null,
      problems: ["consul: the local agent does not answer", "nats: the leaf's monitoring endpoint does not answer"],
    });
  });

  it("checks only the services the stack runs", async () => {
    const r = await runStatus({ BORG_STATUS_CONSUL_URL: undefined, BORG_STATUS_CONSUL_SERVERS: undefined });
    expect(r.code, r.err).toBe(0);
    expect(await retained()).toMatchObject({ state: "healthy", consul: null, nats: { leafnodes: 1 } });
  });

  it("the publisher can write nothing but the status topics, and a wrong password fails the unit", async () => {
    // its ACL (write borg/collective/#): a publish elsewhere is dropped by the broker
    expect((await runStatus({ BORG_STATUS_TOPIC: "homeassistant/status" })).code).toBe(0);
    expect(await retained("homeassistant/status")).toBeNull();
    fs.writeFileSync(path.join(dir, "wrong"), "not-the-password");
    const r = await runStatus({ BORG_STATUS_PASSWORD_FILE: path.join(dir, "wrong") });
    expect(r.code).toBe(5 /* mosquitto_pub: not authorised */);
    const missing = await runStatus({ CREDENTIALS_DIRECTORY: path.join(dir, "nowhere") });
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/collective-status: .*nowhere\/mqtt-password is not readable/);
  });

  it("the password never reaches mosquitto_pub's command line", async () => {
    expect((await runStatus()).code).toBe(0);
    const log = fs.readFileSync(path.join(dir, "argv.log"), "utf8");
    expect(log).toContain(`-t borg/collective/status`);
    expect(log).not.toContain(passwords.get(STATUS_USER)!);
    expect(log).not.toMatch(/ -P /);
  });
});
