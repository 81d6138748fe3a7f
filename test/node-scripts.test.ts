// The shell scripts borg-collective runs on NixOS nodes (node-scripts/*.sh),
// exercised for real against stand-in node commands (test/stand-ins/, first on
// PATH) and a fake "store" of NixOS systems in a temp dir. See
// test/stand-ins/README.md for what each stand-in does. Runs as any user:
// BORG_ROOT_UID names our own uid as "root"; one test proves the scripts
// refuse without it.
import { describe, it, expect, beforeEach, afterEach } from "vitest";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const SCRIPTS = path.join(ROOT, "node-scripts");
const STAND_INS = path.join(ROOT, "test", "stand-ins");
const NODE = "drone-1";
const SCRIPT_NAMES = ["lib.sh", "preflight.sh", "install-secrets.sh", "activate.sh", "confirm.sh", "revert.sh"];
const UID = process.getuid!();

interface Result {
  code: number | null;
  out: string;
  err: string;
}

interface Fixture {
  dir: string;
  state: string;
  secrets: string;
  current: string;
  profile: string;
  marker: string;
  log: string;
  fakeDir: string;
  oldSys: string;
  newSys: string;
  staging: string;
  hash: string;
  env: Record<string, string>;
}

let fx: Fixture;

function sha256(data: string | Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

function makeSystem(store: string, name: string): string {
  const sys = path.join(store, name);
  fs.mkdirSync(path.join(sys, "bin"), { recursive: true });
  fs.copyFileSync(path.join(STAND_INS, "switch-to-configuration"), path.join(sys, "bin", "switch-to-configuration"));
  fs.chmodSync(path.join(sys, "bin", "switch-to-configuration"), 0o755);
  return sys;
}

/** Write a bundle into dir (files + real scripts + MANIFEST); returns its hash. */
function writeBundle(dir: string, extra: Record<string, string> = {}): string {
  const files: Record<string, string | Buffer> = {
    "system.nix": "import ./configuration.nix\n",
    "configuration.nix": "{ ... }: { imports = [ ./modules/base.nix ]; }\n",
    "node.json": JSON.stringify({ name: NODE, role: "drone" }) + "\n",
    "modules/base.nix": "{ ... }: { }\n",
    ...extra,
  };
  for (const s of SCRIPT_NAMES) files[`node-scripts/${s}`] = fs.readFileSync(path.join(SCRIPTS, s));
  for (const [rel, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), content);
  }
  const manifest = Object.keys(files)
    .sort()
    .map((rel) => `${sha256(fs.readFileSync(path.join(dir, rel)))}  ${rel}\n`)
    .join("");
  fs.writeFileSync(path.join(dir, "MANIFEST"), manifest);
  return sha256(manifest);
}

beforeEach(() => {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "borg-node-scripts-")));
  const store = path.join(dir, "store");
  const oldSys = makeSystem(store, "system-old");
  const newSys = makeSystem(store, "system-new");
  const current = path.join(dir, "run", "current-system");
  fs.mkdirSync(path.dirname(current), { recursive: true });
  fs.symlinkSync(oldSys, current);
  const profile = path.join(dir, "profiles", "system");
  fs.mkdirSync(path.dirname(profile), { recursive: true });
  fs.symlinkSync(oldSys, profile);
  const marker = path.join(dir, "etc", "NIXOS");
  fs.mkdirSync(path.dirname(marker), { recursive: true });
  fs.writeFileSync(marker, "");
  const fakeDir = path.join(dir, "fake");
  fs.mkdirSync(fakeDir);
  const home = path.join(dir, "home", "deploy");
  fs.mkdirSync(home, { recursive: true, mode: 0o700 });

  // Build the bundle once elsewhere to learn its hash and staging path.
  const scratch = path.join(dir, "scratch");
  const hash = writeBundle(scratch);
  fs.rmSync(scratch, { recursive: true });
  const state = path.join(dir, "state");
  const log = path.join(dir, "calls.log");
  fs.writeFileSync(log, "");
  fx = {
    dir,
    state,
    secrets: path.join(state, "secrets"),
    current,
    profile,
    marker,
    log,
    fakeDir,
    oldSys,
    newSys,
    staging: path.join(home, ".borg", "staging", hash),
    hash,
    env: {
      PATH: `${STAND_INS}:${process.env.PATH ?? "/usr/bin:/bin"}`,
      HOME: home,
      LANG: "C",
      BORG_STATE_DIR: state,
      BORG_SECRETS_DIR: path.join(state, "secrets"),
      BORG_CURRENT_SYSTEM: current,
      BORG_SYSTEM_PROFILE: profile,
      BORG_NIXOS_MARKER: marker,
      BORG_HEALTH_TIMEOUT: "5",
      BORG_ROOT_UID: String(UID),
      FAKE_LOG: log,
      FAKE_DIR: fakeDir,
      FAKE_BUILD_OUT: newSys,
    },
  };
});

afterEach(() => {
  fs.rmSync(fx.dir, { recursive: true, force: true });
});

function run(cmd: string, args: string[], opts: { input?: string; env?: Record<string, string> } = {}): Result {
  const r = spawnSync(cmd, args, {
    env: { ...fx.env, ...opts.env },
    input: opts.input ?? "",
    encoding: "utf8",
    timeout: 20_000,
  });
  if (r.error) throw r.error;
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function stage(extra: Record<string, string> = {}): void {
  const hash = writeBundle(fx.staging, extra);
  expect(hash).toBe(fx.hash);
}

function preflight(env: Record<string, string> = {}): Result {
  const script = fs.readFileSync(path.join(SCRIPTS, "preflight.sh"), "utf8");
  return run("bash", ["-s", "--", NODE, fx.hash, fx.staging], { input: script, env });
}

function activate(env: Record<string, string> = {}, timeout = "120", hash = fx.hash): Result {
  const script = path.join(fx.staging, "node-scripts", "activate.sh");
  return run("sudo", ["-n", "bash", script, NODE, hash, fx.staging, timeout], { env });
}

function confirm(env: Record<string, string> = {}, extra: string[] = []): Result {
  const script = path.join(fx.state, "bundles", fx.hash, "node-scripts", "confirm.sh");
  return run("sudo", ["-n", "bash", script, NODE, fx.hash, ...extra], { env });
}

function installSecrets(input: string): Result {
  const script = path.join(fx.staging, "node-scripts", "install-secrets.sh");
  return run("sudo", ["-n", "bash", script, NODE], { input });
}

/** What systemd would do when the borg-revert timer elapses. */
function fireTimer(): Result {
  const cmd = fs.readFileSync(path.join(fx.fakeDir, "timer-cmd"), "utf8").trim().split("\n");
  fs.rmSync(path.join(fx.fakeDir, "timer-armed"), { force: true });
  return run(cmd[0]!, cmd.slice(1));
}

function calls(): string[] {
  return fs.readFileSync(fx.log, "utf8").split("\n").filter((l) => l !== "");
}

function callIndex(prefix: string): number {
  return calls().findIndex((l) => l.startsWith(prefix));
}

function currentSystem(): string {
  return fs.realpathSync(fx.current);
}

function readKv(file: string): Record<string, string> | undefined {
  const p = path.join(fx.state, "deploy", file);
  if (!fs.existsSync(p)) return undefined;
  return Object.fromEntries(
    fs.readFileSync(p, "utf8").split("\n").filter((l) => l.includes("=")).map((l) => {
      const i = l.indexOf("=");
      return [l.slice(0, i), l.slice(i + 1)];
    }),
  );
}

const timerArmed = (): boolean => fs.existsSync(path.join(fx.fakeDir, "timer-armed"));
const bootCalls = (): string[] => calls().filter((l) => l.startsWith("switch-to-configuration") && l.endsWith(" boot"));
const buildCalls = (): string[] => calls().filter((l) => l.startsWith("nix-build"));
const switchCalls = (): string[] => calls().filter((l) => l.startsWith("switch-to-configuration"));

describe("activate → confirm (success path)", () => {
  it("preflights, activates with the timer armed first, confirms and is idempotent", () => {
    fs.mkdirSync(fx.staging, { recursive: true });
    fs.writeFileSync(path.join(fx.staging, "stale-leftover"), "x");
    const pre = preflight();
    expect(pre.code, pre.err).toBe(0);
    expect(pre.out).toBe(`borg: ${NODE}: ready\n`);
    expect(fs.existsSync(fx.staging)).toBe(false);

    stage();
    const act = activate();
    expect(act.code, act.err).toBe(0);
    expect(act.out).toContain(`borg: ${NODE}: activated ${fx.newSys}; confirm within 120s or it reverts`);
    expect(currentSystem()).toBe(fx.newSys);
    expect(buildCalls()).toEqual([
      `nix-build ${fx.state}/bundles/${fx.hash}/system.nix -A system --no-out-link`,
    ]);
    expect(readKv("pending")).toMatchObject({ node: NODE, hash: fx.hash, old: fx.oldSys, new: fx.newSys, unit: "borg-revert" });
    const arm = callIndex("systemd-run ");
    expect(calls()[arm]).toContain("--unit=borg-revert --on-active=120s --timer-property=AccuracySec=1s");
    expect(arm).toBeGreaterThanOrEqual(0);
    expect(arm).toBeLessThan(callIndex(`switch-to-configuration ${fx.newSys} test`));
    const timerCmd = fs.readFileSync(path.join(fx.fakeDir, "timer-cmd"), "utf8").trim().split("\n");
    expect(path.isAbsolute(timerCmd[0]!)).toBe(true);
    expect(timerCmd.slice(1)).toEqual([`${fx.state}/bundles/${fx.hash}/node-scripts/revert.sh`, NODE, fx.hash]);
    expect(timerArmed()).toBe(true);
    expect(bootCalls()).toEqual([]);
    expect(fs.realpathSync(fx.profile)).toBe(fx.oldSys);

    const conf = confirm();
    expect(conf.code, conf.err).toBe(0);
    expect(conf.out).toContain(`borg: ${NODE}: confirmed ${fx.newSys}`);
    expect(timerArmed()).toBe(false);
    const stop = calls().indexOf("systemctl stop borg-revert.timer"); // confirm's disarm
    expect(stop).toBeGreaterThan(arm);
    expect(stop).toBeLessThan(callIndex("systemctl is-system-running --wait"));
    expect(callIndex("systemctl is-system-running --wait")).toBeLessThan(callIndex("nix-env "));
    expect(calls()).toContain(`nix-env -p ${fx.profile} --set ${fx.newSys}`);
    expect(callIndex("nix-env ")).toBeLessThan(callIndex(`switch-to-configuration ${fx.newSys} boot`));
    expect(bootCalls()).toEqual([`switch-to-configuration ${fx.newSys} boot`]);
    expect(fs.realpathSync(fx.profile)).toBe(fx.newSys);
    expect(currentSystem()).toBe(fx.newSys);
    expect(readKv("confirmed")).toMatchObject({ hash: fx.hash, system: fx.newSys });
    expect(readKv("pending")).toBeUndefined();

    // Same hash again: nothing rebuilt, nothing switched.
    const switchesBefore = switchCalls().length;
    const again = activate();
    expect(again.code, again.err).toBe(0);
    expect(again.out).toContain("already active");
    expect(buildCalls()).toHaveLength(1);
    expect(switchCalls()).toHaveLength(switchesBefore);
    const reconf = confirm();
    expect(reconf.code, reconf.err).toBe(0);
    expect(bootCalls()).toHaveLength(1);
  });

  it("survives SIGHUP/SIGPIPE (a dropped SSH session) during the switch", () => {
    stage();
    const act = activate({ FAKE_SWITCH_SIGNAL_PARENT: "1" });
    expect(act.code, act.err).toBe(0);
    expect(currentSystem()).toBe(fx.newSys);
    expect(readKv("pending")).toMatchObject({ new: fx.newSys });
  });
});

describe("revert paths", () => {
  it("the timer fires before confirm: back to old, boot untouched, confirm fails", () => {
    stage();
    expect(activate().code).toBe(0);
    expect(currentSystem()).toBe(fx.newSys);

    const fired = fireTimer();
    expect(fired.code, fired.err).toBe(0);
    expect(currentSystem()).toBe(fx.oldSys);
    expect(calls()).toContain(`switch-to-configuration ${fx.oldSys} test`);
    expect(calls().some((l) => l.startsWith("logger -t borg"))).toBe(true);
    expect(readKv("reverted")).toMatchObject({ hash: fx.hash, old: fx.oldSys });
    expect(readKv("reverted")?.time).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(readKv("pending")).toBeUndefined();

    const urn = "urn:pulumi:prod::borg-collective::borg:index:Drone$borg:index:NixosHost$command:remote:Command::drone-1-nixos-activate";
    const conf = confirm({}, [urn]);
    expect(conf.code).not.toBe(0);
    expect(conf.err).toContain(`borg: ${NODE}: reverted before confirm (timer fired)`);
    // Pulumi recorded the activation as done: the operator is told how to retry this bundle.
    expect(conf.err).toContain(`pulumi up --replace '${urn}'`);
    expect(confirm({}, ["urn:pulumi:x'; rm -rf /"]).err).toContain("invalid activate URN");
    expect(bootCalls()).toEqual([]);
    expect(calls().some((l) => l.startsWith("nix-env"))).toBe(false);
    expect(fs.realpathSync(fx.profile)).toBe(fx.oldSys);
    expect(currentSystem()).toBe(fx.oldSys);
  });

  it("a reboot before confirm: the unconfirmed system never becomes the boot default", () => {
    stage();
    expect(activate().code).toBe(0);
    // What a reboot does: the boot default (still the old system) comes back up and the
    // transient revert timer is gone. The node is healthy, so only the running-system check stops it.
    fs.rmSync(fx.current);
    fs.symlinkSync(fx.oldSys, fx.current);
    fs.rmSync(path.join(fx.fakeDir, "timer-armed"));

    const conf = confirm();
    expect(conf.code).toBe(1);
    expect(conf.err).toContain(`borg: ${NODE}: not running the activated system at confirm (rebooted or reverted); running ${fx.oldSys}, boot default unchanged;`);
    expect(calls().some((l) => l.startsWith("nix-env"))).toBe(false);
    expect(bootCalls()).toEqual([]);
    expect(fs.realpathSync(fx.profile)).toBe(fx.oldSys);
    expect(currentSystem()).toBe(fx.oldSys);
    expect(switchCalls()).toEqual([`switch-to-configuration ${fx.newSys} test`]); // the old one already runs
    expect(readKv("confirmed")).toBeUndefined();
    expect(readKv("pending")).toBeUndefined();
    expect(readKv("reverted")).toMatchObject({ hash: fx.hash, old: fx.oldSys, new: fx.newSys, reason: "not running the activated system at confirm" });
  });

  it("a retried activate keeps the known-good old system as the revert target", () => {
    stage();
    expect(activate().code).toBe(0);
    const retry = activate({}, "60");
    expect(retry.code, retry.err).toBe(0);
    expect(readKv("pending")).toMatchObject({ old: fx.oldSys, new: fx.newSys });
    expect(calls().filter((l) => l.startsWith("systemd-run "))).toHaveLength(2);
    expect(fireTimer().code).toBe(0);
    expect(currentSystem()).toBe(fx.oldSys);
  });

  it("the health gate fails (degraded): reverted now, failed units named", () => {
    stage();
    expect(activate().code).toBe(0);
    const conf = confirm({ FAKE_SYSTEM_STATE: "degraded", FAKE_FAILED_UNITS: "consul.service k3s.service" });
    expect(conf.code).toBe(1);
    expect(conf.err).toContain(
      `borg: ${NODE}: health gate failed (failed units: consul.service, k3s.service); reverted to ${fx.oldSys}`,
    );
    expect(currentSystem()).toBe(fx.oldSys);
    expect(bootCalls()).toEqual([]);
    expect(calls().some((l) => l.startsWith("nix-env"))).toBe(false);
    expect(timerArmed()).toBe(false);
    expect(readKv("pending")).toBeUndefined();
    expect(readKv("confirmed")).toBeUndefined();
    expect(readKv("reverted")).toMatchObject({ hash: fx.hash });
  });

  it("the health gate fails when sshd is not active", () => {
    stage();
    expect(activate().code).toBe(0);
    const conf = confirm({ FAKE_SSHD_STATE: "inactive" });
    expect(conf.code).toBe(1);
    expect(conf.err).toContain(`borg: ${NODE}: health gate failed (sshd is inactive); reverted to ${fx.oldSys}`);
    expect(currentSystem()).toBe(fx.oldSys);
  });

  it("a switch that fails half way is reverted immediately", () => {
    stage();
    const act = activate({ FAKE_SWITCH_FAIL: "system-new" });
    expect(act.code).not.toBe(0);
    expect(act.err).toContain(`borg: ${NODE}: activation failed, reverted to ${fx.oldSys}`);
    expect(currentSystem()).toBe(fx.oldSys);
    expect(callIndex(`switch-to-configuration ${fx.newSys} test`)).toBeLessThan(
      callIndex(`switch-to-configuration ${fx.oldSys} test`),
    );
    expect(timerArmed()).toBe(false);
    expect(bootCalls()).toEqual([]);
    expect(readKv("reverted")).toMatchObject({ hash: fx.hash });
    expect(readKv("pending")).toBeUndefined();
  });
});

describe("activate refuses before touching the system", () => {
  it("a build failure changes nothing and arms nothing", () => {
    stage();
    const act = activate({ FAKE_BUILD_FAIL: "1" });
    expect(act.code).not.toBe(0);
    expect(act.err).toContain(`borg: ${NODE}: build failed`);
    expect(currentSystem()).toBe(fx.oldSys);
    expect(callIndex("systemd-run")).toBe(-1);
    expect(switchCalls()).toEqual([]);
    expect(readKv("pending")).toBeUndefined();
  });

  it("a bundle edited after its MANIFEST is refused, nothing built", () => {
    stage();
    fs.appendFileSync(path.join(fx.staging, "configuration.nix"), "# tampered\n");
    const act = activate();
    expect(act.code).not.toBe(0);
    expect(act.err).toContain(`borg: ${NODE}: bundle content does not match its MANIFEST`);
    expect(buildCalls()).toEqual([]);
    expect(switchCalls()).toEqual([]);
    expect(fs.existsSync(path.join(fx.state, "bundles", fx.hash))).toBe(false);
    expect(fs.readdirSync(path.join(fx.state, "bundles"))).toEqual([]);
  });

  it("a bundle without system.nix (the pinned build entry) is refused, nothing built", () => {
    stage();
    fs.rmSync(path.join(fx.staging, "system.nix"));
    const manifestFile = path.join(fx.staging, "MANIFEST");
    const manifest = fs.readFileSync(manifestFile, "utf8").split("\n").filter((l) => !l.endsWith("  system.nix")).join("\n");
    fs.writeFileSync(manifestFile, manifest);
    const act = activate({}, "120", sha256(manifest));
    expect(act.code).not.toBe(0);
    expect(act.err).toContain(`borg: ${NODE}: bundle lacks system.nix`);
    expect(buildCalls()).toEqual([]);
    expect(switchCalls()).toEqual([]);
  });

  it("an unlisted file, a wrong hash or a group-writable staging dir is refused", () => {
    stage();
    fs.writeFileSync(path.join(fx.staging, "modules", "smuggled.nix"), "{ }\n");
    const extra = activate();
    expect(extra.code).not.toBe(0);
    expect(extra.err).toContain("do not match its MANIFEST");
    fs.rmSync(path.join(fx.staging, "modules", "smuggled.nix"));

    const wrong = activate({}, "120", "0".repeat(64));
    expect(wrong.code).not.toBe(0);
    expect(wrong.err).toContain(`borg: ${NODE}: bundle MANIFEST hash`);

    fs.chmodSync(fx.staging, 0o775);
    const writable = activate();
    expect(writable.code).not.toBe(0);
    expect(writable.err).toContain("group/world-writable");
    expect(buildCalls()).toEqual([]);
  });

  it("the confirm timeout must lie in 30-3600 s (borg:rollout.confirmTimeoutSeconds) and arms the timer with it", () => {
    stage();
    for (const bad of ["29", "3601", "0", "-60", "0120", "1e3", "120s", ""]) {
      const act = activate({}, bad);
      expect(act.code, bad).toBe(1);
      expect(act.err, bad).toBe(`borg: ${NODE}: invalid confirm timeout '${bad}' (whole seconds, 30-3600)\n`);
    }
    expect(calls().filter((l) => !l.startsWith("sudo "))).toEqual([]);
    expect(fs.existsSync(fx.state)).toBe(false);

    for (const good of ["30", "3600"]) {
      const act = activate({}, good);
      expect(act.code, act.err).toBe(0);
      expect(act.out).toContain(`confirm within ${good}s or it reverts`);
    }
    expect(calls().filter((l) => l.startsWith("systemd-run ")).map((l) => /--on-active=(\S+)/.exec(l)?.[1])).toEqual(["30s", "3600s"]);
  });

  it("arming failure: no switch", () => {
    stage();
    const act = activate({ FAKE_ARM_FAIL: "1" });
    expect(act.code).not.toBe(0);
    expect(act.err).toContain(`borg: ${NODE}: could not arm the revert timer; not switching`);
    expect(switchCalls()).toEqual([]);
    expect(currentSystem()).toBe(fx.oldSys);
    expect(readKv("pending")).toBeUndefined();
  });
});

describe("without root", () => {
  it("the real scripts refuse to run, before reading or writing anything", () => {
    // No BORG_ROOT_UID: the production check. As root, drop to nobody to prove it.
    const pub = fs.mkdtempSync(path.join(os.tmpdir(), "borg-no-root-"));
    try {
      fs.chmodSync(pub, 0o1777); // so nothing but the check stops nobody from creating state
      for (const s of SCRIPT_NAMES) fs.copyFileSync(path.join(SCRIPTS, s), path.join(pub, s));
      const state = path.join(pub, "state");
      const env: Record<string, string> = { ...fx.env, BORG_STATE_DIR: state, BORG_SECRETS_DIR: path.join(state, "secrets"), FAKE_LOG: path.join(pub, "calls.log") };
      delete env.BORG_ROOT_UID;
      const asNobody = UID === 0 ? { uid: 65534, gid: 65534 } : {};
      for (const [script, args] of [
        ["activate.sh", [NODE, fx.hash, fx.staging, "120"]],
        ["confirm.sh", [NODE, fx.hash]],
        ["revert.sh", [NODE, fx.hash]],
        ["install-secrets.sh", [NODE]],
      ] as const) {
        // stdin from a file, not a pipe: a script that refuses before reading it must not race an EPIPE
        const input = path.join(pub, "stdin");
        fs.writeFileSync(input, `x root root ${Buffer.from("s").toString("base64")}\n`);
        const fd = fs.openSync(input, "r");
        const r = spawnSync("bash", [path.join(pub, script), ...args], { env, stdio: [fd, "pipe", "pipe"], encoding: "utf8", timeout: 20_000, ...asNobody });
        fs.closeSync(fd);
        fs.rmSync(input);
        expect(r.error).toBeUndefined();
        expect([script, r.status, r.stdout, r.stderr]).toEqual([script, 1, "", `borg: ${NODE}: ${script} must run as root (sudo)\n`]);
      }
      expect(fs.readdirSync(pub).sort()).toEqual([...SCRIPT_NAMES].sort());
    } finally {
      fs.rmSync(pub, { recursive: true, force: true });
    }
  });
});

describe("install-secrets", () => {
  const CANARY = "CANARY-7f3e9b1c-do-not-print";
  const b64 = (s: string): string => Buffer.from(s).toString("base64");
  const files = (): string[] => fs.readdirSync(fx.secrets).sort();
  const noLeak = (r: Result): void => {
    for (const text of [r.out, r.err]) {
      expect(text).not.toContain(CANARY);
      expect(text).not.toContain(b64(`${CANARY}-1`));
      expect(text).not.toContain(b64(`${CANARY}-2\n`));
    }
  };

  beforeEach(() => {
    stage();
    fs.mkdirSync(fx.secrets, { recursive: true });
    fs.writeFileSync(path.join(fx.secrets, "stale-token"), "old");
  });

  it("installs 0400 files with the exact content and prunes the rest", () => {
    const hasNobody = spawnSync("getent", ["passwd", "nobody"]).status === 0 && spawnSync("getent", ["group", "nogroup"]).status === 0;
    const input = [
      `consul-encrypt root root ${b64(`${CANARY}-1`)}`,
      `k3s-token nobody nogroup ${b64(`${CANARY}-2\n`)}`,
      `hass.secrets.yaml no-such-user-x no-such-group-x ${b64("a: 1\n")}`,
      `empty root root `,
    ].join("\n") + "\n";
    const r = installSecrets(input);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toBe(`borg: ${NODE}: 4 secrets installed, 1 removed\n`);
    noLeak(r);
    expect(files()).toEqual(["consul-encrypt", "empty", "hass.secrets.yaml", "k3s-token"]);
    expect(fs.readFileSync(path.join(fx.secrets, "consul-encrypt"), "utf8")).toBe(`${CANARY}-1`);
    expect(fs.readFileSync(path.join(fx.secrets, "k3s-token"), "utf8")).toBe(`${CANARY}-2\n`);
    expect(fs.readFileSync(path.join(fx.secrets, "empty"), "utf8")).toBe("");
    for (const f of files()) expect(fs.statSync(path.join(fx.secrets, f)).mode & 0o777).toBe(0o400);
    expect(fs.statSync(fx.secrets).mode & 0o777).toBe(0o711);
    // The ownership asked for, record by record (files are written in input order): the named
    // owner when it exists on the node, else root (NixOS fixes it on activation).
    const chowns = calls().filter((l) => l.startsWith("chown ")).map((l) => l.split(" ").slice(1).filter((a) => a !== "--"));
    expect(chowns[0]).toEqual(["root:root", fx.secrets]);
    const perFile = chowns.slice(1);
    expect(perFile.map(([, target]) => path.dirname(target!))).toEqual(Array(4).fill(fx.secrets));
    expect(perFile.map(([owner]) => owner)).toEqual(["root:root", hasNobody ? "nobody:nogroup" : "root:root", "root:root", "root:root"]);
    if (UID === 0) {
      // Only root can give files away: then the real ownership is checked too.
      expect(fs.statSync(fx.secrets).uid).toBe(0);
      expect(fs.statSync(path.join(fx.secrets, "hass.secrets.yaml")).uid).toBe(0);
      if (hasNobody) expect(fs.statSync(path.join(fx.secrets, "k3s-token")).uid).toBe(65534);
    }

    const empty = installSecrets("");
    expect(empty.code, empty.err).toBe(0);
    expect(empty.out).toBe(`borg: ${NODE}: 0 secrets installed, 4 removed\n`);
    expect(files()).toEqual([]);
  });

  it.each([
    ["a bad name", `../x root root ${b64(`${CANARY}-1`)}`, "../x"],
    ["bad base64", `bad root root ${CANARY}@@`, CANARY],
  ])("a record with %s changes nothing and names only the line number", (_what, badLine, badText) => {
    const good = `fresh root root ${b64(`${CANARY}-1`)}`;
    const before = files();
    const r = installSecrets(`${good}\n${good.replace("fresh", "other")}\n${badLine}\n`);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(new RegExp(`^borg: ${NODE}: secret record on line 3 `));
    expect(r.err).not.toContain(badText);
    noLeak(r);
    expect(files()).toEqual(before);
    expect(fs.readFileSync(path.join(fx.secrets, "stale-token"), "utf8")).toBe("old");
  });

  it("restarts a secret's units only when its content changed (rotation), once each", () => {
    const restarts = () => calls().filter((l) => l.startsWith("systemctl try-restart"));
    const first = installSecrets(`k3s-token root root ${b64("one")} k3s.service\nceph.keyring root root ${b64("k")} ceph-mon-queen.service,k3s.service\n`);
    expect(first.code, first.err).toBe(0);
    expect(restarts()).toEqual(["systemctl try-restart -- ceph-mon-queen.service k3s.service"]);
    const same = installSecrets(`k3s-token root root ${b64("one")} k3s.service\nceph.keyring root root ${b64("k")} ceph-mon-queen.service,k3s.service\n`);
    expect(same.code, same.err).toBe(0);
    expect(restarts()).toHaveLength(1); // unchanged content: nothing restarts
    const rotated = installSecrets(`k3s-token root root ${b64("two")} k3s.service\nceph.keyring root root ${b64("k")} ceph-mon-queen.service,k3s.service\n`);
    expect(rotated.code, rotated.err).toBe(0);
    expect(restarts()).toEqual(["systemctl try-restart -- ceph-mon-queen.service k3s.service", "systemctl try-restart -- k3s.service"]);
    expect(rotated.err).not.toContain("two");
  });

  it("rejects a unit list that is not plain unit names, changing nothing", () => {
    const before = files();
    const r = installSecrets(`k3s-token root root ${b64("x")} k3s.service;reboot\n`);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/secret record on line 1 has an invalid unit list/);
    expect(files()).toEqual(before);
  });

  it("never enables xtrace", () => {
    const src = fs.readFileSync(path.join(SCRIPTS, "install-secrets.sh"), "utf8");
    expect(src).not.toMatch(/set\s+-[a-z]*x|set\s+-o\s+xtrace/);
  });
});

describe("preflight", () => {
  it("fails clearly when the NixOS marker is missing, keeping the staging dir", () => {
    fs.rmSync(fx.marker);
    fs.mkdirSync(fx.staging, { recursive: true });
    const r = preflight();
    expect(r.code).not.toBe(0);
    expect(r.err).toBe(`borg: ${NODE}: not a NixOS host (${fx.marker} missing)\n`);
    expect(fs.existsSync(fx.staging)).toBe(true);
  });

  it("fails on missing sudo or less than 1 GiB free under /nix", () => {
    const sudo = preflight({ FAKE_SUDO_FAIL: "1" });
    expect(sudo.code).not.toBe(0);
    expect(sudo.err).toContain(`borg: ${NODE}: passwordless sudo is not available`);
    // The threshold is 1 GiB under /nix: one KiB short fails, exactly 1 GiB passes.
    const disk = preflight({ FAKE_DF_AVAIL_KB: String(1024 * 1024 - 1) });
    expect(disk.code).toBe(1);
    expect(disk.err).toBe(`borg: ${NODE}: only 1023 MiB free under /nix, need at least 1024 MiB\n`);
    const enough = preflight({ FAKE_DF_AVAIL_KB: String(1024 * 1024) });
    expect(enough.code, enough.err).toBe(0);
    expect(enough.out).toBe(`borg: ${NODE}: ready\n`);
    expect(calls().filter((l) => l.startsWith("df "))).toEqual(["df -Pk /nix", "df -Pk /nix"]);
  });

  it("is self-contained (sent alone on stdin)", () => {
    const src = fs.readFileSync(path.join(SCRIPTS, "preflight.sh"), "utf8");
    expect(src).not.toMatch(/^\s*(source|\.)\s/m);
  });
});

describe("shellcheck", () => {
  it("passes on every service step script (node-scripts/services/), each with the shellcheck header", () => {
    const dir = path.join(SCRIPTS, "services");
    const scripts = fs.readdirSync(dir).filter((f) => f.endsWith(".sh")).map((f) => `node-scripts/services/${f}`);
    expect(scripts).toContain("node-scripts/services/gate.sh");
    for (const f of scripts) expect(fs.readFileSync(path.join(ROOT, f), "utf8")).toMatch(/^(#!\/usr\/bin\/env bash|# shellcheck shell=bash)\n/);
    const r = spawnSync("shellcheck", ["-x", ...scripts], { cwd: ROOT, encoding: "utf8" });
    expect(r.error).toBeUndefined();
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });

  it("passes on every node script (and on the stand-ins)", () => {
    const scripts = fs.readdirSync(SCRIPTS).filter((f) => f.endsWith(".sh")).map((f) => `node-scripts/${f}`);
    expect(scripts).toHaveLength(SCRIPT_NAMES.length);
    for (const f of scripts) expect(fs.readFileSync(path.join(ROOT, f), "utf8")).toMatch(/^(#!\/usr\/bin\/env bash|# shellcheck shell=bash)\n/);
    const r = spawnSync("shellcheck", ["-x", ...scripts], { cwd: ROOT, encoding: "utf8" });
    expect(r.error).toBeUndefined();
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const standIns = fs.readdirSync(STAND_INS).filter((f) => !f.endsWith(".md")).map((f) => path.join(STAND_INS, f));
    const s = spawnSync("shellcheck", standIns, { encoding: "utf8" });
    expect(s.status, s.stdout + s.stderr).toBe(0);
  });

  it("negative control: a bad snippet fails", () => {
    const bad = path.join(fx.dir, "bad.sh");
    fs.writeFileSync(bad, "#!/usr/bin/env bash\nrm -rf $1/*\n");
    const r = spawnSync("shellcheck", ["-x", bad], { encoding: "utf8" });
    expect(r.error).toBeUndefined();
    expect(r.status).not.toBe(0);
  });
});
