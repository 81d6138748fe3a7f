// The real brokers (Debian's mosquitto 2.0) on loopback, running exactly the files nixpkgs'
// mosquitto module would write for the queen's and the edge Pi's node.json (nix/lib/mosquitto.nix
// render), with ports, addresses and the secrets dir remapped to this test's temp dir and real
// credentials: `$7$` hashes from the program's own mosquittoHash, certificates from openssl with
// the names pki.ts asks for. Proves: ACLs allow exactly what they grant, anonymous clients are
// refused, the bridge authenticates by certificate and forwards both ways, a QoS 1 message
// published on the Pi while the queen is down arrives once it is back, and the readiness gate
// (node-scripts/services/mqtt-gate.sh) passes against the live brokers.
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import mqtt from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROJECT_ROOT, renderNodeJson } from "../components/bundle.js";
import { validateConfig } from "../components/config/validate.js";
import { mosquittoHash, type MqttSettings } from "../components/services/mqtt.js";
import { stackValues } from "./helpers.js";
import { freePort, waitForPort } from "./lib/loopback.js";

const HAVE_MOSQUITTO = spawnSync("mosquitto", ["-h"]).status !== null && spawnSync("which", ["mosquitto"]).status === 0;
if (!HAVE_MOSQUITTO) console.warn("\n*** SKIPPING the real mosquitto tests: mosquitto is not installed (apt-get install mosquitto; scripts/ensure-tools.sh does it as root) ***\n");

const ROOT = os.userInfo().uid === 0;
const nixOpts = ["--option", "build-users-group", "", "--store", "dummy://"];
const USERS = [
  { name: "homeassistant", acl: ["readwrite homeassistant/#", "read borg/collective/#"] },
  { name: "sensor", acl: ["write sensors/#"] },
  { name: "reader", acl: ["read sensors/#", "read other/#"] },
];

let dir = "";
const brokers = new Map<string, { proc: ChildProcess; conf: string; cwd: string }>();
const passwords = new Map<string, string>();
const ports = new Map<number, number>(); // canonical port → free test port
let caFile = "";


function openssl(...args: string[]) {
  execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
}

/** A CA and leaves with the subject/SANs/usages pki.ts requests (ECDSA P-256). */
function makeCerts() {
  openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ca.key");
  openssl("req", "-x509", "-new", "-key", "ca.key", "-subj", "/CN=borg test MQTT CA", "-days", "2", "-out", "ca.crt");
  const leaf = (name: string, cn: string, ext: string) => {
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", `${name}.key`);
    openssl("req", "-new", "-key", `${name}.key`, "-subj", `/CN=${cn}`, "-out", `${name}.csr`);
    fs.writeFileSync(path.join(dir, `${name}.ext`), ext);
    openssl("x509", "-req", "-in", `${name}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-extfile", `${name}.ext`, "-out", `${name}.crt`);
  };
  leaf("queen-server", "queen", "subjectAltName=DNS:queen,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
  leaf("pi-server", "edge-pi", "subjectAltName=DNS:edge-pi,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
  leaf("pi-bridge", "bridge-edge-pi", "extendedKeyUsage=clientAuth\n");
  caFile = path.join(dir, "ca.crt");
}

/** node.json's mqtt section with this test's ports, loopback addresses and secrets dir. */
function remap(mqttSettings: MqttSettings, secrets: string): MqttSettings {
  const text = JSON.stringify(mqttSettings).replaceAll("/var/lib/borg/secrets", secrets).replaceAll('"0.0.0.0"', '"127.0.0.1"').replaceAll('"10.42.0.10"', '"127.0.0.1"');
  const out = JSON.parse(text) as MqttSettings;
  for (const l of out.listeners) l.port = ports.get(l.port)!;
  if (out.bridge) out.bridge.port = ports.get(out.bridge.port)!;
  return out;
}

/** Writes the node's secrets and the rendered files; returns the config file. */
function prepareBroker(node: "queen" | "edge-pi", settings: MqttSettings): { conf: string; cwd: string } {
  const base = path.join(dir, node);
  const secrets = path.join(base, "secrets");
  const data = path.join(base, "data");
  fs.mkdirSync(secrets, { recursive: true });
  fs.mkdirSync(data, { recursive: true });
  const s = remap(settings, secrets);
  for (const u of s.users) {
    const password = passwords.get(u.name) ?? randomBytes(18).toString("base64url");
    passwords.set(u.name, password);
    fs.writeFileSync(u.hashFile, `${mosquittoHash(password, randomBytes(12))}\n`);
  }
  fs.writeFileSync(path.join(secrets, "mqtt-borg-probe.password"), passwords.get("borg-probe")!);
  const server = node === "queen" ? "queen-server" : "pi-server";
  if (s.tls) {
    fs.copyFileSync(caFile, s.tls.caFile);
    fs.copyFileSync(path.join(dir, `${server}.crt`), s.tls.certFile);
    fs.copyFileSync(path.join(dir, `${server}.key`), s.tls.keyFile);
  }
  if (s.bridge) {
    fs.copyFileSync(caFile, s.bridge.caFile);
    fs.copyFileSync(path.join(dir, "pi-bridge.crt"), s.bridge.certFile);
    fs.copyFileSync(path.join(dir, "pi-bridge.key"), s.bridge.keyFile);
  }
  const settingsFile = path.join(base, "mqtt.json");
  fs.writeFileSync(settingsFile, JSON.stringify(s));
  const lib = path.join(PROJECT_ROOT, "nix", "lib", "mosquitto.nix");
  const rendered = JSON.parse(
    execFileSync(
      "nix-instantiate",
      [...nixOpts, "--eval", "--strict", "--json", "-E", `let m = import ${JSON.stringify(lib)}; in m.render { dataDir = ${JSON.stringify(data)}; } (m.config (builtins.fromJSON (builtins.readFile ${JSON.stringify(settingsFile)})))`],
      { encoding: "utf8" },
    ),
  ) as { conf: string; acl: { name: string; text: string }[]; passwd: { name: string; entries: { user: string; hashFile: string }[] }[] };
  for (const a of rendered.acl) fs.writeFileSync(path.join(data, a.name), a.text);
  // What the module's preStart does: `user:<content of the hash file>` per line.
  for (const p of rendered.passwd) fs.writeFileSync(path.join(data, p.name), p.entries.map((e) => `${e.user}:${fs.readFileSync(e.hashFile, "utf8").trim()}\n`).join(""));
  const conf = path.join(base, "mosquitto.conf");
  fs.writeFileSync(conf, rendered.conf);
  if (ROOT) {
    // As root mosquitto drops to user mosquitto: let it read the test files and write its data dir.
    execFileSync("chmod", ["-R", "a+rX", dir]);
    execFileSync("chmod", ["a+rwx", data]);
  }
  return { conf, cwd: data };
}


async function start(node: string, files: { conf: string; cwd: string }, port: number) {
  const proc = spawn("mosquitto", ["-c", files.conf], { cwd: files.cwd, stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  proc.stderr!.on("data", (d) => (log += String(d)));
  proc.once("exit", (code) => {
    if (code !== 0 && code !== null) console.error(`${node} mosquitto exited ${code}:\n${log}`);
  });
  brokers.set(node, { proc, ...files });
  await waitForPort(port);
}

async function stop(node: string) {
  const b = brokers.get(node);
  if (!b || b.proc.exitCode !== null) return;
  const exited = new Promise((r) => b.proc.once("exit", r));
  b.proc.kill("SIGTERM");
  await exited;
}

type Client = mqtt.MqttClient;
function connect(port: number, opts: mqtt.IClientOptions = {}): Promise<Client> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect({ host: "127.0.0.1", port, reconnectPeriod: 0, connectTimeout: 3000, ...opts });
    client.once("connect", () => resolve(client));
    client.once("error", (err) => {
      client.end(true);
      reject(err);
    });
  });
}
const userOpts = (name: string): mqtt.IClientOptions => ({ username: name, password: passwords.get(name)! });
const tlsOpts = (): mqtt.IClientOptions => ({ protocol: "mqtts", ca: fs.readFileSync(caFile), rejectUnauthorized: true });

function nextMessage(client: Client, topic: string, ms = 3000): Promise<string | null> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      client.removeListener("message", onMessage);
      resolve(null);
    }, ms);
    const onMessage = (t: string, payload: Buffer) => {
      if (t !== topic) return;
      clearTimeout(timer);
      client.removeListener("message", onMessage);
      resolve(payload.toString());
    };
    client.on("message", onMessage);
  });
}

let queen: MqttSettings;
let pi: MqttSettings;
const P = (canonical: number) => ports.get(canonical)!;

describe.skipIf(!HAVE_MOSQUITTO)("real mosquitto brokers from the rendered configs", () => {
  const clients: Client[] = [];
  const track = (c: Client) => (clients.push(c), c);

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "borg-mqtt-"));
    for (const p of [1883, 8883, 8884, 11883, 18883]) ports.set(p, await freePort());
    const raw: Record<string, any> = { ...stackValues("prod"), sshPrivateKey: "<set>", proxmoxApiToken: "<set>" };
    raw.services = { ...raw.services, mqtt: { ...(raw.services?.mqtt ?? {}), users: USERS } };
    const result = validateConfig(raw);
    if (!result.ok) throw new Error(result.problems.join("\n"));
    const settingsOf = (name: string) => renderNodeJson(result.spec, result.spec.nodes.find((n) => n.name === name)!, "prod").services.mqtt;
    queen = settingsOf("queen");
    pi = settingsOf("edge-pi");
    // Both brokers sit on loopback here: give the Pi its own ports.
    const piPorts = new Map([[1883, 11883], [8883, 18883]]);
    for (const l of pi.listeners) l.port = piPorts.get(l.port) ?? l.port;
    makeCerts();
    const q = prepareBroker("queen", queen);
    const e = prepareBroker("edge-pi", pi);
    await start("queen", q, P(1883));
    await start("edge-pi", e, P(11883));
  });

  afterAll(async () => {
    for (const c of clients) c.end(true);
    for (const node of brokers.keys()) await stop(node);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("a user can use exactly the topics its ACL lines grant (TLS on the LAN listener)", async () => {
    const reader = track(await connect(P(8883), { ...userOpts("reader"), ...tlsOpts() }));
    await reader.subscribeAsync(["sensors/#", "other/#"], { qos: 1 });
    const sensor = track(await connect(P(8883), { ...userOpts("sensor"), ...tlsOpts() }));
    const allowed = nextMessage(reader, "sensors/t1");
    await sensor.publishAsync("sensors/t1", "21.5", { qos: 1 });
    expect(await allowed).toBe("21.5");
    // sensor may not write other/#: the broker drops it silently
    const denied = nextMessage(reader, "other/x", 1000);
    await sensor.publishAsync("other/x", "nope", { qos: 1 });
    expect(await denied).toBeNull();
    // homeassistant may subscribe to sensors/# (mosquitto grants it) but is sent nothing from there
    const ha = track(await connect(P(1883), userOpts("homeassistant")));
    await ha.subscribeAsync(["homeassistant/#", "sensors/#"], { qos: 1 });
    const notForHa = nextMessage(ha, "sensors/t2", 1000);
    const forReader = nextMessage(reader, "sensors/t2");
    await sensor.publishAsync("sensors/t2", "22.0", { qos: 1 });
    expect(await forReader).toBe("22.0");
    expect(await notForHa).toBeNull();
  });

  it("every listener has the same ACL file (immune to one file applying to all listeners)", () => {
    const data = path.join(dir, "queen", "data");
    const acls = fs.readdirSync(data).filter((f) => /^acl-\d+\.conf$/.test(f)).map((f) => fs.readFileSync(path.join(data, f), "utf8"));
    expect(acls.length).toBe(3);
    expect(new Set(acls).size).toBe(1);
  });

  it("a bridge identity cannot log in with a password", async () => {
    await expect(connect(P(1883), { username: "bridge-edge-pi", password: "anything" })).rejects.toThrow(/Not authorized|Bad User Name or Password/i);
  });

  it("refuses anonymous clients and wrong passwords on every listener", async () => {
    await expect(connect(P(8883), tlsOpts())).rejects.toThrow(/Not authorized|Bad User Name or Password/i);
    await expect(connect(P(1883), {})).rejects.toThrow(/Not authorized|Bad User Name or Password/i);
    await expect(connect(P(1883), { username: "homeassistant", password: "wrong" })).rejects.toThrow(/Not authorized|Bad User Name or Password/i);
    await expect(connect(P(11883), {})).rejects.toThrow(/Not authorized|Bad User Name or Password/i);
  });

  it("the bridge listener takes only a client certificate signed by the collective's CA", async () => {
    // a password user cannot get in there, with or without TLS client auth
    await expect(connect(P(8884), { ...userOpts("homeassistant"), ...tlsOpts() })).rejects.toThrow();
    const bridgeCert = { cert: fs.readFileSync(path.join(dir, "pi-bridge.crt")), key: fs.readFileSync(path.join(dir, "pi-bridge.key")) };
    const asBridge = track(await connect(P(8884), { ...tlsOpts(), ...bridgeCert, clientId: "test-bridge-identity" }));
    // ...and as the bridge identity it may use only the bridged topics
    await asBridge.subscribeAsync(["homeassistant/#", "sensors/#"], { qos: 1 });
    const sensor = track(await connect(P(1883), userOpts("sensor")));
    const notBridged = nextMessage(asBridge, "sensors/t3", 1000);
    await sensor.publishAsync("sensors/t3", "x", { qos: 1 });
    expect(await notBridged).toBeNull();
    const ha = track(await connect(P(1883), userOpts("homeassistant")));
    const bridged = nextMessage(asBridge, "homeassistant/t3");
    await ha.publishAsync("homeassistant/t3", "y", { qos: 1 });
    expect(await bridged).toBe("y");
  });

  it("the bridge forwards both ways", async () => {
    const onQueen = track(await connect(P(1883), userOpts("homeassistant")));
    await onQueen.subscribeAsync("homeassistant/#", { qos: 1 });
    const onPi = track(await connect(P(11883), userOpts("homeassistant")));
    await onPi.subscribeAsync("homeassistant/#", { qos: 1 });
    // the bridge may still be connecting right after start: retry the first publish
    let up: string | null = null;
    for (let i = 0; i < 10 && up === null; i++) {
      const wait = nextMessage(onQueen, "homeassistant/pi/state", 1000);
      await onPi.publishAsync("homeassistant/pi/state", `on-${i}`, { qos: 1 });
      up = await wait;
    }
    expect(up).toMatch(/^on-\d+$/);
    const down = nextMessage(onPi, "homeassistant/queen/cmd");
    await onQueen.publishAsync("homeassistant/queen/cmd", "reboot", { qos: 1 });
    expect(await down).toBe("reboot");
  });

  it("a QoS 1 message published on the Pi while the queen is down arrives when it returns", async () => {
    // a persistent subscriber on the queen, as a consumer of edge events would be
    const sub = await connect(P(1883), { ...userOpts("homeassistant"), clientId: "queen-consumer", clean: false });
    await sub.subscribeAsync("homeassistant/offline/#", { qos: 1 });
    sub.end(true);
    await stop("queen");
    const onPi = track(await connect(P(11883), userOpts("homeassistant")));
    await onPi.publishAsync("homeassistant/offline/door", "opened-while-down", { qos: 1 });
    const q = brokers.get("queen")!;
    await start("queen", { conf: q.conf, cwd: q.cwd }, P(1883));
    const back = track(await connect(P(1883), { ...userOpts("homeassistant"), clientId: "queen-consumer", clean: false }));
    const arrived = await nextMessage(back, "homeassistant/offline/door", 40_000);
    expect(arrived).toBe("opened-while-down");
  }, 60_000);

  it("the readiness gate passes on both brokers (probe user, bridge state) and fails naming the probe when the broker is gone", () => {
    const gate = path.join(PROJECT_ROOT, "node-scripts", "services", "mqtt-gate.sh");
    const env = { ...process.env, BORG_ROOT_UID: String(os.userInfo().uid), BORG_GATE_INTERVAL: "0.2" };
    const queenRun = spawnSync("bash", [gate, "queen", String(P(1883))], { env: { ...env, BORG_SECRETS_DIR: path.join(dir, "queen", "secrets") }, encoding: "utf8", timeout: 60_000 });
    expect(queenRun.status, queenRun.stderr).toBe(0);
    expect(queenRun.stdout).toBe("borg: queen: mqtt: ready\n");
    const piRun = spawnSync("bash", [gate, "edge-pi", String(P(11883)), "bridge-edge-pi"], { env: { ...env, BORG_SECRETS_DIR: path.join(dir, "edge-pi", "secrets") }, encoding: "utf8", timeout: 200_000 });
    expect(piRun.status, piRun.stderr).toBe(0);
    expect(piRun.stderr).toContain("bridge bridge-edge-pi connected to the queen: ready");
    // the probe password never reaches a command line or the output
    expect(piRun.stderr + piRun.stdout).not.toContain(passwords.get("borg-probe")!);
    // nothing answers: bounded, and the error names node, service, probe and its output
    const dead = spawnSync("bash", [gate, "queen", "1"], { env: { ...env, BORG_GATE_MAX: "1", BORG_SECRETS_DIR: path.join(dir, "queen", "secrets") }, encoding: "utf8", timeout: 30_000 });
    expect(dead.status).toBe(1);
    expect(dead.stderr).toMatch(/^borg: queen: mqtt: broker answers the probe user on 127\.0\.0\.1:1: not ready after 1s: .*Connection refused/m);
  }, 220_000);
});
