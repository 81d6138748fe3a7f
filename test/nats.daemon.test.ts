// The collective's NATS under the real nats-server (Debian), on loopback: every node's config exactly
// as nix/lib/nats.nix renders it from the node.json synth wrote (only ports, addresses and paths
// remapped), the secret files written by the program's own functions, TLS from a test CA. Prod runs
// as it would: three JetStream peers (queen, drone-1, drone-2), drone-3 routing without JetStream,
// the Pi a leaf of the queen. The streams are applied through the dynamic provider exactly as Pulumi
// ships it (serialized, then loaded the way the dynamic-provider host loads it).
import { jetstream, jetstreamManager, AckPolicy } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../components/bundle.js";
import { validateConfig } from "../components/config/validate.js";
import { ADMIN_USER, natsStreams, NATS_ROLES, SYSTEM_USER } from "../components/services/nats.js";
import { applyStream, type StreamInputs, type StreamSpec } from "../components/services/natsStreams.js";
import { STACKS, stackValues, synth, tempDir } from "./helpers.js";
import { serializedStreamProvider, startDynamicProviderHost, type DynamicHost } from "./lib/dynamicProviderHost.js";
import { LoopbackNats, natsServerBinary, renderNats } from "./lib/natsLoopback.js";

const BIN = natsServerBinary();
if (!BIN) {
  console.warn("\n*** SKIPPING the NATS daemon tests: nats-server is not installed (Debian package nats-server; scripts/ensure-tools.sh installs it as root) ***\n");
}

const CLUSTER = ["queen", "drone-1", "drone-2", "drone-3"];
const PEERS = ["queen", "drone-1", "drone-2"];
const ALL = [...CLUSTER, "edge-pi"];

/** Runs a node script of the bundle against a loopback server, as the test user (stand-in root). */
function nodeScript(script: string, args: string[], monitorPort: number) {
  const r = spawnSync("bash", [path.join(PROJECT_ROOT, "node-scripts", "services", script), ...args], {
    encoding: "utf8",
    env: {
      ...process.env,
      BORG_NATS_MONITOR: `http://127.0.0.1:${monitorPort}`,
      BORG_ROOT_UID: String(process.getuid?.() ?? 0),
      BORG_GATE_INTERVAL: "0.2",
    },
  });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** Permission violations the server reported to a connection. */
function violations(nc: NatsConnection): string[] {
  const seen: string[] = [];
  (async () => {
    for await (const s of nc.status()) if (s.type === "error") seen.push(String((s as { error?: unknown }).error));
  })().catch(() => {});
  return seen;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Publishes on one connection and reports whether a subscriber on another receives it within `ms`. */
/** `ms`: how long to wait for it; an expected delivery gets a generous bound (it returns as soon as it arrives). */
async function delivered(pub: NatsConnection, sub: NatsConnection, subject: string, ms = 3_000): Promise<boolean> {
  const s = sub.subscribe(subject, { max: 1 });
  await sub.flush();
  const got = (async () => {
    for await (const _ of s) return true;
    return false;
  })();
  pub.publish(subject, "x");
  await pub.flush().catch(() => {});
  const result = await Promise.race([got, sleep(ms).then(() => false)]);
  s.unsubscribe();
  return result;
}

describe.skipIf(!BIN)("NATS on loopback: the rendered configs under the real nats-server", () => {
  let lb: LoopbackNats;
  let dir: string;
  let streams: StreamSpec[];
  let provider: DynamicHost;

  beforeAll(async () => {
    const prod = await synth("prod");
    dir = tempDir("borg-nats-");
    lb = await LoopbackNats.create(BIN!, path.join(prod.outDir, "nodes"), ALL, dir);
    for (const n of ALL) lb.start(n);
    for (const n of ALL) await lb.healthy(n, 30_000);
    const spec = validateConfig({ ...stackValues("prod"), sshPrivateKey: "x", proxmoxApiToken: "x" });
    if (!spec.ok) throw new Error(spec.problems.join("\n"));
    streams = natsStreams(spec.spec.services.nats);
  }, 60_000);

  afterAll(async () => {
    await provider?.close();
    await lb?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("every node of every committed stack: its rendered config passes nats-server -t", async () => {
    for (const stack of STACKS) {
      const s = await synth(stack);
      const names = fs.readdirSync(path.join(s.outDir, "nodes"));
      const check = await LoopbackNats.create(BIN!, path.join(s.outDir, "nodes"), names, path.join(dir, `check-${stack}`));
      for (const n of names) expect(check.check(n), `${stack}/${n}`).toEqual({ status: 0, output: expect.stringContaining("is valid") });
      // Negative control: a secret file that defines a variable the config does not use is refused.
      if (stack === "dev") {
        const q = check.node("queen");
        fs.appendFileSync(path.join(q.dir, q.settings.credentials.auth), 'NATS_UNUSED: "x"\n');
        expect(check.check("queen")).toMatchObject({ status: 1, output: expect.stringContaining('unknown field "NATS_UNUSED"') });
      }
    }
  });

  it("the rendered structure is each node's own: only ports, addresses and paths were remapped", () => {
    const originals = renderNats(Object.fromEntries(ALL.map((n) => [n, lb.node(n).original])), dir);
    const remappable = /^(\/.*|(0\.0\.0\.0|127\.0\.0\.1|10\.\d+\.\d+\.\d+):\d+)$/;
    const compare = (a: unknown, b: unknown, at: string): void => {
      if (a !== null && typeof a === "object") {
        expect(b !== null && typeof b === "object", at).toBe(true);
        expect(Object.keys(b as object).sort(), at).toEqual(Object.keys(a as object).sort());
        for (const k of Object.keys(a as object)) compare((a as any)[k], (b as any)[k], `${at}.${k}`);
      } else if (a !== b) {
        expect([a, b], at).toEqual([expect.stringMatching(remappable), expect.stringMatching(remappable)]);
      }
    };
    for (const n of ALL) compare(originals[n]!.settings, lb.node(n).rendered, n);
  });

  it("the gates pass: every server healthy and routed to all others, the meta group led, the leaf connected", () => {
    for (const n of CLUSTER) {
      const r = nodeScript("nats-gate.sh", [n, "server", "20", "3", PEERS.includes(n) ? "3" : "0"], lb.node(n).settings.ports.monitor);
      expect(r, n).toMatchObject({ status: 0, out: expect.stringContaining("nats server gate passed") });
    }
    expect(nodeScript("nats-gate.sh", ["queen", "leaf", "20", "1"], lb.node("queen").settings.ports.monitor).status).toBe(0);
    // A gate that cannot pass fails in bounded time, naming the node, the probe and what it saw.
    const r = nodeScript("nats-gate.sh", ["queen", "server", "1", "5", "3"], lb.node("queen").settings.ports.monitor);
    expect(r.status).toBe(1);
    expect(r.out).toMatch(/queen: nats: healthy, routed to 5 servers, meta group of 3 with a leader: not ready after 1s: routes to 3 of 5 other servers/);
  });

  it("no route or leaf login failed: the advertised routes match the configured ones", () => {
    for (const n of ALL) expect(lb.logText(n), n).not.toMatch(/Authorization Violation|authentication error|tls: /i);
  });

  it("streams: Pulumi's dynamic-provider host, running the serialized provider, creates them at their replicas with a leader; re-applying changes nothing", async () => {
    // What a real `pulumi up` runs: the provider as the tsx-launched program serializes it, in
    // Pulumi's dynamic-provider host, over its gRPC protocol.
    provider = await startDynamicProviderHost(serializedStreamProvider(), "urn:pulumi:prod::borg-collective::borg:index:Collective$borg:index:Nats$pulumi-nodejs:dynamic/nats:Stream::nats-stream");
    const connection = { servers: CLUSTER.map((n) => lb.serverUrl(n)), user: ADMIN_USER, password: lb.passwords[ADMIN_USER]!, ca: lb.caPem };
    for (const s of streams) {
      const inputs: StreamInputs = { ...s, connection };
      expect((await provider.check({}, inputs)).failures).toEqual([]);
      expect(await provider.create(inputs)).toEqual({ id: s.name, outs: inputs });
    }
    const nc = await lb.connect("drone-3", ADMIN_USER);
    const jsm = await jetstreamManager(nc);
    for (const s of streams) {
      const info = await jsm.streams.info(s.name);
      expect(info.config).toMatchObject({ subjects: s.subjects, storage: s.storage, retention: s.retention, num_replicas: s.replicas, discard: s.discard });
      // A second run: the provider sees no change, and create-or-update leaves the stream alone.
      const inputs = { ...s, connection };
      expect(await provider.diff(s.name, inputs, inputs)).toMatchObject({ changes: false, replaces: [] });
      await provider.update(s.name, inputs, inputs);
      expect(await applyStream(jsm, s)).toBe("unchanged");
      expect((await jsm.streams.info(s.name)).created).toBe(info.created);
    }
    // Their gate is the provider's own wait (a leader and current followers, by the leader's account).
    for (const s of streams) {
      const c = (await jsm.streams.info(s.name)).cluster!;
      expect(c.leader, s.name).toBeTruthy();
      expect((c.replicas ?? []).filter((r) => r.current).length, s.name).toBe(s.replicas - 1);
    }
    await nc.close();
  }, 60_000);

  it("streams: a changeable field is updated in place; an unchangeable one fails clearly unless marked for replacement", async () => {
    const connection = { servers: CLUSTER.map((n) => lb.serverUrl(n)), user: ADMIN_USER, password: lb.passwords[ADMIN_USER]!, ca: lb.caPem };
    const base: StreamSpec = { ...streams[0]!, name: "TEST_REPLACE", subjects: ["cim.test.replace.>"], replicas: 3, maxAge: "1h" };
    const created = { ...base, connection };
    await provider.create(created);
    const longer = { ...created, maxAge: "2h" };
    expect(await provider.diff("TEST_REPLACE", created, longer)).toMatchObject({ changes: true, replaces: [] });
    await provider.update("TEST_REPLACE", created, longer);
    const nc = await lb.connect("queen", ADMIN_USER);
    const jsm = await jetstreamManager(nc);
    expect((await jsm.streams.info("TEST_REPLACE")).config.max_age).toBe(2 * 3600 * 1e9);
    // `pulumi refresh` reads the live stream: a change made by hand shows up as drift.
    await jsm.streams.update("TEST_REPLACE", { max_age: 3 * 3600 * 1e9 });
    expect(await provider.read("TEST_REPLACE", longer)).toMatchObject({ id: "TEST_REPLACE", props: { maxAge: "3h", storage: "file", replicas: 3 } });
    await provider.update("TEST_REPLACE", longer, longer);
    expect((await jsm.streams.info("TEST_REPLACE")).config.max_age).toBe(2 * 3600 * 1e9);

    const memory = { ...longer, storage: "memory" as const };
    const check = await provider.check(longer, memory);
    expect(check.failures).toEqual([{ property: "storage", reason: expect.stringMatching(/stream TEST_REPLACE: JetStream cannot change storage from file to memory.*borg:services\.nats\.streams\.TEST_REPLACE\.replace: true/) }]);
    await expect(provider.update("TEST_REPLACE", longer, memory)).rejects.toThrow(/cannot change storage from file to memory/);
    // With replace: the engine deletes (old provider state) and creates anew.
    const replacing = { ...memory, replace: true };
    expect((await provider.check(longer, replacing)).failures).toEqual([]);
    expect(await provider.diff("TEST_REPLACE", longer, replacing)).toMatchObject({ changes: true, replaces: ["storage"], deleteBeforeReplace: true });
    await provider.delete("TEST_REPLACE", longer);
    await provider.create(replacing);
    expect((await jsm.streams.info("TEST_REPLACE")).config.storage).toBe("memory");
    await provider.delete("TEST_REPLACE", replacing);
    await provider.delete("TEST_REPLACE", replacing); // gone already: still fine
    await expect(jsm.streams.info("TEST_REPLACE")).rejects.toThrow(/stream not found/);
    expect((await provider.read("TEST_REPLACE", replacing)).id).toBe(""); // refresh drops it from the state
    await nc.close();
  }, 60_000);

  it("every role user can do what its permissions allow and nothing else; anonymous and wrong passwords are refused", async () => {
    const conns: NatsConnection[] = [];
    const open = async (node: string, user: string) => {
      const nc = await lb.connect(node, user);
      conns.push(nc);
      return nc;
    };
    try {
      for (const { user, subjects } of NATS_ROLES) {
        const nc = await open("queen", user);
        const errors = violations(nc);
        const own = `${subjects[0]!.replace(/>$/, "")}check`;
        // Its own subject: publish and subscribe.
        expect(await delivered(nc, nc, own), `${user} ${own}`).toBe(true);
        for (const other of NATS_ROLES.filter((r) => r.user !== user)) {
          const foreign = `${other.subjects[0]!.replace(/>$/, "")}from-${user}`;
          // Same server: its interest is there at once, so only the permission can stop the message.
          const owner = await open("queen", other.user);
          expect(await delivered(nc, owner, foreign, 400), `${user} publishing ${foreign}`).toBe(false);
          const sub = nc.subscribe(other.subjects[0]!);
          const closed = await Promise.race([sub.closed, sleep(2_000).then(() => "open")]);
          expect(String(closed), `${user} subscribing ${other.subjects[0]}`).toMatch(/Permissions Violation for Subscription/);
        }
        const everything = nc.subscribe(">");
        expect(String(await Promise.race([everything.closed, sleep(2_000)]))).toMatch(/Permissions Violation for Subscription to ">"/);
        expect(errors.join("\n")).toMatch(/Permissions Violation for Publish/);
      }

      // JetStream: cim-events stores an event and reads it back through its own stream only.
      const events = await open("drone-3", "cim-events");
      const js = jetstream(events);
      const ack = await js.publish("cim.events.order.1", "created", { msgID: "order-1-created" });
      expect(ack.stream).toBe("CIM_EVENTS");
      const jsm = await jetstreamManager(events);
      await jsm.consumers.add("CIM_EVENTS", { durable_name: "perm-check", ack_policy: AckPolicy.Explicit, filter_subject: "cim.events.order.1" });
      const msg = await (await js.consumers.get("CIM_EVENTS", "perm-check")).next({ expires: 5_000 });
      expect(msg?.string()).toBe("created");
      msg?.ack();
      await expect(jsm.consumers.add("CIM_COMMANDS", { durable_name: "snoop", ack_policy: AckPolicy.Explicit })).rejects.toThrow();
      await expect(jsm.streams.add({ name: "ROGUE", subjects: ["cim.events.rogue.>"] })).rejects.toThrow();

      // The stream admin manages streams but carries no message subject.
      const admin = await open("queen", ADMIN_USER);
      const adminErrors = violations(admin);
      expect((await (await jetstreamManager(admin)).streams.info("CIM_EVENTS")).config.name).toBe("CIM_EVENTS");
      const listener = await open("queen", "cim-events");
      expect(await delivered(admin, listener, "cim.events.admin", 400)).toBe(false);
      expect(adminErrors.join("\n")).toMatch(/Permissions Violation for Publish to "cim\.events\.admin"/);

      // The system account's user sees the servers, not the application's messages.
      const sys = await open("queen", SYSTEM_USER);
      const pings = sys.subscribe("_INBOX.sys-check");
      sys.publish("$SYS.REQ.SERVER.PING", "", { reply: "_INBOX.sys-check" });
      const names = new Set<string>();
      const until = Date.now() + 2_000;
      for await (const m of pings) {
        names.add(m.json<{ server: { name: string } }>().server.name);
        if (names.size === CLUSTER.length || Date.now() > until) break;
      }
      expect([...names].sort()).toEqual([...CLUSTER].sort());
      const app = await open("queen", "cim-events");
      expect(await delivered(app, sys, "cim.events.visible", 400)).toBe(false);

      // No anonymous client, no wrong password, on the cluster or on the Pi.
      for (const node of ["queen", "edge-pi"]) {
        await expect(lb.connect(node, "cim-events", { password: "wrong" })).rejects.toThrow(/Authorization Violation/i);
        await expect(lb.connect(node, "", { password: "" })).rejects.toThrow(/Authorization Violation/i);
      }
    } finally {
      await Promise.all(conns.map((c) => c.close().catch(() => {})));
    }
  }, 60_000);

  it("an R3 stream keeps every acknowledged message when its leader is killed mid-publish", async () => {
    const nc = await lb.connect("drone-3", "cim-events", { reconnect: true });
    const js = jetstream(nc, { timeout: 2_000 });
    const jsm = await jetstreamManager(nc, { timeout: 10_000 });
    const leader = (await jsm.streams.info("CIM_EVENTS")).cluster!.leader!;
    expect(PEERS).toContain(leader);
    const total = 600;
    let killed = false;
    let retries = 0;
    for (let i = 0; i < total; i++) {
      if (i === total / 3) {
        await lb.kill(leader);
        killed = true;
      }
      // Retried until acknowledged; the Nats-Msg-Id makes a retry of a stored message a duplicate.
      const giveUp = Date.now() + 20_000;
      for (;;) {
        if (Date.now() > giveUp) throw new Error(`message ${i} not acknowledged for 20 s with ${leader} down`);
        try {
          const ack = await js.publish("cim.events.r3test", String(i), { msgID: `r3-${i}` });
          expect(ack.stream).toBe("CIM_EVENTS");
          break;
        } catch {
          retries++;
          await sleep(100);
        }
      }
    }
    expect(killed).toBe(true);
    lb.start(leader);
    await lb.healthy(leader, 30_000);
    const stored = async () =>
      (await jsm.streams.info("CIM_EVENTS", { subjects_filter: "cim.events.r3test" })).state.subjects?.["cim.events.r3test"] ?? 0;
    expect(await stored()).toBe(total);
    // The restarted server's replica catches up (the leader's account), before anything else.
    await lb.until("every CIM_EVENTS replica current", async () => {
      const c = (await jsm.streams.info("CIM_EVENTS")).cluster!;
      return (c.replicas ?? []).length === 2 && c.replicas!.every((r) => r.current);
    }, 30_000);
    // Every sequence number once, in order, read back from the stream (the consumer's creation is
    // retried: the meta group may still be settling after the restart on a loaded machine).
    await lb.until("a consumer on CIM_EVENTS", async () => {
      await jsm.consumers.add("CIM_EVENTS", { durable_name: "r3-check", ack_policy: AckPolicy.None, filter_subject: "cim.events.r3test" });
      return true;
    }, 30_000);
    const seen: number[] = [];
    const batch = await (await js.consumers.get("CIM_EVENTS", "r3-check")).fetch({ max_messages: total, expires: 10_000 });
    for await (const m of batch) {
      seen.push(Number(m.string()));
      if (seen.length === total) break;
    }
    expect(seen).toEqual(Array.from({ length: total }, (_, i) => i));
    console.log(`R3: ${total} published, ${await stored()} stored, 0 lost; ${retries} publish retries while ${leader} (the leader) was down`);
    await nc.close();
  }, 60_000);

  it("the leaf keeps serving local clients while the queen is down, and forwards again once it is back", async () => {
    const pi = await lb.connect("edge-pi", "cim-events", { reconnect: true });
    const hive = await lb.connect("drone-3", "cim-events", { reconnect: true });
    try {
      // Interest travels drone-3 → queen → leaf asynchronously: retry until it has arrived.
      await lb.until("forwarding from the Pi", () => delivered(pi, hive, "cim.events.leaf.before", 500), 20_000);
      await lb.kill("queen");
      await lb.until("the Pi's leaf link down", async () => ((await lb.monitor("edge-pi", "/leafz")).leafnodes ?? 0) === 0);
      // Local traffic on the Pi goes on, and new local clients get in.
      expect(await delivered(pi, pi, "cim.events.leaf.during")).toBe(true);
      const late = await lb.connect("edge-pi", "cim-events");
      expect(await delivered(late, pi, "cim.events.leaf.late")).toBe(true);
      await late.close();
      lb.start("queen");
      await lb.healthy("queen", 30_000);
      const gate = nodeScript("nats-gate.sh", ["queen", "leaf", "30", "1"], lb.node("queen").settings.ports.monitor);
      expect(gate.status, gate.out).toBe(0);
      await lb.until("forwarding from the Pi again", () => delivered(pi, hive, "cim.events.leaf.after", 500), 20_000);
    } finally {
      await pi.close();
      await hive.close();
    }
  }, 60_000);

  it("the rolling guard: waits for a healthy meta group, refuses to switch a peer while another server is down", async () => {
    const mon = (n: string) => lb.node(n).settings.ports.monitor;
    const guard = (phase: string, on: string, seconds = "20") => nodeScript("nats-guard.sh", ["drone-1", phase, seconds, "3", "3", "1"], mon(on));
    expect(guard("before", "queen")).toMatchObject({ status: 0, out: expect.stringContaining("nats guard before passed") });
    await lb.kill("drone-2");
    const refused = guard("before", "queen", "2");
    expect(refused.status).toBe(1);
    expect(refused.out).toMatch(/JetStream meta group healthy before switching drone-1: not ready after 2s: routes to 2 of 3 other servers/);
    lb.start("drone-2");
    expect(guard("after", "drone-2")).toMatchObject({ status: 0, out: expect.stringContaining("nats guard after passed") });
    expect(guard("before", "queen")).toMatchObject({ status: 0 });
  }, 60_000);

  it("the rolling guard on a fresh cluster: a lone first peer is still forming, so neither phase waits for a quorum", async () => {
    const prod = await synth("prod");
    const fresh = await LoopbackNats.create(BIN!, path.join(prod.outDir, "nodes"), CLUSTER, path.join(dir, "fresh"));
    try {
      const mon = fresh.node("queen").settings.ports.monitor;
      // Before the queen's first start nothing answers: nothing to protect.
      expect(nodeScript("nats-guard.sh", ["queen", "before", "5", "3", "3", "1"], mon)).toMatchObject({ status: 0, out: expect.stringContaining("no server answers here yet") });
      fresh.start("queen");
      await fresh.until("the queen answers", async () => (await fetch(`http://127.0.0.1:${mon}/varz`)).ok);
      expect(nodeScript("nats-guard.sh", ["queen", "after", "5", "3", "3", "1"], mon)).toMatchObject({ status: 0, out: expect.stringContaining("still forming") });
      expect(nodeScript("nats-guard.sh", ["drone-1", "before", "5", "3", "3", "1"], mon)).toMatchObject({ status: 0, out: expect.stringContaining("still forming") });
    } finally {
      await fresh.close();
    }
  }, 30_000);
});
