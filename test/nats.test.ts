// NATS without a daemon: node settings, users and permissions, the stack's streams and their
// validation, the pure stream logic and the dynamic provider's check/diff, the secret files (their
// variables are exactly what each rendered config refers to), and the component in the plans.
// The real nats-server runs in nats.daemon.test.ts.
import bcrypt from "bcryptjs";
import * as fs from "node:fs";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { validateConfig, type CollectiveSpec } from "../components/config/validate.js";
import { renderServices } from "../components/services/index.js";
import {
  natsAuthFile,
  natsLinksFile,
  natsPasswordHash,
  natsRoles,
  natsStreams,
  subjectWithin,
  withCredentials,
  type NatsSettings,
} from "../components/services/nats.js";
import {
  durationNanos,
  durationText,
  fromJetStreamConfig,
  immutableChanges,
  isValidSubject,
  NatsStreamProvider,
  sizeBytes,
  streamChanges,
  subjectsOverlap,
  toJetStreamConfig,
  waitForReplicas,
  type StreamSpec,
} from "../components/services/natsStreams.js";
import { STACKS, stackFile, stackValues, synth, synthFresh, tempDir, type Synth } from "./helpers.js";
import { renderNats } from "./lib/natsLoopback.js";

function spec(stack: string, edit: (c: Record<string, any>) => void = () => {}): CollectiveSpec {
  const raw: Record<string, any> = { ...stackValues(stack), sshPrivateKey: "<set>", proxmoxApiToken: "<set>" };
  edit(raw);
  const result = validateConfig(raw);
  if (!result.ok) throw new Error(result.problems.join("\n"));
  return result.spec;
}
const problems = (stack: string, edit: (c: Record<string, any>) => void) => {
  const raw: Record<string, any> = { ...stackValues(stack), sshPrivateKey: "<set>", proxmoxApiToken: "<set>" };
  edit(raw);
  const result = validateConfig(raw);
  return result.ok ? [] : result.problems;
};
const natsOf = (s: CollectiveSpec, node: string): NatsSettings => renderServices(s, s.nodes.find((n) => n.name === node)!).nats;
const streamsOf = (s: CollectiveSpec) => Object.fromEntries(natsStreams(s.services.nats).map((x) => [x.name, x]));

describe("node settings", () => {
  const prod = spec("prod");

  it("the queen: a JetStream peer routing to every other server, the leaf hub, TLS files from the credentials dir", () => {
    const q = natsOf(prod, "queen");
    expect(q).toMatchObject({ enable: true, serverName: "queen", jetstream: true, leafnodeHub: true, tls: true, address: "10.42.0.10", storeDir: "/var/lib/nats" });
    expect(q.ports).toEqual({ client: 4222, cluster: 6222, leafnodeHub: 7422, monitor: 8222 });
    expect(q.routes).toEqual(["nats-route://10.42.0.11:6222", "nats-route://10.42.0.12:6222", "nats-route://10.42.0.13:6222"]);
    expect(q.credentials).toEqual({
      dir: "/run/credentials/nats.service",
      sourceDir: "/var/lib/borg/secrets",
      auth: "nats-auth.conf",
      links: "nats-links.conf",
      tls: { ca: "nats-ca.pem", cert: "nats-cert.pem", key: "nats-key.pem" },
    });
    expect(natsRoles(q)).toEqual(["nats-server", "nats-leaf-hub"]);
  });

  it("a drone outside the peer set routes without JetStream; the Pi is a leaf of the queen only", () => {
    expect(natsOf(prod, "drone-3")).toMatchObject({ jetstream: false, leafnodeHub: false, ports: { cluster: 6222, leafnodeHub: null } });
    expect(natsRoles(natsOf(prod, "drone-3"))).toEqual(["nats-server"]);
    const pi = natsOf(prod, "edge-pi");
    expect(pi).toMatchObject({ jetstream: false, routes: [], leafnodeRemotes: ["nats-leaf://10.42.0.10:7422"], ports: { cluster: null, leafnodeHub: null } });
    expect(natsRoles(pi)).toEqual(["nats-leaf"]);
  });

  it("dev: no TLS files, one JetStream peer (the queen)", () => {
    const dev = spec("dev");
    expect(natsOf(dev, "queen")).toMatchObject({ tls: false, jetstream: true, credentials: { tls: null } });
    expect(natsOf(dev, "drone-1").jetstream).toBe(false);
  });

  it("users: each role its own subject trees plus consumers on its own streams; the admin only the JetStream API; the system user unrestricted in SYS", () => {
    const users = Object.fromEntries(natsOf(prod, "queen").users.map((u) => [u.name, u]));
    expect(Object.keys(users)).toEqual(["cim-events", "cim-commands", "cim-queries", "cim-sagas", "borg-admin", "sys"]);
    expect(users["cim-events"]!.permissions).toEqual({
      publish: [
        "cim.events.>",
        "cim.snapshots.>",
        "$JS.API.INFO",
        ...["CIM_EVENTS", "CIM_SNAPSHOTS"].flatMap((s) => [
          `$JS.API.STREAM.INFO.${s}`,
          `$JS.API.CONSUMER.*.${s}`,
          `$JS.API.CONSUMER.*.${s}.>`,
          `$JS.API.CONSUMER.DURABLE.CREATE.${s}.>`,
          `$JS.API.CONSUMER.MSG.NEXT.${s}.>`,
          `$JS.ACK.${s}.>`,
        ]),
      ],
      subscribe: ["cim.events.>", "cim.snapshots.>", "_INBOX.>"],
      allowResponses: true,
    });
    // cim.queries.> holds the query cache's cim.queries.results.>
    expect(users["cim-queries"]!.permissions!.publish).toContain("$JS.API.STREAM.INFO.CIM_QUERY_CACHE");
    expect(users["cim-commands"]!.permissions!.publish).not.toContain("$JS.API.STREAM.INFO.CIM_EVENTS");
    expect(users["borg-admin"]).toMatchObject({ account: "CIM", permissions: { publish: ["$JS.API.>"], subscribe: ["_INBOX.>"], allowResponses: false } });
    expect(users.sys).toEqual({ name: "sys", account: "SYS", hashVariable: "NATS_HASH_SYS", permissions: null });
    // A stack stream inside a role's tree is that role's to consume.
    const withAudit = spec("prod", (c) => (c.services.nats = { ...c.services.nats, streams: { AUDIT: { subjects: ["cim.queries.audit.>"] } } }));
    expect(natsOf(withAudit, "queen").users.find((u) => u.name === "cim-queries")!.permissions!.publish).toContain("$JS.ACK.AUDIT.>");
  });

  it("subjectWithin: a pattern inside another", () => {
    expect(subjectWithin("cim.queries.results.>", "cim.queries.>")).toBe(true);
    expect(subjectWithin("cim.queries.>", "cim.queries.>")).toBe(true);
    expect(subjectWithin("cim.queries", "cim.queries.>")).toBe(false);
    expect(subjectWithin("cim.*.x", "cim.events.>")).toBe(false);
    expect(subjectWithin("cim.events.x", "cim.*.x")).toBe(true);
    expect(subjectWithin(">", "cim.>")).toBe(false);
  });
});

describe("streams of a stack", () => {
  it("seed 003's CIM streams; R3 capped at the JetStream peers (dev runs one)", () => {
    const prod = streamsOf(spec("prod"));
    expect(Object.keys(prod)).toEqual(["CIM_EVENTS", "CIM_COMMANDS", "CIM_QUERY_CACHE", "CIM_SAGAS", "CIM_SNAPSHOTS"]);
    expect(prod.CIM_EVENTS).toMatchObject({ subjects: ["cim.events.>"], storage: "file", retention: "limits", replicas: 3, maxAge: "30d", duplicateWindow: "2m", discard: "old", maxMsgSize: 1048576 });
    expect(prod.CIM_COMMANDS).toMatchObject({ storage: "memory", retention: "workqueue", replicas: 1, maxAge: "1h", discard: "new", maxMsgsPerSubject: 100 });
    expect(prod.CIM_QUERY_CACHE).toMatchObject({ subjects: ["cim.queries.results.>"], storage: "memory", maxAge: "5m" });
    expect(prod.CIM_SNAPSHOTS).toMatchObject({ replicas: 3, maxMsgsPerSubject: 10 });
    expect(streamsOf(spec("dev")).CIM_EVENTS!.replicas).toBe(1);
  });

  it("the stack overrides a built-in stream's fields and adds its own", () => {
    const s = streamsOf(
      spec("prod", (c) => (c.services.nats = { ...c.services.nats, streams: { CIM_EVENTS: { maxAge: "90d", maxBytes: "10G" }, AUDIT: { subjects: ["audit.>"], maxAge: "1m" } } })),
    );
    expect(s.CIM_EVENTS).toMatchObject({ maxAge: "90d", maxBytes: 10 * 1024 ** 3, replicas: 3, storage: "file" });
    // A new stream gets file storage, R1 and a dedupe window no longer than its retention.
    expect(s.AUDIT).toMatchObject({ subjects: ["audit.>"], storage: "file", retention: "limits", replicas: 1, maxAge: "1m", duplicateWindow: "1m", replace: false });
  });

  it.each([
    [{ AUDIT: { maxAge: "1d" } }, "borg:services.nats.streams.AUDIT.subjects: is required for a stream that is not one of the built-in CIM streams"],
    [{ AUDIT: { subjects: ["audit..x"] } }, "borg:services.nats.streams.AUDIT.subjects[0]: 'audit..x' is not a valid subject"],
    [{ AUDIT: { subjects: ["$JS.API.>"] } }, "borg:services.nats.streams.AUDIT.subjects[0]: '$JS.API.>' is reserved by NATS"],
    [{ ORDERS: { subjects: ["cim.events.orders.>"] } }, "borg:services.nats.streams.ORDERS.subjects: cim.events.orders.> overlaps cim.events.> of stream CIM_EVENTS"],
    [{ "bad name": { subjects: ["x.>"] } }, "borg:services.nats.streams.bad name: is not a valid stream name"],
    [{ CIM_SAGAS: { maxAge: "5m", duplicateWindow: "10m" } }, "borg:services.nats.streams.CIM_SAGAS.duplicateWindow: 10m is longer than maxAge 5m"],
    [{ CIM_SAGAS: { storage: "disk" } }, "borg:services.nats.streams.CIM_SAGAS.storage:"],
    [{ CIM_SAGAS: { replica: 3 } }, "borg:services.nats.streams.CIM_SAGAS.replica: unknown key"],
    [{ CIM_SAGAS: { maxBytes: "lots" } }, "borg:services.nats.streams.CIM_SAGAS.maxBytes:"],
  ])("refuses %j, naming the config path", (streams, message) => {
    const found = problems("prod", (c) => (c.services.nats = { ...c.services.nats, streams }));
    expect(found.some((p) => p.startsWith(message)), found.join("\n")).toBe(true);
  });

  it("refuses more replicas than JetStream peers (dev has one)", () => {
    const found = problems("dev", (c) => (c.services.nats = { streams: { CIM_EVENTS: { replicas: 3 } } }));
    expect(found).toContain("borg:services.nats.streams.CIM_EVENTS.replicas: is 3 but only 1 JetStream peer(s) exist (borg:services.nats.jetstream.peers)");
  });
});

describe("stream logic", () => {
  const base: StreamSpec = streamsOf(spec("prod")).CIM_EVENTS!;

  it("durations and sizes", () => {
    expect(durationNanos("2m")).toBe(120e9);
    expect(durationNanos("0s")).toBe(0);
    expect(durationText(durationNanos("60m"))).toBe("1h");
    expect(durationText(durationNanos("30d"))).toBe("30d");
    expect(durationText(90e9)).toBe("90s");
    expect(() => durationNanos("2 minutes")).toThrow(/not a duration/);
    expect(sizeBytes("1M")).toBe(1048576);
    expect(sizeBytes(-1)).toBe(-1);
    expect(() => sizeBytes("1MB")).toThrow(/not a size/);
  });

  it("subjects: validity and overlap", () => {
    for (const ok of ["cim.events.>", "a.*.c", ">", "a"]) expect(isValidSubject(ok), ok).toBe(true);
    for (const bad of ["a..b", "a.>.b", "a b", "a.b*", ""]) expect(isValidSubject(bad), bad).toBe(false);
    expect(subjectsOverlap("cim.events.>", "cim.events.orders.>")).toBe(true);
    expect(subjectsOverlap("cim.*.x", "cim.events.>")).toBe(true);
    expect(subjectsOverlap("cim.events", "cim.events.>")).toBe(false);
    expect(subjectsOverlap("a.b", "a.c")).toBe(false);
    expect(subjectsOverlap("a.*", "a.b")).toBe(true);
  });

  it("the JetStream config round-trips; equal durations written differently are no change", () => {
    const api = toJetStreamConfig(base);
    expect(api).toMatchObject({ name: "CIM_EVENTS", num_replicas: 3, max_age: 30 * 86400e9, duplicate_window: 120e9, storage: "file", retention: "limits" });
    const { replace: _replace, ...owned } = base;
    expect(fromJetStreamConfig(api)).toEqual(owned);
    expect(streamChanges(base, { ...base, maxAge: "720h" })).toEqual([]);
    expect(streamChanges(base, { ...base, maxAge: "31d", subjects: ["cim.events.>", "cim.legacy.>"] }).map((c) => c.field)).toEqual(["subjects", "maxAge"]);
  });

  it("what JetStream cannot change: storage, and retention to or from a work queue", () => {
    expect(immutableChanges(base, { ...base, storage: "memory" })).toEqual([{ field: "storage", from: "file", to: "memory" }]);
    expect(immutableChanges(base, { ...base, retention: "workqueue" }).map((c) => c.field)).toEqual(["retention"]);
    expect(immutableChanges(base, { ...base, retention: "interest" })).toEqual([]);
    expect(immutableChanges(base, { ...base, replicas: 1, maxAge: "1d", discard: "new" })).toEqual([]);
  });

  it("the provider's check fails the preview on an unchangeable field unless the stream is marked for replacement; diff reports per field", async () => {
    const p = new NatsStreamProvider();
    const connection = { servers: ["10.0.0.1:4222"], user: "borg-admin", password: "x", ca: "" };
    const olds = { ...base, connection };
    expect((await p.check({}, olds)).failures).toEqual([]);
    const check = await p.check(olds, { ...olds, storage: "memory" });
    expect(check.failures).toEqual([
      {
        property: "storage",
        reason:
          "stream CIM_EVENTS: JetStream cannot change storage from file to memory on an existing stream. To delete and recreate it (its messages are lost), set borg:services.nats.streams.CIM_EVENTS.replace: true; or keep the old value",
      },
    ]);
    expect((await p.check(olds, { ...olds, storage: "memory", replace: true })).failures).toEqual([]);
    expect(await p.diff("CIM_EVENTS", olds, olds)).toEqual({ changes: false, replaces: [], deleteBeforeReplace: false });
    expect(await p.diff("CIM_EVENTS", olds, { ...olds, maxAge: "60d" })).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
    expect(await p.diff("CIM_EVENTS", olds, { ...olds, storage: "memory", replace: true })).toEqual({ changes: true, replaces: ["storage"], deleteBeforeReplace: true });
    // A rotated admin password refreshes the state; the stream itself is not touched.
    expect(await p.diff("CIM_EVENTS", olds, { ...olds, connection: { ...connection, password: "y" } })).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
  });

  it("create/update waits for a leader and current followers, and fails in bounded time saying what is missing", async () => {
    let calls = 0;
    const jsm = (cluster: object) => ({ streams: { info: async () => (calls++, { config: { num_replicas: 3 }, cluster }) } });
    await waitForReplicas(jsm({ leader: "queen", replicas: [{ current: true }, { current: true }] }), base, 1000);
    await expect(waitForReplicas(jsm({ leader: "queen", replicas: [{ current: true }, { current: false }] }), base, 600)).rejects.toThrow(
      "stream CIM_EVENTS: not ready after 1s: leader queen, 1/2 followers current, 3 replicas configured",
    );
    await expect(waitForReplicas(jsm({}), base, 0)).rejects.toThrow(/leader none, 0\/2 followers current/);
    expect(calls).toBeGreaterThan(2);
  });
});

describe("secret files", () => {
  it("password hashes: bcrypt nats-server accepts, the same on every run, salted per password", () => {
    const h = natsPasswordHash("correct horse battery staple 1234");
    expect(h).toMatch(/^\$2a\$08\$[./A-Za-z0-9]{53}$/);
    expect(natsPasswordHash("correct horse battery staple 1234")).toBe(h);
    expect(bcrypt.compareSync("correct horse battery staple 1234", h)).toBe(true);
    expect(bcrypt.compareSync("correct horse battery staple 1235", h)).toBe(false);
    expect(natsPasswordHash("another password").slice(7, 29)).not.toBe(h.slice(7, 29));
  });

  it("URLs carry their credentials URL-encoded", () => {
    expect(withCredentials("nats-route://10.0.0.1:6222", "route", "p@ss/:w")).toBe("nats-route://route:p%40ss%2F%3Aw@10.0.0.1:6222");
  });

  it.each(STACKS)("%s: each node's secret files define exactly the variables its rendered config refers to (nats-server refuses an unused one)", async (stack) => {
    const s = await synth(stack);
    const nodes = fs.readdirSync(path.join(s.outDir, "nodes"));
    const settings = Object.fromEntries(nodes.map((n) => [n, JSON.parse(fs.readFileSync(path.join(s.outDir, "nodes", n, "node.json"), "utf8")).services.nats as NatsSettings]));
    const dir = tempDir("borg-nats-vars-");
    try {
      const rendered = renderNats(settings, dir);
      for (const n of nodes) {
        const st = settings[n]!;
        const hashes = Object.fromEntries(st.users.map((u) => [u.name, natsPasswordHash(u.name)]));
        const files = natsAuthFile(st, hashes, natsPasswordHash("r"), natsPasswordHash("l")) + (natsLinksFile(st, "r", "l") ?? "");
        const defined = [...files.matchAll(/^([A-Z_][A-Z0-9_]*):/gm)].map((m) => m[1]).sort();
        // References are unquoted `$NAME` values (a quoted "$JS.API.>" is a subject, not a variable).
        const used = [...new Set([...rendered[n]!.conf.matchAll(/(?<=[:\s[])\$([A-Z_][A-Z0-9_]*)(?=\s|$)/gm)].map((m) => m[1]))].sort();
        expect(defined, `${stack}/${n}`).toEqual(used);
        expect(rendered[n]!.credentialFiles, `${stack}/${n}`).toEqual(
          [st.credentials.auth, st.credentials.links, ...(st.credentials.tls ? [st.credentials.tls.ca, st.credentials.tls.cert, st.credentials.tls.key] : [])],
        );
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the NATS component in the plans", () => {
  const runs: Record<string, Synth> = {};
  beforeAll(async () => {
    for (const stack of STACKS) runs[stack] = await synth(stack);
  });
  const deps = (s: Synth, name: string) => s.byName(name).dependencies.map(s.nameOf).sort();

  it("streams are dynamic resources with per-field inputs, a secret connection, after the JetStream peers' gates", () => {
    const s = runs.prod!;
    const streams = s.byType("pulumi-nodejs:dynamic/nats:Stream");
    expect(streams.map((r) => r.name)).toEqual(["CIM_EVENTS", "CIM_COMMANDS", "CIM_QUERY_CACHE", "CIM_SAGAS", "CIM_SNAPSHOTS"].map((n) => `nats-stream-${n}`));
    const events = s.byName("nats-stream-CIM_EVENTS");
    expect(events.parent).toBe(s.byName("nats").urn);
    expect(events.inputs).toMatchObject({ name: "CIM_EVENTS", subjects: ["cim.events.>"], storage: "file", retention: "limits", replicas: 3, maxAge: "30d", duplicateWindow: "2m", replace: false });
    expect(events.inputs.__provider).toBe("<serialized dynamic provider>");
    expect(events.inputs.connection).toEqual({ servers: ["[secret]", "[secret]", "[secret]", "[secret]"], user: "[secret]", password: "[secret]", ca: "[secret]" });
    expect(events.additionalSecretOutputs).toEqual(["connection"]);
    // The peers' gates (not drone-3's), plus the admin password and the CA its connection is made of.
    expect(deps(s, "nats-stream-CIM_EVENTS").filter((d) => d.endsWith("-gate"))).toEqual(["nats-drone-1-gate", "nats-drone-2-gate", "nats-queen-gate"]);
  });

  it("gates: every server after the whole cluster's deploy; the leaf gate on the queen after the Pi", () => {
    const s = runs.prod!;
    expect(s.byName("nats-queen-gate").inputs.create).toMatch(/services\/nats-gate\.sh queen server 300 3 3$/);
    expect(s.byName("nats-drone-3-gate").inputs.create).toMatch(/services\/nats-gate\.sh drone-3 server 300 3 0$/);
    for (const node of ["queen", "drone-1", "drone-2", "drone-3"]) expect(deps(s, "nats-drone-3-gate").some((d) => d.startsWith(`${node}-nixos-`)), node).toBe(true);
    expect(deps(s, "nats-drone-3-gate").some((d) => d.startsWith("edge-pi"))).toBe(false);
    expect(s.byName("nats-leaf-gate").inputs.create).toMatch(/nats-gate\.sh queen leaf 300 1$/);
    expect(deps(s, "nats-leaf-gate").some((d) => d.startsWith("edge-pi-nixos-"))).toBe(true);
    expect(() => runs.dev!.byName("nats-leaf-gate")).toThrow(); // no Pi in dev
  });

  it("only JetStream peers get the guard; each runs its `before` on the previous peer", () => {
    const s = runs.prod!;
    const guards = s.plan.resources.filter((r) => r.name.includes("-guard-nats-")).map((r) => r.name).sort();
    expect(guards).toEqual(["drone-1", "drone-2", "queen"].flatMap((n) => [`${n}-nixos-guard-nats-after`, `${n}-nixos-guard-nats-before`]));
    expect(s.byName("queen-nixos-guard-nats-before").inputs.create).toMatch(/staging\/[0-9a-f]{64}\/node-scripts\/services\/nats-guard\.sh queen before 300 3 3 1$/);
    expect(s.byName("drone-2-nixos-guard-nats-before").inputs.create).toMatch(/^sudo -n bash \/var\/lib\/borg\/bundles\/[0-9a-f]{64}\/node-scripts\/services\/nats-guard\.sh drone-2 before/);
    expect((s.byName("drone-2-nixos-guard-nats-before").inputs.connection as Record<string, unknown>).host).toBe("[secret]");
    expect(deps(s, "drone-2-nixos-guard-nats-before")).toContain("drone-1-nixos-guard-nats-after");
    expect(s.byName("drone-1-nixos-confirm").inputs.create).toContain("nats: nothing to undo (the NATS guard only waits)");
  });

  it("exports client URLs per server, the leaf and edge URLs, monitoring tunnels, the CA; credentials only as a secret", () => {
    const prod = runs.prod!.plan.outputs as Record<string, any>;
    expect(prod.natsEndpoints).toMatchObject({
      clientUrls: { queen: "tls://10.42.0.10:4222", "drone-1": "tls://10.42.0.11:4222", "drone-2": "tls://10.42.0.12:4222", "drone-3": "tls://10.42.0.13:4222" },
      edgeUrl: "tls://10.42.0.50:4222",
      leafUrl: "nats-leaf://10.42.0.10:7422",
      account: "CIM",
      systemAccount: "SYS",
      caCert: "fake certificate of nats-ca",
    });
    expect(prod.natsEndpoints.monitoring.queen).toEqual({ tunnel: "ssh -N -L 8222:127.0.0.1:8222 borg@10.42.0.10", url: "http://127.0.0.1:8222/" });
    expect(Object.values(prod.natsCredentials as Record<string, object>).flatMap((c) => Object.values(c))).toEqual(Array(18).fill("[secret]"));
    expect((runs.dev!.plan.outputs as any).natsEndpoints).toMatchObject({ clientUrls: { queen: "nats://10.42.2.10:4222" }, edgeUrl: null, caCert: null });
  });

  it("a second run of the same stack gives every NATS resource the same inputs (nothing to update)", async () => {
    const again = await synthFresh("prod");
    const natsResources = runs.prod!.plan.resources.filter((r) => r.name.startsWith("nats") || r.name.includes("-guard-nats-"));
    expect(natsResources.length).toBeGreaterThan(30);
    for (const r of natsResources) expect(JSON.stringify(again.byName(r.name).inputs), r.name).toBe(JSON.stringify(r.inputs));
  });

  it("with secrets revealed (test-only capture): servers get hashes only; plaintext passwords only in the links file", async () => {
    const { runProgram } = await import("../scripts/lib/mockedProgram.js");
    const { readStackFile } = await import("../scripts/lib/stackFile.js");
    const { values } = readStackFile(stackFile("prod"));
    const config = { ...values, "borg:sshPrivateKey": "<secret:borg:sshPrivateKey>", "borg:proxmoxApiToken": "<secret:borg:proxmoxApiToken>" };
    const run = await runProgram({ stack: "prod", config, secretKeys: ["borg:sshPrivateKey", "borg:proxmoxApiToken"], bundleRoot: tempDir(), revealSecrets: true });
    const files = (node: string) =>
      Object.fromEntries(
        String(run.resources.find((r) => r.name === `${node}-nixos-secrets`)!.inputs.stdin)
          .trim()
          .split("\n")
          .map((line) => line.split(" "))
          .map(([name, owner, group, b64, units]) => [name!, { owner, group, units, text: Buffer.from(b64!, "base64").toString("utf8") }]),
      );
    const queen = files("queen");
    const auth = queen["nats-auth.conf"]!;
    expect(auth).toMatchObject({ owner: "root", group: "root", units: "nats.service" });
    expect(auth.text).toMatch(/^NATS_HASH_CIM_EVENTS: "\$2a\$08\$[./A-Za-z0-9]{53}"$/m);
    expect(bcrypt.compareSync("<secret:random:nats-cim-events-password>", /NATS_HASH_CIM_EVENTS: "([^"]+)"/.exec(auth.text)![1]!)).toBe(true);
    expect(auth.text).not.toContain("<secret:");
    const links = queen["nats-links.conf"]!;
    expect(links.units).toBeUndefined(); // the topology's restart comes with the switch, in the lane
    expect(links.text).toContain('"nats-route://route:%3Csecret%3Arandom%3Anats-route-password%3E@10.42.0.11:6222"');
    expect(queen["nats-key.pem"]).toMatchObject({ text: "<secret:tls:nats-queen-key>", units: "nats.service" });
    expect(files("edge-pi")["nats-links.conf"]!.text).toContain("NATS_LEAF_URLS: [\"nats-leaf://leaf:%3Csecret%3Arandom%3Anats-leaf-password%3E@10.42.0.10:7422\"]");
  });
});
