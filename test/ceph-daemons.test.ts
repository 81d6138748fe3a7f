// Real Ceph daemons (Debian's ceph-mon/-mgr/-osd/-common) run the collective's own bootstrap on
// loopback: the ceph.conf nix/lib/ceph.nix renders for a dev-stack node (plus the loopback and
// temp-dir settings a test cluster needs), the secret files exactly as the Ceph component renders
// them from freshly generated keys, and the node scripts a node runs (mon/mgr/OSD oneshots, then
// the queen's register → pool → gate steps and the rolling guard). One monitor, one manager, one
// bluestore OSD on a sparse file, as any user, in a temp dir, on free ports; every daemon is
// killed at the end, also on failure. Without the packages the suite skips, loudly.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../components/bundle.js";
import { validateConfig } from "../components/config/validate.js";
import { serviceContext } from "../components/services/context.js";
import {
  adminKeyring,
  CEPH_SECRET,
  cephPlan,
  cephSettings,
  clientKeyring,
  mgrKeyring,
  monKeyring,
  monmapMembers,
  osdKeyring,
  registerInput,
  type CephValues,
} from "../components/services/ceph.js";
import { cephxKey, cephxKeyProblems } from "../components/services/cephx.js";
import { stackValues } from "./helpers.js";

const TOOLS = ["ceph-mon", "ceph-mgr", "ceph-osd", "ceph", "rbd", "ceph-authtool", "ceph-conf", "monmaptool", "ceph-bluestore-tool", "jq", "blkid"];
const missing = TOOLS.filter((t) => spawnSync("sh", ["-c", `command -v ${t}`]).status !== 0);
if (missing.length > 0) {
  console.warn(
    `\n!!! SKIPPING the real Ceph daemon tests: ${missing.join(", ")} not installed.\n` +
      "!!! Install them (as root): bash scripts/ensure-tools.sh  (Debian ceph-mon ceph-osd ceph-mgr ceph-common jq)\n",
  );
}
const SCRIPTS = path.join(PROJECT_ROOT, "node-scripts", "services");
const MGR_MODULES = "alerts influx insights iostat localpool mirroring nfs osd_perf_query osd_support prometheus restful selftest snap_schedule stats telegraf test_orchestrator zabbix diskprediction_local";
const newKey = () => cephxKey(randomBytes(16).toString("base64"));

describe.skipIf(missing.length > 0)("cephx keys made by the program, judged by the real ceph-authtool", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "borg-cephx-"));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const authtool = (...args: string[]) => spawnSync("ceph-authtool", args, { cwd: dir, encoding: "utf8" });

  it("accepts every generated key, and prints it back unchanged", () => {
    for (let i = 0; i < 5; i++) {
      const key = newKey();
      const add = authtool("--create-keyring", `k${i}`, "--name", "client.test", "--add-key", key);
      expect(add.status, add.stderr).toBe(0);
      const printed = authtool("-p", `k${i}`, "--name", "client.test");
      expect(printed.stdout.trim()).toBe(key);
    }
  });

  it("rejects random bytes that are not a key (control: the tool does check something)", () => {
    expect(authtool("--create-keyring", "bad", "--name", "client.x", "--add-key", randomBytes(16).toString("base64")).status).not.toBe(0);
  });

  it("accepts a type-0 (CRYPTO_NONE) key — which authenticates any secret — so our validator must refuse it", () => {
    const good = Buffer.from(newKey(), "base64");
    good.writeUInt16LE(0, 0);
    const typeNone = good.toString("base64");
    expect(authtool("--create-keyring", "none", "--name", "client.none", "--add-key", typeNone).status).toBe(0);
    expect(cephxKeyProblems(typeNone)).toEqual(["has crypto type 0 (none: it would accept any secret), not 1 (AES)"]);
  });
});

/** A base port with `count` free TCP ports on 127.0.0.1 (other suites run daemons concurrently). */
async function freePorts(count: number): Promise<number> {
  const free = (p: number) =>
    new Promise<boolean>((resolve) => {
      const s = net.createServer();
      s.once("error", () => resolve(false));
      s.listen(p, "127.0.0.1", () => s.close(() => resolve(true)));
    });
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20000 + Math.floor(Math.random() * 40000);
    let ok = true;
    for (let p = base; p < base + count && ok; p++) ok = await free(p);
    if (ok) return base;
  }
  throw new Error("no free port range");
}

interface Run {
  code: number | null;
  out: string;
  err: string;
}

describe.skipIf(missing.length > 0)("a Ceph cluster on loopback bootstrapped by the node scripts", () => {
  let dir = "";
  let env: Record<string, string> = {};
  const daemons: ChildProcess[] = [];
  let values: CephValues;
  let members: string[] = [];
  let block = "";
  const timings: Record<string, number> = {};
  const started = Date.now();

  const spec = (() => {
    const result = validateConfig({ ...stackValues("dev"), sshPrivateKey: "<set>", proxmoxApiToken: "<set>" });
    if (!result.ok) throw new Error(result.problems.join("\n"));
    return result.spec;
  })();
  const plan = cephPlan(spec);
  const queen = plan.admin.name;
  const osd = plan.osds[0]!;

  /** A node script, run asynchronously: the daemons' supervisor below must keep running meanwhile. */
  const script = (name: string, args: string[], input = "", extraEnv: Record<string, string> = {}): Promise<Run> =>
    new Promise((resolve, reject) => {
      const t0 = Date.now();
      const child = spawn("bash", [path.join(SCRIPTS, name), ...args], { env: { ...env, ...extraEnv } });
      let out = "";
      let err = "";
      child.stdout.on("data", (d) => (out += d));
      child.stderr.on("data", (d) => (err += d));
      child.once("error", reject);
      child.once("close", (code) => {
        timings[`${name} ${args[0]}`] = (timings[`${name} ${args[0]}`] ?? 0) + (Date.now() - t0);
        resolve({ code, out, err });
      });
      child.stdin.end(input);
    });
  const ok = async (run: Promise<Run>) => {
    const r = await run;
    expect(r.code, `${r.out}\n${r.err}`).toBe(0);
    return r.out;
  };
  const ceph = (...args: string[]) => {
    const r = spawnSync("timeout", ["--foreground", "30", "ceph", "--connect-timeout", "10", "-n", "client.admin", "--keyring", path.join(dir, "secrets", CEPH_SECRET.adminKeyring), ...args], { env, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`ceph ${args.join(" ")}: ${r.stderr}`);
    return r.stdout;
  };
  const status = () => JSON.parse(ceph("status", "-f", "json"));
  let stopping = false;
  /** A daemon in the foreground (we own its pid), restarted after a failure like systemd's Restart=on-failure. */
  const daemon = (bin: string, id: string) => {
    const child = spawn(bin, ["-f", "-i", id], { env, stdio: "ignore" });
    daemons.push(child);
    child.once("exit", (code) => {
      if (!stopping && code !== 0) setTimeout(() => !stopping && daemon(bin, id), 1000);
    });
  };

  beforeAll(async () => {
    dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "borg-ceph-")));
    const base = await freePorts(64);
    const ports = { msgr2: base, msgr1: base + 1 };

    // Secrets exactly as the Ceph component renders them, from real random keys.
    const mgrNames = plan.managers.map((m) => m.name);
    values = {
      fsid: randomUUID(),
      keys: {
        mon: newKey(),
        admin: newKey(),
        bootstrapOsd: newKey(),
        client: newKey(),
        mgr: Object.fromEntries(mgrNames.map((n) => [n, newKey()])),
        osd: Object.fromEntries(plan.osds.map((o) => [o.id, newKey()])),
      },
      osdUuids: Object.fromEntries(plan.osds.map((o) => [o.id, randomUUID()])),
    };
    const secrets = path.join(dir, "secrets");
    fs.mkdirSync(secrets, { mode: 0o711 });
    const files: Record<string, string> = {
      [CEPH_SECRET.fsid]: values.fsid,
      [CEPH_SECRET.monKeyring]: monKeyring(plan, values),
      [CEPH_SECRET.adminKeyring]: adminKeyring(values),
      [CEPH_SECRET.mgrKeyring]: mgrKeyring(queen, values),
      [CEPH_SECRET.osdKeyring]: osdKeyring(osd.id, values),
      [CEPH_SECRET.osdUuid]: values.osdUuids[osd.id]!,
    };
    for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(secrets, name), text, { mode: 0o400 });

    // The node's settings as the program renders them, its monitors moved onto loopback.
    const settings = cephSettings(serviceContext(spec, plan.admin));
    settings.monitors = settings.monitors.map((m) => ({ ...m, address: "127.0.0.1" }));
    fs.writeFileSync(path.join(dir, "settings.json"), JSON.stringify(settings));
    const nix = spawnSync(
      "nix-instantiate",
      ["--option", "build-users-group", "", "--eval", "--strict", "--json", "-E",
        `import ${JSON.stringify(path.join(PROJECT_ROOT, "nix", "lib", "ceph.nix"))} { settings = builtins.fromJSON (builtins.readFile ${JSON.stringify(path.join(dir, "settings.json"))}); ports = { msgr2 = ${ports.msgr2}; msgr1 = ${ports.msgr1}; }; }`],
      { encoding: "utf8" },
    );
    expect(nix.status, nix.stderr).toBe(0);
    const data = JSON.parse(nix.stdout) as { sections: { global: Record<string, string> }; monmap: { name: string; addrs: string }[] };
    members = data.monmap.map((m) => `${m.name}=${m.addrs}`);
    // As on a node: ceph.conf has Ceph's null ("unset") fsid; the real one only reaches the monmap.
    expect(data.sections.global.fsid).toBe("00000000-0000-0000-0000-000000000000");
    // The program's own monitor list renders the same members (the module passes these to the oneshots).
    expect(members).toEqual(monmapMembers(settings.monitors, ports));

    const testOnly: Record<string, string> = {
      // loopback, our own ports and a temp dir instead of /var/lib/ceph and /run/ceph
      "public addr": "127.0.0.1",
      "cluster addr": "127.0.0.1",
      "ms bind ipv4": "true",
      "ms bind ipv6": "false",
      "ms bind port min": String(base + 2),
      "ms bind port max": String(base + 63),
      "run dir": `${dir}/run`,
      "admin socket": `${dir}/run/$name.asok`,
      "log file": `${dir}/log/$name.log`,
      "mon data": `${dir}/data/mon/$cluster-$id`,
      "mgr data": `${dir}/data/mgr/$cluster-$id`,
      "osd data": `${dir}/data/osd/$cluster-$id`,
      // a shared CI disk may be fuller than a node's: do not let MON_DISK_LOW decide the gate
      "mon data avail warn": "1",
      // small and quick: one OSD on a 2 GiB file, a manager with only its always-on modules
      "mgr disabled modules": MGR_MODULES,
      "mgr initial modules": "",
      "osd memory target": "536870912",
      "bluestore cache autotune": "false",
      "bluestore cache size": "67108864",
    };
    const ini = (section: string, kv: Record<string, string>) => `[${section}]\n${Object.entries(kv).map(([k, v]) => `${k} = ${v}`).join("\n")}\n`;
    fs.writeFileSync(path.join(dir, "ceph.conf"), ini("global", { ...data.sections.global, ...testOnly }));
    for (const d of ["run", "log", "data/mon", "data/mgr", "data/osd", "state"]) fs.mkdirSync(path.join(dir, d), { recursive: true });
    block = path.join(dir, "osd-disk");
    fs.writeFileSync(block, "");
    fs.truncateSync(block, 2 * 1024 ** 3);

    env = {
      PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin",
      HOME: dir,
      LANG: "C",
      CEPH_CONF: path.join(dir, "ceph.conf"),
      BORG_STATE_DIR: path.join(dir, "state"),
      BORG_SECRETS_DIR: secrets,
      BORG_ROOT_UID: String(process.getuid!()),
      BORG_CEPH_USER: "",
      BORG_CEPH_WAIT: "60",
      BORG_CEPH_CALL_TIMEOUT: "40",
      BORG_GATE_INTERVAL: "1",
    };
  });

  afterAll(async () => {
    // OSD before manager before monitor; SIGKILL what does not stop in 5 s.
    stopping = true;
    for (const child of [...daemons].reverse()) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      child.kill("SIGTERM");
      const timer = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 5000));
      if ((await Promise.race([exited.then(() => true), timer])) === false) {
        child.kill("SIGKILL");
        await exited;
      }
    }
    console.log(`ceph daemon test: ${((Date.now() - started) / 1000).toFixed(1)} s; steps (ms): ${JSON.stringify(timings)}`);
    if (dir && !process.env.BORG_KEEP_TEST_DIR) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("bootstraps monitor, manager and OSD with the node oneshots, then register → pool → gate reach health", async () => {
    expect(await ok(script("ceph-mon.sh", [queen, queen, ...members]))).toContain(`mon.${queen} created for cluster ${values.fsid} with 1 monitor(s)`);
    daemon("ceph-mon", queen);
    expect(await ok(script("ceph-mgr.sh", [queen, queen]))).toContain(`mgr.${queen} keyring installed`);
    daemon("ceph-mgr", queen);
    expect(await ok(script("ceph-osd.sh", [osd.node.name, String(osd.id), block, ...members]))).toContain(`osd.${osd.id} created on ${block}`);
    // As on a drone: the OSD starts before the queen has added it, and waits for its key to be known.
    daemon("ceph-osd", String(osd.id));

    expect(await ok(script("ceph-register.sh", [queen, String(plan.monitors.length)], registerInput(plan, values)))).toContain(
      "keys: 0 imported; OSDs: 1 added, 0 present",
    );
    // systemd (a stand-in here; the daemon is ours) restarts the OSD until its key is known
    // only the systemctl stand-in: ceph itself stays real
    const fakeBin = path.join(dir, "fake-bin");
    fs.mkdirSync(fakeBin);
    fs.symlinkSync(path.join(PROJECT_ROOT, "test", "stand-ins", "systemctl"), path.join(fakeBin, "systemctl"));
    const fake = { PATH: `${fakeBin}:${env.PATH}`, FAKE_LOG: path.join(dir, "calls.log"), FAKE_DIR: dir };
    expect(await ok(script("ceph-osd-up.sh", [osd.node.name, String(osd.id)], "", fake))).toContain(`osd.${osd.id} is active`);
    expect(fs.readFileSync(fake.FAKE_LOG, "utf8")).toContain(`systemctl start -- ceph-osd-${osd.id}.service`);
    const poolOut = await ok(script("ceph-pool.sh", [queen, "kubernetes", String(plan.poolSize), String(plan.poolMinSize), plan.failureDomain, String(plan.osds.length)], clientKeyring(values)));
    expect(poolOut).toContain("pool kubernetes (size 1, min_size 1, failure domain osd): rule borg-osd pool kubernetes");
    const gate = await ok(script("ceph-gate.sh", [queen, String(plan.monitors.length), String(plan.osds.length), plan.acceptedWarnings.join(",") || "-"]));
    expect(gate).toContain("healthy: 1 monitor(s) in quorum, 1 OSD(s) up and in, PGs active+clean");

    const s = status();
    expect(s.fsid).toBe(values.fsid);
    expect(s.quorum_names).toEqual([queen]);
    expect(s.osdmap).toMatchObject({ num_osds: 1, num_up_osds: 1, num_in_osds: 1 });
    expect(Object.keys(s.health.checks)).toEqual(plan.acceptedWarnings);
    const pool = JSON.parse(ceph("osd", "pool", "get", "kubernetes", "all", "-f", "json"));
    expect(pool).toMatchObject({ size: 1, min_size: 1, crush_rule: "borg-osd" });
    expect(JSON.parse(ceph("osd", "pool", "application", "get", "kubernetes", "-f", "json"))).toHaveProperty("rbd");
    const osds = JSON.parse(ceph("osd", "dump", "-f", "json")).osds;
    expect(osds).toEqual([expect.objectContaining({ osd: osd.id, uuid: values.osdUuids[osd.id], up: 1, in: 1 })]);
  });

  it("the cluster runs on the generated keys: each entity holds exactly its key, client.kubernetes reaches only its pool", async () => {
    const get = (entity: string) => ceph("auth", "get-key", entity).trim();
    expect(get("client.admin")).toBe(values.keys.admin);
    expect(get("client.bootstrap-osd")).toBe(values.keys.bootstrapOsd);
    expect(get(`mgr.${queen}`)).toBe(values.keys.mgr[queen]);
    expect(get(`osd.${osd.id}`)).toBe(values.keys.osd[osd.id]);
    expect(get(`client.kubernetes`)).toBe(values.keys.client);
    const clientRing = path.join(dir, "client.keyring");
    fs.writeFileSync(clientRing, clientKeyring(values), { mode: 0o600 });
    const asClient = (...args: string[]) => spawnSync("timeout", ["--foreground", "30", ...args, "-n", "client.kubernetes", "--keyring", clientRing], { env, encoding: "utf8" });
    const create = asClient("rbd", "create", "kubernetes/probe", "--size", "16");
    expect(create.status, create.stderr).toBe(0);
    expect(asClient("rbd", "ls", "kubernetes").stdout.trim()).toBe("probe");
    // profile rbd is limited to the pool: no admin commands
    expect(asClient("ceph", "--connect-timeout", "10", "osd", "pool", "create", "stolen").status).not.toBe(0);
    expect(asClient("rbd", "rm", "kubernetes/probe").status).toBe(0);
  });

  it("re-running every oneshot and step changes nothing", async () => {
    // What the steps manage (the OSD map's epoch also moves on its own: the PG autoscaler).
    const managed = () => {
      const dump = JSON.parse(ceph("osd", "dump", "-f", "json"));
      return {
        flags: dump.flags,
        osds: dump.osds.map((o: any) => ({ osd: o.osd, uuid: o.uuid, up: o.up, in: o.in })),
        pools: dump.pools.map((p: any) => ({ name: p.pool_name, size: p.size, min_size: p.min_size, rule: p.crush_rule, apps: p.application_metadata })),
        rules: JSON.parse(ceph("osd", "crush", "rule", "dump", "-f", "json")).map((r: any) => r.rule_name),
        auth: JSON.parse(ceph("auth", "ls", "-f", "json")),
      };
    };
    const before = managed();
    const monStore = fs.readdirSync(path.join(dir, "data", "mon", `ceph-${queen}`)).sort();
    expect(await ok(script("ceph-mon.sh", [queen, queen, ...members]))).toContain(`mon.${queen} already bootstrapped`);
    expect(await ok(script("ceph-mgr.sh", [queen, queen]))).toContain(`mgr.${queen} keyring in place`);
    expect(await ok(script("ceph-osd.sh", [osd.node.name, String(osd.id), block, ...members]))).toContain(`osd.${osd.id} already bootstrapped`);
    expect(await ok(script("ceph-register.sh", [queen, "1"], registerInput(plan, values)))).toContain("keys: 0 imported; OSDs: 0 added, 1 present");
    expect(await ok(script("ceph-pool.sh", [queen, "kubernetes", "1", "1", "osd", "1"], clientKeyring(values)))).toContain("failure domain osd): unchanged");
    await ok(script("ceph-gate.sh", [queen, "1", "1", "POOL_NO_REDUNDANCY"]));
    expect(managed()).toEqual(before);
    expect(fs.readdirSync(path.join(dir, "data", "mon", `ceph-${queen}`)).sort()).toEqual(monStore);
  });

  it("the rolling guard: noout around a switch, left set (and reported) when the confirm fails", async () => {
    const flags = () => JSON.parse(ceph("osd", "dump", "-f", "json")).flags as string;
    expect(await ok(script("ceph-guard.sh", [osd.node.name, "before"]))).toContain(`noout set for the switch of ${osd.node.name}`);
    expect(flags()).toContain("noout");
    expect(await ok(script("ceph-guard.sh", [osd.node.name, "after"]))).toContain("back to its health before the switch; noout unset");
    expect(flags()).not.toContain("noout");

    // Two lanes at once: the first one back keeps noout for the other.
    await ok(script("ceph-guard.sh", [osd.node.name, "before"]));
    await ok(script("ceph-guard.sh", [queen, "before"]));
    expect(await ok(script("ceph-guard.sh", [queen, "after"]))).toContain(`noout stays for: ${osd.node.name}`);
    expect(flags()).toContain("noout");
    // ...and a failed confirm never runs `after`: noout stays until the operator (or a good deploy) clears it.
    expect(flags()).toContain("noout");
    await ok(script("ceph-guard.sh", [osd.node.name, "after"]));
    expect(flags()).not.toContain("noout");

    // An operator's own noout survives a deploy.
    ceph("osd", "set", "noout");
    await ok(script("ceph-guard.sh", [queen, "before"]));
    expect(await ok(script("ceph-guard.sh", [queen, "after"]))).toContain("noout was set before the deploy and stays");
    expect(flags()).toContain("noout");
    ceph("osd", "unset", "noout");
  });

  it("the OSD oneshot refuses a disk that holds anything else", async () => {
    const other = path.join(dir, "used-disk");
    fs.writeFileSync(other, "");
    fs.truncateSync(other, 64 * 1024 ** 2);
    expect(spawnSync("mkswap", [other], { encoding: "utf8" }).status).toBe(0);
    // drone-2's secrets: its own OSD id and key
    const secrets = path.join(dir, "secrets-drone-2");
    fs.cpSync(path.join(dir, "secrets"), secrets, { recursive: true });
    fs.chmodSync(path.join(secrets, CEPH_SECRET.osdKeyring), 0o600);
    fs.writeFileSync(path.join(secrets, CEPH_SECRET.osdKeyring), osdKeyring(7, { ...values, keys: { ...values.keys, osd: { 7: newKey() } } }));
    const r = await script("ceph-osd.sh", ["drone-2", "7", other, ...members], "", { BORG_SECRETS_DIR: secrets });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/used-disk is not empty \(signature .*TYPE=swap.*\); refusing to format it/);
    expect(fs.existsSync(path.join(dir, "data", "osd", "ceph-7"))).toBe(false);
  });
});
