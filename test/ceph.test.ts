// Ceph in the program, offline: the cephx key format and its strict validator, who runs what
// (plan and node settings), the generated secrets (each node gets exactly its files, and no key
// leaves the secrets channel), the cross-node steps and the rolling guards in the plan, exports.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../components/bundle.js";
import { validateConfig, type CollectiveSpec } from "../components/config/validate.js";
import { cephPlan, cephSettings, monKeyring, registerInput, type CephValues } from "../components/services/ceph.js";
import { assertCephxKey, CEPHX_KEY_BYTES, cephxKey, cephxKeyProblems, keyringSection } from "../components/services/cephx.js";
import { serviceContext } from "../components/services/context.js";
import { fakeRandomBytes } from "../scripts/lib/mockedProgram.js";
import { listFiles, STACKS, stackValues, synth, tempDir, transitiveDependencies, type Synth } from "./helpers.js";

const SECRET16 = Buffer.from("00112233445566778899aabbccddeeff", "hex").toString("base64");
/** The key Ceph's own docs/tests use (ceph-authtool output), decoded by hand in services.md §1. */
const CEPH_SAMPLE = "AQBCEJNa3s8nHRAANvdsr93KqzBznuIWm2gOGg==";

function spec(stack: string, edit: (c: Record<string, any>) => void = () => {}): CollectiveSpec {
  const raw: Record<string, any> = { ...stackValues(stack), sshPrivateKey: "<set>", proxmoxApiToken: "<set>" };
  edit(raw);
  const result = validateConfig(raw);
  if (!result.ok) throw new Error(result.problems.join("\n"));
  return result.spec;
}

describe("cephx keys", () => {
  it("are Ceph's 28-byte CryptoKey encoding: le16 type 1, le32 sec, le32 nsec, le16 length 16, the secret", () => {
    const key = Buffer.from(cephxKey(SECRET16, { sec: 0x01020304, nsec: 5 }), "base64");
    expect(key).toHaveLength(CEPHX_KEY_BYTES);
    expect(key.subarray(0, 12).toString("hex")).toBe("0100" + "04030201" + "05000000" + "1000");
    expect(key.subarray(12).toString("hex")).toBe("00112233445566778899aabbccddeeff");
    // A fixed creation time keeps the key a pure function of the random bytes (no drift on re-runs).
    expect(cephxKey(SECRET16)).toBe(cephxKey(SECRET16));
    expect(Buffer.from(cephxKey(SECRET16), "base64").readUInt32LE(2)).toBe(0);
  });

  it("the validator accepts Ceph's own sample key and every generated one", () => {
    expect(cephxKeyProblems(CEPH_SAMPLE)).toEqual([]);
    expect(cephxKeyProblems(cephxKey(SECRET16))).toEqual([]);
  });

  it.each([
    ["a type-0 (none) key, which authenticates any secret", (b: Buffer) => b.writeUInt16LE(0, 0), /crypto type 0 \(none: it would accept any secret\)/],
    ["another crypto type", (b: Buffer) => b.writeUInt16LE(2, 0), /crypto type 2, not 1/],
    ["a declared length other than 16", (b: Buffer) => b.writeUInt16LE(32, 10), /declares a 32-byte secret/],
    ["an all-zero secret", (b: Buffer) => b.fill(0, 12), /all-zero secret/],
  ])("refuses %s", (_what, edit, problem) => {
    const bytes = Buffer.from(CEPH_SAMPLE, "base64");
    edit(bytes);
    expect(cephxKeyProblems(bytes.toString("base64")).join("; ")).toMatch(problem);
  });

  it.each([
    ["27 bytes", Buffer.from(CEPH_SAMPLE, "base64").subarray(0, 27).toString("base64"), /decodes to 27 bytes, not 28/],
    ["29 bytes (Ceph would silently drop the extra byte)", Buffer.concat([Buffer.from(CEPH_SAMPLE, "base64"), Buffer.from([7])]).toString("base64"), /decodes to 29 bytes/],
    ["16 random bytes", SECRET16, /decodes to 16 bytes/],
    ["whitespace", ` ${CEPH_SAMPLE}`, /not canonical base64/],
    ["a trailing newline", `${CEPH_SAMPLE}\n`, /not canonical base64/],
    ["missing padding", CEPH_SAMPLE.replace(/=+$/, ""), /not canonical base64/],
    ["non-canonical trailing bits", CEPH_SAMPLE.replace("Gg==", "Gh=="), /not canonical base64/],
    ["an empty string", "", /decodes to 0 bytes/],
  ])("refuses %s", (_what, key, problem) => {
    expect(cephxKeyProblems(key).join("; ")).toMatch(problem);
  });

  it("errors name what is wrong, never the key", () => {
    const bytes = Buffer.from(CEPH_SAMPLE, "base64");
    bytes.writeUInt16LE(0, 0);
    const key = bytes.toString("base64");
    expect(() => assertCephxKey(key, "key of client.admin")).toThrow(/^cephx: key of client\.admin has crypto type 0/);
    try {
      assertCephxKey(key, "x");
    } catch (e) {
      expect(String(e)).not.toContain(key);
    }
    expect(() => cephxKey(Buffer.alloc(15, 1).toString("base64"))).toThrow(/exactly 16 bytes/);
    expect(() => cephxKey(Buffer.alloc(16, 0).toString("base64"))).toThrow(/all-zero secret/);
  });

  it("keyring sections refuse invalid keys, entities and capabilities", () => {
    expect(keyringSection("client.admin", CEPH_SAMPLE, { osd: "allow *", mon: "allow *" })).toBe(
      `[client.admin]\n\tkey = ${CEPH_SAMPLE}\n\tcaps osd = "allow *"\n\tcaps mon = "allow *"\n`,
    );
    expect(() => keyringSection("client.admin", "AAAA")).toThrow(/key of client\.admin/);
    expect(() => keyringSection("root", CEPH_SAMPLE)).toThrow(/invalid entity/);
    expect(() => keyringSection("client.x", CEPH_SAMPLE, { mon: 'allow *"\n[client.evil]' })).toThrow(/invalid capability/);
  });
});

describe("who runs what", () => {
  it("prod: three monitors, the active manager on the queen and a standby on the next monitor, OSDs 0-2 on the drones, replicas on different hosts", () => {
    const plan = cephPlan(spec("prod"));
    expect(plan.monitors.map((n) => n.name)).toEqual(["queen", "drone-1", "drone-2"]);
    expect(plan.managers.map((n) => n.name)).toEqual(["queen", "drone-1"]);
    expect(plan.admin.name).toBe("queen");
    expect(plan.osds.map((o) => [o.node.name, o.id])).toEqual([["drone-1", 0], ["drone-2", 1], ["drone-3", 2]]);
    expect(plan).toMatchObject({ poolSize: 3, poolMinSize: 2, failureDomain: "host", acceptedWarnings: [] });
  });

  it("staging: two OSD hosts → replicas on different OSDs, size 2, min_size 1; dev: one replica and its one accepted warning", () => {
    expect(cephPlan(spec("staging"))).toMatchObject({ poolSize: 2, poolMinSize: 1, failureDomain: "osd", acceptedWarnings: [] });
    const dev = cephPlan(spec("dev"));
    expect(dev).toMatchObject({ poolSize: 1, poolMinSize: 1, failureDomain: "osd", acceptedWarnings: ["POOL_NO_REDUNDANCY"] });
    expect(dev.managers.map((n) => n.name)).toEqual(["queen"]);
  });

  it("OSD ids follow the drones' order; appending a drone keeps every existing id", () => {
    const more = cephPlan(spec("prod", (c) => c.drones.push({ name: "drone-4", vmId: 1014, address: "10.42.0.14" })));
    expect(more.osds.map((o) => [o.node.name, o.id])).toEqual([["drone-1", 0], ["drone-2", 1], ["drone-3", 2], ["drone-4", 3]]);
  });

  it("node settings: roles, pinned OSD id, cephx (and no generated value: node.json exists before them)", () => {
    const s = spec("prod");
    const of = (name: string) => cephSettings(serviceContext(s, s.nodes.find((n) => n.name === name)!));
    expect(of("queen")).toMatchObject({ enable: true, monitor: true, manager: true, admin: true, osdId: null, osdDevice: null });
    expect(of("drone-1")).toMatchObject({ monitor: true, manager: true, admin: false, osdId: 0, osdDevice: "/dev/vdb" });
    expect(of("drone-3")).toMatchObject({ monitor: false, manager: false, osdId: 2 });
    expect(of("edge-pi")).toMatchObject({ enable: false, osdId: null });
    expect(of("queen").auth).toEqual({ cluster: "cephx", service: "cephx", client: "cephx" });
    expect(JSON.stringify(of("queen"))).not.toMatch(/fsid|key/i);
  });

  it("Ceph enabled without any OSD disk is a config error naming the path", () => {
    const result = validateConfig({
      ...stackValues("dev"),
      sshPrivateKey: "<set>",
      proxmoxApiToken: "<set>",
      drones: stackValues("dev").drones.map((d: Record<string, unknown>) => ({ ...d, kind: "existing", address: d.address, hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGgNygPIWfaMq8UOMhHWhV9mYLbJafUmdRbEiLkVvwFJ", vmId: undefined, osdDiskGb: undefined })),
    });
    expect(result.ok).toBe(false);
    expect(!result.ok && result.problems).toContain("borg:services.ceph: is enabled, but no drone carries an OSD disk (osdDiskGb on a Proxmox drone); add one or set enabled: false");
  });
});

const runs: Record<string, Synth> = {};
beforeAll(async () => {
  for (const stack of STACKS) runs[stack] = await synth(stack);
});

/** Every cephx key the offline run derives (from the mock's fake random bytes). */
function derivedKeys(s: Synth): string[] {
  return s.byType("random:index/randomBytes:RandomBytes").filter((r) => r.name.startsWith("ceph-")).map((r) => cephxKey(fakeRandomBytes(r.name, Number(r.inputs.length)).toString("base64")));
}

describe("the Ceph component in the plan", () => {
  it.each(STACKS)("%s: one borg:index:Ceph under the Collective owns the fsid, the OSD uuids and one key per entity", (stack) => {
    const s = runs[stack]!;
    const ceph = s.byName("ceph");
    expect(ceph.type).toBe("borg:index:Ceph");
    expect(ceph.parent).toBe(s.byType("borg:index:Collective")[0]!.urn);
    const plan = cephPlan(spec(stack));
    const keys = s.byType("random:index/randomBytes:RandomBytes").filter((k) => k.parent === ceph.urn);
    expect(keys.map((k) => k.name).sort()).toEqual(
      [
        "ceph-key-mon",
        "ceph-key-client-admin",
        "ceph-key-client-bootstrap-osd",
        "ceph-key-client-kubernetes",
        ...plan.managers.map((m) => `ceph-key-mgr-${m.name}`),
        ...plan.osds.map((o) => `ceph-key-osd-${o.id}`),
      ].sort(),
    );
    for (const k of keys) expect([k.parent, k.inputs.length]).toEqual([ceph.urn, 16]);
    expect(s.byType("random:index/randomUuid:RandomUuid").filter((u) => u.parent === ceph.urn).map((u) => u.name).sort()).toEqual(["ceph-fsid", ...plan.osds.map((o) => `ceph-osd-${o.id}-uuid`)].sort());
  });

  it("prod: register on the queen after every monitor host, each OSD host's osd-up after it, pool after all of them, gate last", () => {
    const s = runs.prod!;
    const deps = (name: string) => s.byName(name).dependencies.map(s.nameOf);
    // a node counts as deployed once its confirm and every guard's `after` passed
    const after = (name: string) => new Set([...transitiveDependencies(s.plan.resources, s.byName(name).urn)].map(s.nameOf));
    for (const node of ["queen", "drone-1", "drone-2"]) expect(after("ceph-register").has(`${node}-nixos-guard-ceph-after`), node).toBe(true);
    expect(after("ceph-register").has("drone-3-nixos-confirm")).toBe(false);
    for (const [id, node] of [[0, "drone-1"], [1, "drone-2"], [2, "drone-3"]] as const) {
      expect(deps(`ceph-osd-${id}-up`)).toContain("ceph-register");
      expect(after(`ceph-osd-${id}-up`).has(`${node}-nixos-guard-ceph-after`)).toBe(true);
      expect(s.byName(`ceph-osd-${id}-up`).inputs.create).toMatch(new RegExp(`^sudo -n bash /var/lib/borg/bundles/[0-9a-f]{64}/node-scripts/services/ceph-osd-up\\.sh ${node} ${id}$`));
    }
    expect(deps("ceph-pool")).toEqual(expect.arrayContaining(["ceph-register", "ceph-osd-0-up", "ceph-osd-1-up", "ceph-osd-2-up"]));
    expect(deps("ceph-gate")).toContain("ceph-pool");
    const queenBundle = s.byName("queen-nixos").inputs.bundleHash;
    expect(s.byName("ceph-register").inputs.create).toBe(`sudo -n bash /var/lib/borg/bundles/${queenBundle}/node-scripts/services/ceph-register.sh queen 3`);
    expect(s.byName("ceph-pool").inputs.create).toMatch(/ceph-pool\.sh queen kubernetes 3 2 host 3$/);
    expect(s.byName("ceph-gate").inputs.create).toMatch(/ceph-gate\.sh queen 3 3 -$/);
    expect(runs.dev!.byName("ceph-gate").inputs.create).toMatch(/ceph-gate\.sh queen 1 1 POOL_NO_REDUNDANCY$/);
    expect(runs.staging!.byName("ceph-pool").inputs.create).toMatch(/ceph-pool\.sh queen kubernetes 2 1 osd 2$/);
  });

  it("steps with keys take them on stdin only: logging off, outputs secret, a secret digest as trigger", () => {
    const s = runs.prod!;
    for (const name of ["ceph-register", "ceph-pool"]) {
      const step = s.byName(name);
      expect(step.inputs.stdin, name).toBe("[secret]");
      expect(step.inputs.logging, name).toBe("none");
      expect(step.additionalSecretOutputs, name).toEqual(expect.arrayContaining(["stdout", "stderr"]));
      expect(step.inputs.triggers, name).toEqual([expect.stringMatching(/^fake-vm-/), s.byName("queen-nixos").inputs.bundleHash, "[secret]"]);
    }
    // the gate and the OSD steps carry no secret: their output stays readable
    expect(s.byName("ceph-gate").inputs).not.toHaveProperty("stdin");
    expect(s.byName("ceph-gate").inputs.logging).toBeUndefined();
  });

  it("every monitor or OSD host switches inside its ceph guard: noout set on the queen before, cleared after its confirm", () => {
    const s = runs.prod!;
    for (const node of ["drone-1", "drone-2", "drone-3"]) {
      const before = s.byName(`${node}-nixos-guard-ceph-before`);
      const after = s.byName(`${node}-nixos-guard-ceph-after`);
      const queenBundle = s.byName("queen-nixos").inputs.bundleHash;
      // run on the queen (the admin host), from its installed bundle, named after the switching node
      expect(before.inputs.create).toBe(`sudo -n bash /var/lib/borg/bundles/${queenBundle}/node-scripts/services/ceph-guard.sh ${node} before`);
      expect(after.inputs.create).toBe(`sudo -n bash /var/lib/borg/bundles/${queenBundle}/node-scripts/services/ceph-guard.sh ${node} after`);
      expect(s.byName(`${node}-nixos-activate`).dependencies).toContain(before.urn);
      expect(transitiveDependencies(s.plan.resources, after.urn)).toContain(s.byName(`${node}-nixos-confirm`).urn);
      expect(transitiveDependencies(s.plan.resources, before.urn)).toContain(s.byName("queen-nixos-confirm").urn);
      // a failed confirm says that noout stays set, and how to clear it
      expect(s.byName(`${node}-nixos-confirm`).inputs.create).toContain(`ceph: the cluster keeps noout set (the OSDs of ${node} are not rebalanced away); once ${node} is healthy, run on queen: sudo ceph osd unset noout`);
    }
    // the queen guards itself (from the staged bundle before, the installed one after)
    expect(s.byName("queen-nixos-guard-ceph-before").inputs.create).toMatch(/^sudo -n bash \/home\/borg\/\.borg\/staging\/[0-9a-f]{64}\/node-scripts\/services\/ceph-guard\.sh queen before$/);
    // the edge Pi holds no Ceph data: no guard
    expect(s.plan.resources.filter((r) => r.name.startsWith("edge-pi-nixos-guard"))).toEqual([]);
  });

  it("each node gets exactly its Ceph secret files, root-owned, with the units a rotation restarts", () => {
    const filesOf = (s: Synth, node: string) =>
      JSON.parse(fs.readFileSync(path.join(s.outDir, "nodes", node, "node.json"), "utf8"))
        .secrets.files.filter((f: { name: string }) => f.name.startsWith("ceph-"))
        .map((f: { name: string; owner: string; group: string }) => `${f.name}:${f.owner}:${f.group}`);
    const s = runs.prod!;
    expect(filesOf(s, "queen")).toEqual(["ceph-fsid:root:root", "ceph-mon-keyring:root:root", "ceph-admin-keyring:root:root", "ceph-mgr-keyring:root:root"]);
    expect(filesOf(s, "drone-1")).toEqual(["ceph-fsid:root:root", "ceph-mon-keyring:root:root", "ceph-mgr-keyring:root:root", "ceph-osd-keyring:root:root", "ceph-osd-uuid:root:root"]);
    expect(filesOf(s, "drone-3")).toEqual(["ceph-fsid:root:root", "ceph-osd-keyring:root:root", "ceph-osd-uuid:root:root"]);
    expect(filesOf(s, "edge-pi")).toEqual([]);
  });

  it("exports what Ceph CSI needs: fsid, msgr1 monitor addresses, pool, user, and the key as a secret", () => {
    const out = runs.prod!.plan.outputs.ceph as Record<string, unknown>;
    expect(out).toEqual({
      fsid: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-8[0-9a-f]{3}-[0-9a-f]{12}$/),
      monitors: ["10.42.0.10:6789", "10.42.0.11:6789", "10.42.0.12:6789"],
      pool: "kubernetes",
      userId: "kubernetes",
      userKey: "[secret]",
    });
  });
});

describe("no generated key leaves the secrets channel", () => {
  /** Every place a key must never be: each string of the plan and each bundle file. */
  function leaks(s: Synth, needles: readonly string[]): string[] {
    const found: string[] = [];
    const walk = (value: unknown, where: string) => {
      if (typeof value === "string" && needles.some((n) => value.includes(n))) found.push(where);
      else if (Array.isArray(value)) value.forEach((v, i) => walk(v, `${where}[${i}]`));
      else if (value && typeof value === "object") for (const [k, v] of Object.entries(value)) walk(v, `${where}.${k}`);
    };
    for (const r of s.plan.resources) walk(r.inputs, `${r.name}.inputs`);
    walk(s.plan.outputs, "outputs");
    for (const file of listFiles(path.join(s.outDir, "nodes"))) {
      const text = fs.readFileSync(file, "utf8");
      if (needles.some((n) => text.includes(n))) found.push(path.relative(s.outDir, file));
    }
    return found;
  }

  it.each(STACKS)("%s: no cephx key, and no raw random bytes, in any input, command, export or bundle file", (stack) => {
    const s = runs[stack]!;
    const keys = derivedKeys(s);
    const raw = s.byType("random:index/randomBytes:RandomBytes").filter((r) => r.name.startsWith("ceph-")).map((r) => fakeRandomBytes(r.name, 16).toString("base64"));
    expect(keys.length).toBeGreaterThanOrEqual(5);
    expect(leaks(s, [...keys, ...raw])).toEqual([]);
  });

  it("control: with secrets revealed the same keys are found, exactly where they belong (secrets stdin and step stdin)", async () => {
    const { runProgram } = await import("../scripts/lib/mockedProgram.js");
    const { readStackFile } = await import("../scripts/lib/stackFile.js");
    const { stackFile } = await import("./helpers.js");
    const { values } = readStackFile(stackFile("dev"));
    const config = { ...values, "borg:sshPrivateKey": "<secret:borg:sshPrivateKey>", "borg:proxmoxApiToken": "<secret:borg:proxmoxApiToken>" };
    const bundleRoot = tempDir();
    const run = await runProgram({ stack: "dev", config, secretKeys: ["borg:sshPrivateKey", "borg:proxmoxApiToken"], bundleRoot, revealSecrets: true });
    fs.rmSync(bundleRoot, { recursive: true, force: true });
    const key = (name: string) => cephxKey(fakeRandomBytes(name, 16).toString("base64"));
    // Secret records travel base64-encoded (install-secrets.sh): decode them to search.
    const text = (r: (typeof run.resources)[number]) =>
      r.name.endsWith("-nixos-secrets")
        ? String(r.inputs.stdin).split("\n").map((l) => Buffer.from(l.split(" ")[3] ?? "", "base64").toString()).join("\n")
        : JSON.stringify(r.inputs);
    const where = (needle: string) => run.resources.filter((r) => text(r).includes(needle)).map((r) => r.name).sort();
    const secretsStdin = (node: string) => {
      const stdin = String(run.resources.find((r) => r.name === `${node}-nixos-secrets`)!.inputs.stdin);
      return Object.fromEntries(stdin.trim().split("\n").map((l) => l.split(" ")).map(([name, , , b64, units]) => [name, { text: Buffer.from(b64!, "base64").toString(), units }]));
    };
    expect(where(key("ceph-key-client-admin"))).toEqual(["queen-nixos-secrets"]);
    expect(where(key("ceph-key-osd-0"))).toEqual(["ceph-register", "drone-1-nixos-secrets"]);
    expect(where(key("ceph-key-client-kubernetes"))).toEqual(["ceph-pool"]);
    expect(where(key("ceph-key-mon"))).toEqual(["queen-nixos-secrets"]);
    const queen = secretsStdin("queen");
    const drone = secretsStdin("drone-1");
    expect(queen["ceph-fsid"]!.text).toMatch(/^[0-9a-f-]{36}$/);
    expect(queen["ceph-mon-keyring"]!.text).toMatch(/^\[mon\.\]\n\tkey = .*\n\tcaps mon = "allow \*"\n\[client\.admin\]/);
    expect(queen["ceph-mgr-keyring"]).toMatchObject({ text: expect.stringMatching(/^\[mgr\.queen\]/), units: "borg-ceph-mgr-queen.service,ceph-mgr-queen.service" });
    expect(drone["ceph-osd-keyring"]).toEqual({ text: `[osd.0]\n\tkey = ${key("ceph-key-osd-0")}\n`, units: "borg-ceph-osd-0.service,ceph-osd-0.service" });
    expect(drone["ceph-fsid"]!.text).toBe(queen["ceph-fsid"]!.text);
    expect(drone).not.toHaveProperty("ceph-admin-keyring");
  });

  it("a second run derives the very same secret inputs (so a no-op `pulumi up` re-runs no Ceph step)", async () => {
    const { runProgram } = await import("../scripts/lib/mockedProgram.js");
    const { readStackFile } = await import("../scripts/lib/stackFile.js");
    const { stackFile } = await import("./helpers.js");
    const { values } = readStackFile(stackFile("staging"));
    const config = { ...values, "borg:sshPrivateKey": "<secret:borg:sshPrivateKey>", "borg:proxmoxApiToken": "<secret:borg:proxmoxApiToken>" };
    const once = async () => {
      const bundleRoot = tempDir();
      const run = await runProgram({ stack: "staging", config, secretKeys: ["borg:sshPrivateKey", "borg:proxmoxApiToken"], bundleRoot, revealSecrets: true });
      fs.rmSync(bundleRoot, { recursive: true, force: true });
      return run.resources.filter((r) => r.name.startsWith("ceph-") || r.name.endsWith("-nixos-secrets")).map((r) => [r.name, r.inputs.triggers, r.inputs.stdin]);
    };
    const [a, b] = [await once(), await once()];
    expect(a.length).toBeGreaterThan(5);
    expect(b).toEqual(a);
  });

  it("the texts the nodes receive are built only from validated keys", () => {
    const plan = cephPlan(spec("dev"));
    const good = cephxKey(SECRET16);
    const values: CephValues = { fsid: "f", keys: { mon: good, admin: good, bootstrapOsd: good, client: good, mgr: { queen: good }, osd: { 0: good } }, osdUuids: { 0: "u" } };
    expect(() => monKeyring(plan, values)).not.toThrow();
    const typeNone = Buffer.from(good, "base64");
    typeNone.writeUInt16LE(0, 0);
    expect(() => monKeyring(plan, { ...values, keys: { ...values.keys, admin: typeNone.toString("base64") } })).toThrow(/key of client\.admin has crypto type 0/);
    expect(JSON.parse(registerInput(plan, values))).toEqual({
      keys: [{ entity: "mgr.queen", key: good, caps: { mds: "allow *", mon: "allow profile mgr", osd: "allow *" } }],
      osds: [{ id: 0, uuid: "u", key: good, caps: { mgr: "allow profile osd", mon: "allow profile osd", osd: "allow *" } }],
    });
  });
});

describe("the Ceph node scripts", () => {
  const dir = path.join(PROJECT_ROOT, "node-scripts", "services");
  const scripts = fs.readdirSync(dir).filter((f) => f.startsWith("ceph-") && f.endsWith(".sh"));

  it("are shellcheck-clean (following what they source) and start like every node script", () => {
    expect(scripts.sort()).toEqual(["ceph-gate.sh", "ceph-guard.sh", "ceph-lib.sh", "ceph-mgr.sh", "ceph-mon.sh", "ceph-osd-up.sh", "ceph-osd.sh", "ceph-pool.sh", "ceph-register.sh"]);
    for (const f of scripts) expect(fs.readFileSync(path.join(dir, f), "utf8"), f).toMatch(/^(#!\/usr\/bin\/env bash|# shellcheck shell=bash)\n/);
    const r = spawnSync("shellcheck", ["-x", ...scripts.map((f) => path.join("node-scripts", "services", f))], { cwd: PROJECT_ROOT, encoding: "utf8" });
    expect(r.error).toBeUndefined();
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });

  it("never put a key on a command line: keys move through files and pipes", () => {
    for (const f of scripts) {
      const text = fs.readFileSync(path.join(dir, f), "utf8");
      expect(text, f).not.toMatch(/--add-key|--argjson\s+\S*(key|auth|input)|ceph-authtool[^\n]*\$key/i);
    }
  });
});

describe("the gate and the rolling guard judge `ceph status` (against a stand-in ceph)", () => {
  const STAND_INS = path.join(PROJECT_ROOT, "test", "stand-ins");
  let dir = "";
  const healthy = {
    fsid: "f",
    health: { status: "HEALTH_OK", checks: {} },
    quorum_names: ["queen", "drone-1", "drone-2"],
    osdmap: { num_osds: 3, num_up_osds: 3, num_in_osds: 3 },
    pgmap: { num_pgs: 33, pgs_by_state: [{ state_name: "active+clean", count: 33 }] },
    mgrmap: { available: true },
  };
  const setStatus = (status: unknown) => fs.writeFileSync(path.join(dir, "status.json"), JSON.stringify(status));
  const run = (script: string, args: string[], extra: Record<string, string> = {}) => {
    const r = spawnSync("bash", [path.join(PROJECT_ROOT, "node-scripts", "services", script), ...args], {
      encoding: "utf8",
      env: {
        PATH: `${STAND_INS}:${process.env.PATH}`,
        LANG: "C",
        BORG_STATE_DIR: path.join(dir, "state"),
        BORG_SECRETS_DIR: path.join(dir, "secrets"),
        BORG_ROOT_UID: String(process.getuid!()),
        BORG_CEPH_WAIT: "2",
        BORG_GATE_INTERVAL: "1",
        FAKE_LOG: path.join(dir, "calls.log"),
        FAKE_DIR: dir,
        FAKE_CEPH_STATUS: path.join(dir, "status.json"),
        ...extra,
      },
    });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };
  const calls = () =>
    fs.readFileSync(path.join(dir, "calls.log"), "utf8").split("\n").filter((l) => /noout/.test(l)).map((l) => l.replace(/^ceph .*?(osd (un)?set noout)$/, "ceph $1"));
  const bootstrapped = () => {
    fs.mkdirSync(path.join(dir, "state", "ceph"), { recursive: true });
    fs.writeFileSync(path.join(dir, "state", "ceph", "bootstrapped"), "");
    fs.writeFileSync(path.join(dir, "calls.log"), "");
  };
  beforeAll(() => {
    dir = tempDir("borg-ceph-standin-");
    fs.mkdirSync(path.join(dir, "secrets"));
    fs.writeFileSync(path.join(dir, "secrets", "ceph-admin-keyring"), "[client.admin]\n");
    fs.writeFileSync(path.join(dir, "calls.log"), "");
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("the gate passes a healthy cluster and records that it is bootstrapped", () => {
    setStatus(healthy);
    const r = run("ceph-gate.sh", ["queen", "3", "3", "-"]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain("healthy: 3 monitor(s) in quorum, 3 OSD(s) up and in, PGs active+clean");
    expect(fs.existsSync(path.join(dir, "state", "ceph", "bootstrapped"))).toBe(true);
  });

  it.each([
    ["a monitor out of quorum", { quorum_names: ["queen", "drone-1"] }, /2 of 3 monitors in quorum \(queen,drone-1\)/],
    ["no manager", { mgrmap: { available: false } }, /no active manager/],
    ["an OSD down", { osdmap: { num_osds: 3, num_up_osds: 2, num_in_osds: 3 } }, /3 OSDs \(want 3\): 2 up, 3 in/],
    ["PGs peering", { pgmap: { num_pgs: 33, pgs_by_state: [{ state_name: "active+clean", count: 30 }, { state_name: "peering", count: 3 }] } }, /PGs not all active\+clean: 30 active\+clean, 3 peering/],
    ["a warning", { health: { status: "HEALTH_WARN", checks: { MON_CLOCK_SKEW: { summary: { message: "clock skew detected" } } } } }, /HEALTH_WARN: MON_CLOCK_SKEW \(clock skew detected\)/],
  ])("the gate fails on %s, naming the node, the gate and the cluster's words", (_what, change, message) => {
    setStatus({ ...healthy, ...change });
    const r = run("ceph-gate.sh", ["queen", "3", "3", "-"]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^borg: queen: ceph: health gate \(3 mon, 3 OSD, accepted: -\): not ready after 2s: /m);
    expect(r.err).toMatch(message);
  });

  it("the gate accepts a warning only when the stack names it (one replica: POOL_NO_REDUNDANCY)", () => {
    setStatus({ ...healthy, health: { status: "HEALTH_WARN", checks: { POOL_NO_REDUNDANCY: { summary: { message: "1 pool(s) have no replicas configured" } } } } });
    expect(run("ceph-gate.sh", ["queen", "3", "3", "-"]).code).toBe(1);
    expect(run("ceph-gate.sh", ["queen", "3", "3", "POOL_NO_REDUNDANCY"]).code).toBe(0);
  });

  it("the guard: noout before the switch, unset once the recorded health is back", () => {
    bootstrapped();
    setStatus(healthy);
    expect(run("ceph-guard.sh", ["drone-3", "before"]).out).toContain("noout set for the switch of drone-3");
    // the noout flag itself is not a new problem
    setStatus({ ...healthy, health: { status: "HEALTH_WARN", checks: { OSDMAP_FLAGS: { summary: { message: "noout flag(s) set" } } } } });
    const after = run("ceph-guard.sh", ["drone-3", "after"]);
    expect(after.code, after.err).toBe(0);
    expect(after.out).toContain("drone-3 is back to its health before the switch; noout unset");
    expect(calls()).toEqual(["ceph osd set noout", "ceph osd unset noout"]);
  });

  it("the guard keeps noout, and fails naming what is missing, while the node's OSD is not back", () => {
    bootstrapped();
    setStatus(healthy);
    run("ceph-guard.sh", ["drone-3", "before"]);
    setStatus({ ...healthy, osdmap: { num_osds: 3, num_up_osds: 2, num_in_osds: 3 }, health: { status: "HEALTH_WARN", checks: { OSD_DOWN: { summary: { message: "1 osds down" } } } } });
    const r = run("ceph-guard.sh", ["drone-3", "after"]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/ceph: health as before the switch of drone-3: not ready after 2s: now: 2 up\/3 in \(before 3\/3\); checks: OSD_DOWN \(before: \)/);
    expect(calls().filter((l) => l.includes("unset"))).toEqual([]);
    expect(fs.existsSync(path.join(dir, "state", "ceph", "noout", "drone-3"))).toBe(true);
    // a later good deploy of the node clears it
    setStatus(healthy);
    expect(run("ceph-guard.sh", ["drone-3", "after"]).code).toBe(0);
    expect(calls().filter((l) => l.includes("unset"))).toHaveLength(1);
  });

  it("the guard switches without noout when the cluster does not answer, and before the first gate", () => {
    bootstrapped();
    const down = run("ceph-guard.sh", ["drone-3", "before"], { FAKE_CEPH_DOWN: "1" });
    expect(down.code).toBe(0);
    expect(down.err).toContain("the cluster does not answer (no quorum?): switching without noout");
    expect(run("ceph-guard.sh", ["drone-3", "after"]).out).toContain("no noout held for drone-3");
    fs.rmSync(path.join(dir, "state", "ceph", "bootstrapped"));
    expect(run("ceph-guard.sh", ["queen", "before"]).out).toContain("not bootstrapped yet: nothing to guard");
    expect(calls()).toEqual([]);
  });
});
