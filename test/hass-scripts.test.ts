// Home Assistant's REST steps (node-scripts/services/hass-mqtt.sh, hass-gate.sh), run for real
// (bash, curl, jq) as any user (BORG_ROOT_UID) against a stand-in of HA's API: a small HTTP server
// on loopback implementing exactly the endpoints the scripts call (onboarding, the login flow,
// tokens, config entries, the MQTT config flow), recording every request. No Home Assistant runs
// here, so the stand-in answers as HA's views do (homeassistant/components/{onboarding,auth,config});
// what HA itself does with the entry is not verified offline.
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../components/bundle.js";
import { tempDir } from "./helpers.js";

const SERVICES = path.join(PROJECT_ROOT, "node-scripts", "services");
const OWNER = "borg";
const OWNER_PASSWORD = "owner-Secret-0123456789abcdefghijk";
const MQTT_PASSWORD = "mqtt-Secret-0123456789abcdefghijkl";

interface Recorded {
  method: string;
  path: string;
  auth: string | undefined;
  type: string | undefined;
  body: string;
}
interface Entry {
  entry_id: string;
  domain: string;
  title: string;
  state: string;
  reason?: string;
}

/** What the stand-in HA knows; tests set it up and read it back. */
class FakeHass {
  requests: Recorded[] = [];
  users = new Map<string, string>(); // username -> password
  entries: Entry[] = [];
  tokens = new Set<string>();
  revoked: string[] = [];
  codes = new Map<string, string>(); // auth code -> client id
  flows = new Map<string, string>(); // flow id -> kind
  /** manifest.json answers 503 this many times first (HA still starting). */
  startingFor = 0;
  /** The broker the MQTT flow "connects" to: anything else gives cannot_connect. */
  broker = { host: "127.0.0.1", port: 1883, username: "homeassistant", password: MQTT_PASSWORD };
  /** Supervised installs show a menu (add-on or manual broker) first. */
  menu = false;
  /** State a newly created entry gets (HA connects right away in reality). */
  newEntryState = "loaded";
  server!: http.Server;
  url = "";
  private seq = 0;

  constructor(private readonly tls?: { key: Buffer; cert: Buffer }) {}

  private id = (p: string) => `${p}${++this.seq}${randomBytes(4).toString("hex")}`;

  async start(): Promise<void> {
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
      let body = "";
      req.on("data", (d) => (body += String(d)));
      req.on("end", () => {
        const url = new URL(req.url ?? "/", "http://x");
        this.requests.push({ method: req.method!, path: url.pathname + url.search, auth: req.headers.authorization, type: req.headers["content-type"], body });
        const [status, answer] = this.route(req.method!, url, req.headers.authorization, body);
        res.writeHead(status, { "Content-Type": "application/json" });
        res.end(typeof answer === "string" ? answer : JSON.stringify(answer));
      });
    };
    this.server = this.tls ? https.createServer(this.tls, handler) : http.createServer(handler);
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
    this.url = `${this.tls ? "https" : "http"}://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }

  private authed(auth: string | undefined): boolean {
    return auth !== undefined && auth.startsWith("Bearer ") && this.tokens.has(auth.slice(7));
  }

  private route(method: string, url: URL, auth: string | undefined, body: string): [number, unknown] {
    const json = () => JSON.parse(body || "{}");
    const p = url.pathname;
    if (method === "GET" && p === "/manifest.json") {
      if (this.startingFor > 0) return (this.startingFor--, [503, "starting"]);
      return [200, { name: "Home Assistant", short_name: "Assistant" }];
    }
    if (method === "GET" && p === "/api/onboarding") {
      return [200, [{ step: "user", done: this.users.size > 0 }, { step: "core_config", done: false }, { step: "analytics", done: false }, { step: "integration", done: false }]];
    }
    if (method === "POST" && p === "/api/onboarding/users") {
      if (this.users.size > 0) return [403, { message: "User step already done" }];
      const b = json();
      for (const k of ["client_id", "name", "username", "password", "language"]) if (typeof b[k] !== "string") return [400, { message: `missing ${k}` }];
      this.users.set(b.username, b.password);
      const code = this.id("code");
      this.codes.set(code, b.client_id);
      return [200, { auth_code: code }];
    }
    if (method === "POST" && p === "/auth/login_flow") {
      const b = json();
      if (JSON.stringify(b.handler) !== '["homeassistant",null]' || b.redirect_uri !== b.client_id) return [400, { message: "bad flow request" }];
      const flow = this.id("login");
      this.flows.set(flow, `login:${b.client_id}`);
      return [200, { type: "form", flow_id: flow, step_id: "init", errors: {} }];
    }
    if (method === "POST" && p.startsWith("/auth/login_flow/")) {
      const flow = p.slice("/auth/login_flow/".length);
      const kind = this.flows.get(flow);
      if (!kind?.startsWith("login:")) return [404, { message: "no flow" }];
      const b = json();
      if (this.users.get(b.username) !== b.password) return [200, { type: "form", flow_id: flow, step_id: "init", errors: { base: "invalid_auth" } }];
      const code = this.id("code");
      this.codes.set(code, kind.slice(6));
      return [200, { type: "create_entry", flow_id: flow, result: code }];
    }
    if (method === "POST" && p === "/auth/token") {
      const form = new URLSearchParams(body);
      const code = form.get("code") ?? "";
      if (form.get("grant_type") !== "authorization_code" || this.codes.get(code) !== form.get("client_id")) return [400, { error: "invalid_request" }];
      this.codes.delete(code);
      const token = this.id("access");
      this.tokens.add(token);
      return [200, { access_token: token, token_type: "Bearer", refresh_token: this.id("refresh"), expires_in: 1800 }];
    }
    if (method === "POST" && p === "/auth/revoke") {
      this.revoked.push(new URLSearchParams(body).get("token") ?? "");
      return [200, {}];
    }
    if (!p.startsWith("/api/config/")) return [404, { message: "not found" }];
    if (!this.authed(auth)) return [401, { message: "unauthorized" }];
    if (method === "GET" && p === "/api/config/config_entries/entry") {
      const domain = url.searchParams.get("domain");
      return [200, this.entries.filter((e) => !domain || e.domain === domain)];
    }
    if (method === "DELETE" && p.startsWith("/api/config/config_entries/entry/")) {
      const id = p.slice("/api/config/config_entries/entry/".length);
      const before = this.entries.length;
      this.entries = this.entries.filter((e) => e.entry_id !== id);
      return this.entries.length < before ? [200, { require_restart: false }] : [404, { message: "Invalid entry specified" }];
    }
    if (method === "POST" && p === "/api/config/config_entries/flow") {
      if (json().handler !== "mqtt") return [400, { message: "handler" }];
      const flow = this.id("flow");
      if (this.entries.some((e) => e.domain === "mqtt")) return [200, { type: "abort", flow_id: flow, reason: "single_instance_allowed" }];
      this.flows.set(flow, this.menu ? "mqtt-menu" : "mqtt");
      return [200, this.menu ? { type: "menu", flow_id: flow, step_id: "user", menu_options: ["addon", "broker"] } : this.brokerForm(flow, {})];
    }
    if (method === "POST" && p.startsWith("/api/config/config_entries/flow/")) {
      const flow = p.slice("/api/config/config_entries/flow/".length);
      const kind = this.flows.get(flow);
      if (kind === "mqtt-menu") {
        if (json().next_step_id !== "broker") return [400, { message: "menu" }];
        this.flows.set(flow, "mqtt");
        return [200, this.brokerForm(flow, {})];
      }
      if (kind !== "mqtt") return [404, { message: "no flow" }];
      const b = json();
      const ok = b.broker === this.broker.host && b.port === this.broker.port && b.username === this.broker.username && b.password === this.broker.password;
      if (!ok) return [200, this.brokerForm(flow, { base: "cannot_connect" })];
      this.flows.delete(flow);
      const entry = { entry_id: this.id("entry"), domain: "mqtt", title: b.broker, state: this.newEntryState };
      this.entries.push(entry);
      return [200, { type: "create_entry", flow_id: flow, title: b.broker, result: entry }];
    }
    return [404, { message: "not found" }];
  }

  private brokerForm(flow: string, errors: Record<string, string>) {
    return { type: "form", flow_id: flow, handler: "mqtt", step_id: "broker", data_schema: [{ name: "broker" }, { name: "port" }], errors, last_step: null };
  }

  /** Requests that change something (not GETs, not the login). */
  changes(): string[] {
    return this.requests.filter((r) => r.method !== "GET" && !r.path.startsWith("/auth/")).map((r) => `${r.method} ${r.path.replace(/(flow|entry)\d+[0-9a-f]{8}/g, "$1")}`);
  }
}

let dir: string;
let env: Record<string, string>;
let ha: FakeHass;
const secrets = () => path.join(dir, "secrets");

beforeEach(async () => {
  dir = tempDir("borg-hass-");
  fs.mkdirSync(secrets(), { recursive: true });
  fs.mkdirSync(path.join(dir, "state"), { recursive: true });
  fs.writeFileSync(path.join(secrets(), "hass-owner.password"), OWNER_PASSWORD);
  fs.writeFileSync(path.join(secrets(), "hass-mqtt.password"), MQTT_PASSWORD);
  // curl and jq through recorders: every command line they get is logged, so a test can prove
  // no secret was ever on one.
  const bin = path.join(dir, "bin");
  fs.mkdirSync(bin);
  for (const tool of ["curl", "jq"]) {
    const real = execFileSync("bash", ["-c", `command -v ${tool}`], { encoding: "utf8" }).trim();
    fs.writeFileSync(path.join(bin, tool), `#!/usr/bin/env bash\nprintf '%s\\n' "${tool} $*" >>"${path.join(dir, "argv.log")}"\nexec ${real} "$@"\n`, { mode: 0o755 });
  }
  env = {
    PATH: `${bin}:${process.env.PATH ?? "/usr/bin:/bin"}`,
    HOME: dir,
    BORG_ROOT_UID: String(process.getuid!()),
    BORG_STATE_DIR: path.join(dir, "state"),
    BORG_SECRETS_DIR: secrets(),
    BORG_GATE_INTERVAL: "0.1",
    BORG_HASS_TIMEOUT: "5",
  };
  ha = new FakeHass();
  await ha.start();
});
afterEach(async () => {
  await ha.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Runs a script without blocking the event loop (the stand-in answers from this process). */
function run(script: string, args: string[], extra: Record<string, string> = {}): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn("bash", [path.join(SERVICES, script), ...args], { env: { ...env, ...extra } });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += String(d)));
    child.stderr.on("data", (d) => (err += String(d)));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}
const configure = (extra: Record<string, string> = {}, url = ha.url) => run("hass-mqtt.sh", ["edge-pi", url, "127.0.0.1", "1883", "homeassistant", OWNER], extra);
const gate = (extra: Record<string, string> = {}, url = ha.url) => run("hass-gate.sh", ["edge-pi", url, OWNER], extra);
const argvLog = () => (fs.existsSync(path.join(dir, "argv.log")) ? fs.readFileSync(path.join(dir, "argv.log"), "utf8") : "");

describe("hass-mqtt.sh: the MQTT entry through HA's REST API", () => {
  it("fresh HA: waits for the API, onboards the generated owner, creates the entry with HA's own MQTT user", async () => {
    ha.startingFor = 3;
    const r = await configure();
    expect(r.code, r.err).toBe(0);
    expect(r.out).toBe("borg: edge-pi: hass: mqtt entry for homeassistant@127.0.0.1:1883 created\n");
    expect(r.err).toContain("hass: onboarding: created the owner 'borg'");
    expect(ha.users.get(OWNER)).toBe(OWNER_PASSWORD);
    expect(ha.entries).toEqual([expect.objectContaining({ domain: "mqtt", title: "127.0.0.1", state: "loaded" })]);
    expect(ha.changes()).toEqual(["POST /api/onboarding/users", "POST /api/config/config_entries/flow", "POST /api/config/config_entries/flow/flow"]);
    // the broker step carried exactly the four fields, the port as a number
    const step = ha.requests.find((q) => /^\/api\/config\/config_entries\/flow\/flow/.test(q.path))!;
    expect(JSON.parse(step.body)).toEqual({ broker: "127.0.0.1", port: 1883, username: "homeassistant", password: MQTT_PASSWORD });
    // the token request is a form, as HA's /auth/token wants; config calls carry the token
    expect(ha.requests.find((q) => q.path === "/auth/token")!.type).toBe("application/x-www-form-urlencoded");
    expect(ha.requests.filter((q) => q.path.startsWith("/api/config/")).every((q) => q.auth?.startsWith("Bearer access"))).toBe(true);
    // the session's refresh token is revoked on the way out
    expect(ha.revoked).toHaveLength(1);
    expect(ha.revoked[0]).toMatch(/^refresh/);
    // the marker holds a digest, not the password
    const marker = fs.readFileSync(path.join(dir, "state", "hass", "mqtt-entry"), "utf8");
    expect(marker).toMatch(/^digest=[0-9a-f]{64}\n$/);
    expect((fs.statSync(path.join(dir, "state", "hass")).mode & 0o777).toString(8)).toBe("700");
  });

  it("re-run with the entry in place: logs in (no second onboarding) and changes nothing — no second flow", async () => {
    expect((await configure()).code).toBe(0);
    ha.requests = [];
    const r = await configure();
    expect(r.code, r.err).toBe(0);
    expect(r.out).toBe("borg: edge-pi: hass: mqtt entry for homeassistant@127.0.0.1:1883 is in place\n");
    expect(ha.changes()).toEqual([]);
    expect(ha.requests.map((q) => q.path)).toContain("/auth/login_flow");
    expect(ha.entries).toHaveLength(1);
  });

  it("a rotated MQTT password (or an entry made by hand) is replaced by one with the current settings", async () => {
    expect((await configure()).code).toBe(0);
    const first = ha.entries[0]!.entry_id;
    ha.broker.password = "rotated-Secret-0123456789abcdefghij";
    fs.writeFileSync(path.join(secrets(), "hass-mqtt.password"), ha.broker.password);
    ha.requests = [];
    const r = await configure();
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain(`hass: removed the outdated mqtt entry ${first}`);
    expect(ha.changes()).toEqual(["DELETE /api/config/config_entries/entry/entry", "POST /api/config/config_entries/flow", "POST /api/config/config_entries/flow/flow"]);
    expect(ha.entries).toHaveLength(1);
    expect(ha.entries[0]!.entry_id).not.toBe(first);
    // an entry the operator made in the UI (no marker): ours replaces it as well
    fs.rmSync(path.join(dir, "state", "hass", "mqtt-entry"));
    ha.requests = [];
    expect((await configure()).code).toBe(0);
    expect(ha.changes()[0]).toBe("DELETE /api/config/config_entries/entry/entry");
  });

  it("supervised-style menu first: picks the manual broker step", async () => {
    ha.menu = true;
    const r = await configure();
    expect(r.code, r.err).toBe(0);
    expect(ha.entries).toHaveLength(1);
    const steps = ha.requests.filter((q) => /^\/api\/config\/config_entries\/flow\/flow/.test(q.path)).map((q) => JSON.parse(q.body));
    expect(steps[0]).toEqual({ next_step_id: "broker" });
  });

  it("no secret ever reaches a command line (curl's and jq's argv are recorded) or the output", async () => {
    expect((await configure()).code).toBe(0);
    const second = await configure();
    const log = argvLog();
    expect(log).toContain("curl ");
    for (const secret of [OWNER_PASSWORD, MQTT_PASSWORD, ...ha.tokens, ...ha.revoked]) {
      expect(log).not.toContain(secret);
      expect(second.out + second.err).not.toContain(secret);
    }
    // auth codes too (one-time, but secret while valid)
    expect(log).not.toMatch(/code\d+[0-9a-f]{8}/);
  });

  it("HA never answers: bounded, naming node, service, probe and the last output", async () => {
    const started = Date.now();
    const r = await configure({ BORG_GATE_MAX: "1" }, "http://127.0.0.1:1");
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^borg: edge-pi: hass: API answers on http:\/\/127\.0\.0\.1:1 \(manifest\.json\): not ready after 1s: manifest\.json: HTTP 000: .*(Connection refused|Couldn't connect)/m);
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it("HA onboarded by someone else: the owner's login is refused with a clear error", async () => {
    ha.users.set("someone", "else");
    const r = await configure();
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/borg: edge-pi: hass: owner login: 'borg' was refused \(invalid_auth\): Home Assistant was onboarded with another owner/);
    expect(ha.changes()).toEqual([]);
  });

  it("the broker refuses HA's user: the flow fails naming user, broker and HA's error", async () => {
    ha.broker.password = "not-what-the-secrets-dir-has";
    const r = await configure();
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/borg: edge-pi: hass: mqtt config flow: Home Assistant could not use homeassistant@127\.0\.0\.1:1883 \(\{"base":"cannot_connect"\}\)/);
    expect(fs.existsSync(path.join(dir, "state", "hass", "mqtt-entry"))).toBe(false);
  });

  it("an API error is reported with the request and HA's answer; missing secrets are named", async () => {
    ha.menu = true;
    // the menu without a broker step: nothing sensible to do
    (ha as any).route = ((orig) => (m: string, u: URL, a: string | undefined, b: string) =>
      m === "POST" && u.pathname === "/api/config/config_entries/flow" ? [200, { type: "menu", flow_id: "f1", menu_options: ["addon"] }] : orig.call(ha, m, u, a, b))((ha as any).route);
    const menu = await configure();
    expect(menu.code).toBe(1);
    expect(menu.err).toMatch(/hass: mqtt config flow: no broker step in the menu/);
    fs.rmSync(path.join(secrets(), "hass-mqtt.password"));
    const missing = await configure();
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/hass: .*secrets\/hass-mqtt\.password is missing: were the secrets installed\?/);
  });
});

describe("hass-gate.sh", () => {
  it("passes once HA answers and its MQTT entry is loaded", async () => {
    expect((await configure()).code).toBe(0);
    const r = await gate();
    expect(r.code, r.err).toBe(0);
    expect(r.out).toBe("borg: edge-pi: hass: ready\n");
    expect(r.err).toContain("hass: mqtt entry loaded: ready");
  });

  it("fails, bounded, with the entry's state when HA cannot set MQTT up", async () => {
    ha.newEntryState = "setup_retry";
    expect((await configure()).code).toBe(0);
    ha.entries[0]!.reason = "Connection refused";
    const r = await gate({ BORG_GATE_MAX: "1" });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^borg: edge-pi: hass: mqtt entry loaded: not ready after 1s: entry entry\d+[0-9a-f]+: setup_retry \(Connection refused\)/m);
  });

  it("fails when there is no MQTT entry at all", async () => {
    ha.users.set(OWNER, OWNER_PASSWORD);
    const r = await gate({ BORG_GATE_MAX: "1" });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/hass: mqtt entry loaded: not ready after 1s: no mqtt entry/);
  });
});

describe("over HTTPS (outside dev)", () => {
  let tls: FakeHass;
  beforeEach(async () => {
    // A CA and a server certificate for 127.0.0.1, as pki.ts issues them.
    const o = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
    o("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ca.key");
    o("req", "-x509", "-new", "-key", "ca.key", "-subj", "/CN=borg test Home Assistant CA", "-days", "2", "-out", "ca.crt");
    o("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ha.key");
    o("req", "-new", "-key", "ha.key", "-subj", "/CN=edge-pi", "-out", "ha.csr");
    fs.writeFileSync(path.join(dir, "ha.ext"), "subjectAltName=DNS:edge-pi,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
    o("x509", "-req", "-in", "ha.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-extfile", "ha.ext", "-out", "ha.crt");
    tls = new FakeHass({ key: fs.readFileSync(path.join(dir, "ha.key")), cert: fs.readFileSync(path.join(dir, "ha.crt")) });
    await tls.start();
  });
  afterEach(() => tls.stop());

  it("verifies HA's certificate against the stack's CA from the secrets dir", async () => {
    fs.copyFileSync(path.join(dir, "ca.crt"), path.join(secrets(), "hass-ca.crt"));
    const r = await run("hass-mqtt.sh", ["edge-pi", tls.url, "127.0.0.1", "1883", "homeassistant", OWNER]);
    expect(r.code, r.err).toBe(0);
    expect(tls.entries).toHaveLength(1);
    expect(argvLog()).toContain(`--cacert ${path.join(secrets(), "hass-ca.crt")}`);
  });

  it("refuses a certificate the CA did not sign, and a missing CA file", async () => {
    const o = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
    o("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "other.key");
    o("req", "-x509", "-new", "-key", "other.key", "-subj", "/CN=other CA", "-days", "2", "-out", "other.crt");
    fs.copyFileSync(path.join(dir, "other.crt"), path.join(secrets(), "hass-ca.crt"));
    const r = await run("hass-mqtt.sh", ["edge-pi", tls.url, "127.0.0.1", "1883", "homeassistant", OWNER], { BORG_GATE_MAX: "1" });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/manifest\.json\): not ready after 1s: manifest\.json: HTTP 000: .*certificate/i);
    expect(tls.requests).toEqual([]);
    fs.rmSync(path.join(secrets(), "hass-ca.crt"));
    const missing = await run("hass-mqtt.sh", ["edge-pi", tls.url, "127.0.0.1", "1883", "homeassistant", OWNER]);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/hass: .*hass-ca\.crt is missing/);
  });
});

describe("arguments", () => {
  it("rejects bad arguments before any request", async () => {
    for (const args of [
      ["edge-pi", "ftp://x", "127.0.0.1", "1883", "homeassistant", OWNER],
      ["edge-pi", ha.url, "127.0.0.1", "port", "homeassistant", OWNER],
      ["Edge_Pi", ha.url, "127.0.0.1", "1883", "homeassistant", OWNER],
      ["edge-pi", ha.url, "127.0.0.1", "1883", "home assistant", OWNER],
    ]) {
      const r = await run("hass-mqtt.sh", args);
      expect(r.code, args.join(" ")).toBe(1);
    }
    expect(ha.requests).toEqual([]);
  });
});
