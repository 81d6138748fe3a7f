// The Consul node scripts (node-scripts/services/consul-*.sh) run for real against a stand-in
// Consul HTTP API: an HTTPS server on loopback (certificate from a throw-away CA made with
// openssl) that keeps cluster state and answers the endpoints the scripts use as Consul's API
// documents them (ACL tokens, 403 for a bad token, anonymous catalog reads filtered to nothing,
// autopilot health 200/429). No real Consul binary exists here (Debian does not ship it: BSL).
// `curl` and `jq` are wrapped so every command line they get is recorded: no token may appear.
import { spawn, execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as https from "node:https";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../components/bundle.js";

const SCRIPTS = path.join(PROJECT_ROOT, "node-scripts", "services");
const MGMT = "4f1f0c4e-9b1e-4d4e-8d0e-6a1f0c4e9b1e";
const SECRETS = {
  queen: "11111111-aaaa-4bbb-8ccc-000000000001",
  "drone-1": "11111111-aaaa-4bbb-8ccc-000000000002",
  "edge-pi": "11111111-aaaa-4bbb-8ccc-000000000003",
};
const ACCESSORS = {
  queen: "22222222-aaaa-5bbb-8ccc-000000000001",
  "drone-1": "22222222-aaaa-5bbb-8ccc-000000000002",
  "edge-pi": "22222222-aaaa-5bbb-8ccc-000000000003",
};
const ALL_SECRETS = [MGMT, ...Object.values(SECRETS)];

interface Token {
  AccessorID: string;
  SecretID: string;
  Description: string;
  NodeIdentities?: { NodeName: string; Datacenter: string }[];
  Policies?: { Name: string }[];
}

/** What the stand-in API holds; tests change it between and during runs. */
interface ClusterState {
  leader: string;
  /** When set, the leader appears once this many leader probes have been answered without one. */
  leaderAfterProbes?: number;
  aclReady: boolean;
  raft: { Node: string; Voter: boolean; Leader: boolean }[];
  healthy: boolean;
  members: { Name: string; Status: number }[];
  catalog: string[];
  /** What an anonymous catalog read returns (ACLs working: nothing). */
  anonymousSees: string[];
  tokens: Map<string, Token>;
  requests: { method: string; path: string; token: string | null }[];
}

let dir: string;
let server: https.Server;
let port = 0;
let state: ClusterState;
let caFile: string;

function freshState(): ClusterState {
  const tokens = new Map<string, Token>();
  tokens.set("mgmt-accessor", { AccessorID: "mgmt-accessor", SecretID: MGMT, Description: "Initial Management Token", Policies: [{ Name: "global-management" }] });
  return {
    leader: "10.42.0.10:8300",
    aclReady: true,
    raft: ["queen", "drone-1", "drone-2"].map((Node, i) => ({ Node, Voter: true, Leader: i === 0 })),
    healthy: true,
    members: ["queen", "drone-1", "drone-2", "edge-pi"].map((Name) => ({ Name, Status: 1 })),
    catalog: ["queen", "drone-1", "drone-2", "edge-pi"],
    anonymousSees: [],
    tokens,
    requests: [],
  };
}

function handle(req: import("node:http").IncomingMessage, res: import("node:http").ServerResponse, body: string): void {
  const url = new URL(req.url ?? "/", "https://127.0.0.1");
  const token = (req.headers["x-consul-token"] as string | undefined) ?? null;
  state.requests.push({ method: req.method ?? "", path: url.pathname, token });
  // Consul answers errors in plain text and everything else in JSON (the leader too: "ip:port").
  const send = (code: number, value: unknown) => {
    const text = code >= 400 && typeof value === "string";
    res.writeHead(code, { "Content-Type": text ? "text/plain" : "application/json" });
    res.end(text ? value : JSON.stringify(value));
  };
  const key = `${req.method} ${url.pathname}`;
  if (key === "GET /v1/status/leader") {
    // A leader elected after a number of probes, not after a delay: the test cannot race the load.
    if (state.leaderAfterProbes !== undefined && state.requests.filter((q) => q.path === "/v1/status/leader").length > state.leaderAfterProbes) state.leader = "10.42.0.10:8300";
    return send(200, state.leader);
  }
  // Everything else needs a token; the management token can do anything.
  const authed = token !== null && state.aclReady && token === MGMT;
  if (key === "GET /v1/catalog/nodes") {
    const names = authed ? state.catalog : state.anonymousSees;
    return send(200, names.map((Node) => ({ Node, Address: "10.42.0.1", Datacenter: "hive" })));
  }
  if (!state.aclReady) return send(403, "ACL system must be bootstrapped before making any requests that require authorization: ACL not found");
  if (!authed) return send(403, "ACL not found");
  if (key === "GET /v1/operator/raft/configuration") return send(200, { Servers: state.raft.map((s) => ({ ...s, ID: s.Node, Address: "x:8300" })), Index: 1 });
  if (key === "GET /v1/operator/autopilot/health") {
    return send(state.healthy ? 200 : 429, {
      Healthy: state.healthy,
      FailureTolerance: state.healthy ? 1 : 0,
      Servers: state.raft.map((s, i) => ({ Name: s.Node, SerfStatus: state.healthy || i > 0 ? "alive" : "failed", Healthy: state.healthy || i > 0, Voter: s.Voter })),
    });
  }
  if (key === "GET /v1/agent/members") return send(200, state.members.map((m) => ({ ...m, Addr: "10.42.0.1", Port: 8301, Tags: {} })));
  if (key === "GET /v1/acl/token/self") return send(200, state.tokens.get("mgmt-accessor"));
  // The list answer carries SecretIDs here on purpose: the scripts must never print them.
  if (key === "GET /v1/acl/tokens") return send(200, [...state.tokens.values()]);
  const tokenPath = url.pathname.match(/^\/v1\/acl\/token\/([0-9a-z-]+)$/);
  if (req.method === "GET" && tokenPath) {
    const t = state.tokens.get(tokenPath[1]!);
    return t ? send(200, t) : send(403, "Requested token does not exist: ACL not found");
  }
  if (req.method === "DELETE" && tokenPath) {
    if (!state.tokens.delete(tokenPath[1]!)) return send(500, `Cannot find token to delete`);
    return send(200, true);
  }
  if (key === "PUT /v1/acl/token") {
    const t = JSON.parse(body) as Token;
    if (state.tokens.has(t.AccessorID)) return send(500, "Invalid Token: AccessorID is already in use");
    if ([...state.tokens.values()].some((o) => o.SecretID === t.SecretID)) return send(500, "Invalid Token: SecretID is already in use");
    state.tokens.set(t.AccessorID, t);
    return send(200, t);
  }
  return send(404, `stand-in: no ${key}`);
}

function openssl(...args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: "ignore" });
}

beforeAll(async () => {
  dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "borg-consul-scripts-")));
  // A throw-away CA and a server certificate for 127.0.0.1, as the agent's would carry.
  openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "1", "-subj", "/CN=test consul ca");
  openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "srv.key", "-out", "srv.csr", "-subj", "/CN=server.hive.consul");
  fs.writeFileSync(path.join(dir, "ext.cnf"), "subjectAltName=DNS:server.hive.consul,DNS:localhost,IP:127.0.0.1\n");
  openssl("x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "srv.pem", "-days", "1", "-extfile", "ext.cnf");
  openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "other.key", "-out", "other-ca.pem", "-days", "1", "-subj", "/CN=someone else");
  caFile = path.join(dir, "ca.pem");
  server = https.createServer({ key: fs.readFileSync(path.join(dir, "srv.key")), cert: fs.readFileSync(path.join(dir, "srv.pem")) }, (req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => handle(req, res, body));
  });
  // Port 0: the kernel picks a free one (other runs of this suite may be listening too).
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;

  // Wrappers that record the command line of every curl and jq call, then run the real tool.
  const bin = path.join(dir, "bin");
  fs.mkdirSync(bin);
  for (const tool of ["curl", "jq"]) {
    const real = execFileSync("bash", ["-c", `command -v ${tool}`], { encoding: "utf8" }).trim();
    fs.writeFileSync(path.join(bin, tool), `#!/usr/bin/env bash\nprintf '%s\\n' "${tool} $*" >>"$ARGV_LOG"\nexec ${real} "$@"\n`, { mode: 0o755 });
  }
  // systemctl: consul.service is active while $FAKE_DIR/consul-active exists.
  fs.writeFileSync(
    path.join(bin, "systemctl"),
    `#!/usr/bin/env bash\nif [[ -e "$FAKE_DIR/consul-active" ]]; then s=active; else s=inactive; fi\n[[ " $* " == *" --quiet "* ]] || echo "$s"\n[[ "$s" == active ]]\n`,
    { mode: 0o755 },
  );
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  fs.rmSync(dir, { recursive: true, force: true });
});

let run: { state: string; env: Record<string, string>; argvLog: string; fake: string; secretsFile: string };
beforeEach(() => {
  state = freshState();
  const base = fs.mkdtempSync(path.join(dir, "run-"));
  const fake = path.join(base, "fake");
  fs.mkdirSync(fake);
  const secretsFile = path.join(base, "consul-secrets.json");
  fs.writeFileSync(secretsFile, JSON.stringify({ encrypt: "x", acl: { tokens: { initial_management: MGMT, agent: SECRETS.queen } } }));
  const envFile = path.join(base, "consul.env");
  writeEnv(envFile, { CONSUL_HTTP_ADDR: `https://127.0.0.1:${port}`, CONSUL_CACERT: caFile, BORG_CONSUL_SECRETS: secretsFile });
  const argvLog = path.join(base, "argv.log");
  fs.writeFileSync(argvLog, "");
  run = {
    state: path.join(base, "state"),
    argvLog,
    fake,
    secretsFile,
    env: {
      PATH: `${path.join(dir, "bin")}:${process.env.PATH ?? "/usr/bin:/bin"}`,
      BORG_ROOT_UID: String(process.getuid!()),
      BORG_STATE_DIR: path.join(base, "state"),
      BORG_CONSUL_ENV: envFile,
      BORG_GATE_INTERVAL: "0.1",
      BORG_CONSUL_GATE_TIMEOUT: "3",
      BORG_CONSUL_GUARD_TIMEOUT: "3",
      ARGV_LOG: argvLog,
      FAKE_DIR: fake,
    },
  };
});

afterEach(() => {
  // No token ever on a command line (curl's and jq's argv are recorded for every call).
  const argv = fs.readFileSync(run.argvLog, "utf8");
  for (const s of ALL_SECRETS) expect(argv).not.toContain(s);
});

function writeEnv(file: string, vars: Record<string, string>): void {
  fs.writeFileSync(file, Object.entries(vars).map(([k, v]) => `${k}=${v}\n`).join(""));
}

interface Result {
  code: number | null;
  out: string;
  err: string;
}

/** Runs a script asynchronously: the stand-in API lives on this process's event loop. */
function sh(script: string, args: string[], stdin = "", env: Record<string, string> = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn("bash", [path.join(SCRIPTS, script), ...args], { env: { ...run.env, ...env }, stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("error", reject);
    child.on("close", (code) => {
      // Whatever a script prints, on success or failure, holds no token.
      for (const s of ALL_SECRETS) {
        expect(out).not.toContain(s);
        expect(err).not.toContain(s);
      }
      resolve({ code, out, err });
    });
    child.stdin.end(stdin);
  });
}

const tokenLines = (names: (keyof typeof SECRETS)[] = ["queen", "drone-1", "edge-pi"], secrets: Partial<Record<keyof typeof SECRETS, string>> = {}) =>
  names.map((n) => `${n} ${ACCESSORS[n]} ${secrets[n] ?? SECRETS[n]}\n`).join("");
const writes = () => state.requests.filter((r) => r.method !== "GET");

describe("consul-gate.sh servers", () => {
  it("passes once a leader is elected and every server is a raft voter", async () => {
    state.leader = "";
    state.leaderAfterProbes = 1;
    const r = await sh("consul-gate.sh", ["queen", "servers", "queen,drone-1,drone-2"]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toBe("borg: queen: consul: leader elected, raft voters: queen,drone-1,drone-2\n");
    // The leader probe really waited: at least one answer without a leader came first.
    expect(state.requests.filter((q) => q.path === "/v1/status/leader").length).toBeGreaterThanOrEqual(2);
    // Authenticated calls carried the management token from the secret config file.
    expect(state.requests.find((q) => q.path === "/v1/operator/raft/configuration")?.token).toBe(MGMT);
  });

  it("fails in bounded time naming the node, the service, the probe and the servers that are not voters", async () => {
    state.raft[2]!.Voter = false;
    const t0 = Date.now();
    const r = await sh("consul-gate.sh", ["queen", "servers", "queen,drone-1,drone-2"]);
    expect(r.code).toBe(1);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(r.err).toMatch(/borg: queen: consul: raft voters queen,drone-1,drone-2: not ready after 3s: not raft voters: drone-2 \(peers: /);
  });

  it("fails when there is never a leader", async () => {
    state.leader = "";
    const r = await sh("consul-gate.sh", ["queen", "servers", "queen"]);
    expect(r.code).toBe(1);
    expect(r.err).toContain("borg: queen: consul: leader elected: not ready after 3s: no leader yet (HTTP 200: \"\")");
  });

  it("refuses an API whose certificate is not from the node's CA", async () => {
    writeEnv(run.env.BORG_CONSUL_ENV!, { CONSUL_HTTP_ADDR: `https://127.0.0.1:${port}`, CONSUL_CACERT: path.join(dir, "other-ca.pem"), BORG_CONSUL_SECRETS: run.secretsFile });
    const r = await sh("consul-gate.sh", ["queen", "servers", "queen"]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/consul: leader elected: not ready after 3s: GET \/v1\/status\/leader: curl: \(60\)/);
    expect(state.requests).toEqual([]);
  });

  it("needs the management token: a client's secret config has none", async () => {
    fs.writeFileSync(run.secretsFile, JSON.stringify({ acl: { tokens: { agent: SECRETS["drone-1"] } } }));
    const r = await sh("consul-gate.sh", ["drone-1", "servers", "queen"]);
    expect(r.code).toBe(1);
    expect(r.err).toContain("holds no management token (is drone-1 a Consul server?)");
  });

  it("a wrong management token is reported, not mistaken for a missing voter", async () => {
    fs.writeFileSync(run.secretsFile, JSON.stringify({ acl: { tokens: { initial_management: "00000000-0000-4000-8000-000000000000" } } }));
    const r = await sh("consul-gate.sh", ["queen", "servers", "queen"]);
    expect(r.code).toBe(1);
    expect(r.err).toContain("raft voters queen: not ready after 3s: raft configuration: HTTP 403: ACL not found");
  });

  it("rejects bad arguments before calling anything", async () => {
    for (const args of [["queen", "servers", "queen;reboot"], ["queen", "everything", "queen"], ["Queen", "servers", "queen"], ["queen", "servers"]]) {
      const r = await sh("consul-gate.sh", args);
      expect(r.code, args.join(" ")).toBe(1);
    }
    expect(state.requests).toEqual([]);
  });
});

describe("consul-gate.sh cluster", () => {
  const everyone = "queen,drone-1,drone-2,edge-pi";

  it("passes with every member alive and anonymous catalog reads seeing nothing", async () => {
    const r = await sh("consul-gate.sh", ["queen", "cluster", everyone]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toBe(`borg: queen: consul: leader elected, members alive: ${everyone}; anonymous catalog read denied\n`);
    const catalog = state.requests.filter((q) => q.path === "/v1/catalog/nodes");
    expect(catalog.map((q) => q.token)).toEqual([MGMT, null]);
  });

  it("fails naming a member that is not alive, and one that never joined", async () => {
    state.members[1]!.Status = 4;
    state.members.pop();
    const r = await sh("consul-gate.sh", ["queen", "cluster", everyone]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`consul: members alive ${everyone}: not ready after 3s: not alive: drone-1=failed,edge-pi=absent`);
  });

  it("fails when an anonymous request can read the catalog (ACLs not enforced)", async () => {
    state.anonymousSees = ["queen", "edge-pi"];
    const r = await sh("consul-gate.sh", ["queen", "cluster", everyone]);
    expect(r.code).toBe(1);
    expect(r.err).toContain("consul: anonymous catalog read denied: not ready after 3s: ANONYMOUS CATALOG READ ALLOWED: sees queen,edge-pi");
  });

  it("an empty anonymous answer counts only when the management token sees the node", async () => {
    state.catalog = [];
    const r = await sh("consul-gate.sh", ["queen", "cluster", everyone]);
    expect(r.code).toBe(1);
    expect(r.err).toContain("anonymous catalog read denied: not ready after 3s: the catalog does not list queen yet");
  });
});

describe("consul-agent-tokens.sh", () => {
  it("creates every node's token with its AccessorID, SecretID and node identity, then changes nothing on a re-run", async () => {
    const r = await sh("consul-agent-tokens.sh", ["queen", "hive"], tokenLines());
    expect(r.code, r.err).toBe(0);
    expect(r.out).toBe("borg: queen: consul: agent tokens: 3 created, 0 rotated, 0 unchanged, 0 revoked\n");
    for (const n of ["queen", "drone-1", "edge-pi"] as const) {
      expect(state.tokens.get(ACCESSORS[n])).toEqual({
        AccessorID: ACCESSORS[n],
        SecretID: SECRETS[n],
        Description: `borg agent token for ${n}`,
        NodeIdentities: [{ NodeName: n, Datacenter: "hive" }],
        Local: false,
      });
    }
    state.requests = [];
    const again = await sh("consul-agent-tokens.sh", ["queen", "hive"], tokenLines());
    expect(again.code, again.err).toBe(0);
    expect(again.out).toBe("borg: queen: consul: agent tokens: 0 created, 0 rotated, 3 unchanged, 0 revoked\n");
    expect(writes()).toEqual([]);
  });

  it("re-creates a token whose SecretID changed (rotation) and deletes the token of a node that left", async () => {
    await sh("consul-agent-tokens.sh", ["queen", "hive"], tokenLines());
    state.requests = [];
    const rotated = "33333333-aaaa-4bbb-8ccc-000000000009";
    ALL_SECRETS.push(rotated);
    const r = await sh("consul-agent-tokens.sh", ["queen", "hive"], tokenLines(["queen", "drone-1"], { "drone-1": rotated }));
    expect(r.code, r.err).toBe(0);
    expect(r.out).toBe("borg: queen: consul: agent tokens: 0 created, 1 rotated, 1 unchanged, 1 revoked\n");
    expect(state.tokens.get(ACCESSORS["drone-1"])?.SecretID).toBe(rotated);
    expect(state.tokens.has(ACCESSORS["edge-pi"])).toBe(false);
    expect(state.tokens.has("mgmt-accessor")).toBe(true); // never touches tokens it did not make
    expect(writes().map((q) => `${q.method} ${q.path}`)).toEqual([
      `DELETE /v1/acl/token/${ACCESSORS["drone-1"]}`,
      "PUT /v1/acl/token",
      `DELETE /v1/acl/token/${ACCESSORS["edge-pi"]}`,
    ]);
  });

  it("re-creates a token whose node identity is not the expected one", async () => {
    state.tokens.set(ACCESSORS.queen, { AccessorID: ACCESSORS.queen, SecretID: SECRETS.queen, Description: "borg agent token for queen", NodeIdentities: [{ NodeName: "queen", Datacenter: "other" }] });
    const r = await sh("consul-agent-tokens.sh", ["queen", "hive"], tokenLines(["queen"]));
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain("0 created, 1 rotated");
    expect(state.tokens.get(ACCESSORS.queen)?.NodeIdentities).toEqual([{ NodeName: "queen", Datacenter: "hive" }]);
  });

  it("waits for the ACL system to take the management token (a moment after the first leader)", async () => {
    state.aclReady = false;
    setTimeout(() => (state.aclReady = true), 400);
    const r = await sh("consul-agent-tokens.sh", ["queen", "hive"], tokenLines());
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain("3 created");
  });

  it("fails naming the probe when the ACL system never accepts the token", async () => {
    state.aclReady = false;
    const r = await sh("consul-agent-tokens.sh", ["queen", "hive"], tokenLines());
    expect(r.code).toBe(1);
    expect(r.err).toContain("consul: ACL system takes the management token: not ready after 3s: management token: HTTP 403: ACL system must be bootstrapped");
    expect(state.tokens.size).toBe(1);
  });

  it("rejects a malformed record by line number, without echoing it and before any request", async () => {
    const r = await sh("consul-agent-tokens.sh", ["queen", "hive"], `${tokenLines(["queen"])}drone-1 ${ACCESSORS["drone-1"]} not-a-uuid-${SECRETS["drone-1"]}\n`);
    expect(r.code).toBe(1);
    expect(r.err).toBe("borg: queen: consul: token record on line 2 is malformed (expected '<node> <accessor-uuid> <secret-uuid>')\n");
    expect(state.requests).toEqual([]);
    const empty = await sh("consul-agent-tokens.sh", ["queen", "hive"], "");
    expect(empty.err).toContain("no token records on stdin");
  });

  it("stops at the first failed write and says which node", async () => {
    state.tokens.set("squatter", { AccessorID: "squatter", SecretID: SECRETS["drone-1"], Description: "someone else's" });
    const r = await sh("consul-agent-tokens.sh", ["queen", "hive"], tokenLines());
    expect(r.code).toBe(1);
    expect(r.err).toContain("consul: creating the token of drone-1: HTTP 500");
  });
});

describe("consul-guard.sh", () => {
  const active = (on: boolean) => (on ? fs.writeFileSync(path.join(run.fake, "consul-active"), "") : fs.rmSync(path.join(run.fake, "consul-active"), { force: true }));
  const guardState = () => fs.readFileSync(path.join(run.state, "guards", "consul"), "utf8");

  it("first deploy: Consul does not run yet, so before passes at once and after waits for the agent", async () => {
    fs.renameSync(run.env.BORG_CONSUL_ENV!, `${run.env.BORG_CONSUL_ENV}.new`); // the old system has no Consul
    const before = await sh("consul-guard.sh", ["queen", "before"]);
    expect(before.code, before.err).toBe(0);
    expect(before.out).toBe("borg: queen: consul: not running on queen yet: nothing to guard\n");
    expect(guardState()).toMatch(/^before=absent\n/);
    fs.renameSync(`${run.env.BORG_CONSUL_ENV}.new`, run.env.BORG_CONSUL_ENV!); // the new system has it
    setTimeout(() => active(true), 300);
    const after = await sh("consul-guard.sh", ["queen", "after"]);
    expect(after.code, after.err).toBe(0);
    expect(after.out).toBe("borg: queen: consul: started on queen (it did not run before this switch)\n");
    // A first deploy of 3 servers has no leader until the third: after must not wait for one.
    expect(state.requests).toEqual([]);
    expect(fs.existsSync(path.join(run.state, "guards", "consul"))).toBe(false);
  });

  it("a running server switches only once the raft peer set is healthy, and after waits until it is a voter again", async () => {
    active(true);
    state.healthy = false;
    setTimeout(() => (state.healthy = true), 400);
    const before = await sh("consul-guard.sh", ["drone-1", "before"]);
    expect(before.code, before.err).toBe(0);
    expect(before.out).toBe("borg: drone-1: consul: raft peer set healthy: drone-1 may switch\n");
    expect(guardState()).toMatch(/^before=healthy\n/);
    // The switch: drone-1 drops out of the peer set and comes back.
    state.raft[1]!.Voter = false;
    state.healthy = false;
    setTimeout(() => (state.raft[1]!.Voter = true), 300);
    setTimeout(() => (state.healthy = true), 600);
    const after = await sh("consul-guard.sh", ["drone-1", "after"]);
    expect(after.code, after.err).toBe(0);
    expect(after.out).toBe("borg: drone-1: consul: drone-1 is a voter again and the raft peer set is healthy\n");
  });

  it("before fails in bounded time while the peer set is unhealthy, naming the unhealthy servers", async () => {
    active(true);
    state.healthy = false;
    const r = await sh("consul-guard.sh", ["drone-1", "before"]);
    expect(r.code).toBe(1);
    expect(r.err).toContain('consul: raft peer set healthy before switching drone-1: not ready after 3s: unhealthy: [{"Name":"queen","SerfStatus":"failed","Voter":true}]');
  });

  it("after fails when the server does not come back into the peer set", async () => {
    active(true);
    await sh("consul-guard.sh", ["drone-1", "before"]);
    state.raft[1]!.Voter = false;
    const r = await sh("consul-guard.sh", ["drone-1", "after"]);
    expect(r.code).toBe(1);
    expect(r.err).toContain("consul: drone-1 back in the raft peer set: not ready after 3s: not raft voters: drone-1");
  });

  it("after fails when the agent never becomes active", async () => {
    const r = await sh("consul-guard.sh", ["queen", "after"]);
    expect(r.code).toBe(1);
    expect(r.err).toContain("consul: consul.service active on queen: not ready after 3s: consul.service is inactive");
  });
});

describe("the Consul scripts", () => {
  it("pass shellcheck and start like every node script", () => {
    const files = fs.readdirSync(SCRIPTS).filter((f) => f.startsWith("consul-") && f.endsWith(".sh"));
    expect(files.sort()).toEqual(["consul-agent-tokens.sh", "consul-gate.sh", "consul-guard.sh", "consul-lib.sh"]);
    for (const f of files) expect(fs.readFileSync(path.join(SCRIPTS, f), "utf8")).toMatch(/^(#!\/usr\/bin\/env bash|# shellcheck shell=bash)\n/);
    const r = execFileSync("shellcheck", ["-x", ...files.map((f) => path.join("node-scripts", "services", f))], { cwd: PROJECT_ROOT, encoding: "utf8" });
    expect(r).toBe("");
  });
});
