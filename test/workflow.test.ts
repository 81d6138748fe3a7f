// The pull-request workflow, run: the `run:` steps of its test and synth jobs execute in a fresh
// clone of the committed HEAD that holds only the repository (nothing next to it), as an
// unprivileged user, the way a runner executes them (bash -eo pipefail, a clean environment).
// Not run here, each for a stated reason (SKIPPED below): steps that need the network or root.
// The preview job needs the stack secrets, a Pulumi backend and the lab's Proxmox API; only what
// it references is checked.
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { PROJECT_ROOT } from "../components/bundle.js";

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
}
interface Job {
  steps: Step[];
  strategy?: { matrix: Record<string, unknown[]> };
  permissions?: Record<string, string>;
  environment?: string;
}

const workflow = parse(fs.readFileSync(path.join(PROJECT_ROOT, ".github", "workflows", "preview.yml"), "utf8")) as {
  on: Record<string, unknown>;
  permissions: Record<string, string>;
  jobs: Record<string, Job>;
};
const committedStacks = fs
  .readdirSync(path.join(PROJECT_ROOT, "stacks"))
  .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
  .filter((s): s is string => Boolean(s))
  .sort();

/** Steps not run here (matched by their exact text, so a changed step runs until it is listed again). */
const SKIPPED: Record<string, string> = {
  "npm ci": "the network; the clone's node_modules links this checkout's packages (installed from the same lockfile)",
  "npm ci --prefix policy": "the network; policy/node_modules is linked the same way when this checkout has it",
  "npm run typecheck": "time (about 8 s of CPU); .ci/run runs it, and it runs before every merge",
};
/** The Debian packages step (root and the network): its package list is checked against scripts/ensure-tools.sh, whose check runs as the pretest. */
const APT_STEP = /^sudo apt-get update && sudo apt-get install -y --no-install-recommends [a-z0-9 .+-]+$/;
const skipped = (step: string) => Boolean(SKIPPED[step]) || APT_STEP.test(step);

/** Appended to a step that runs the whole suite (all of it would double the suite's time): the
 * file that checks the project files and that nothing refers outside the repository, the synth CLI
 * included. The rest of the suite runs unprivileged in CI itself (.ci/run, the test job). */
const SUITE_FILES = ["test/project.test.ts"];
/** The synth job runs once here, for its strictest stack: the same command runs for the others,
 * and every committed stack's synth without a mandatory violation is test/policy/pack.test.ts. */
const SYNTH_STACK = "prod";

const runSteps = (job: string) => workflow.jobs[job]!.steps.filter((s) => s.run !== undefined).map((s) => s.run!.trim());
const withMatrix = (text: string, stack: string) => text.replaceAll("${{ matrix.stack }}", stack);

let base: string;
let clone: string;
/** As root the steps run as nobody, as a runner's user: they must not need root. */
const asUser = process.getuid!() === 0 ? { uid: 65534, gid: 65534 } : {};

function env(): Record<string, string> {
  return { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: path.join(base, "home"), LANG: "C.UTF-8", CI: "true" };
}

/** One `run:` step the way GitHub's runner runs it: bash -eo pipefail, in the checkout. */
function runStep(script: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn("bash", ["--noprofile", "--norc", "-eo", "pipefail", "-c", script], { cwd: clone, env: env(), ...asUser });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 150_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

beforeAll(() => {
  base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "borg-workflow-")));
  clone = path.join(base, "borg-collective");
  // actions/checkout: the committed HEAD only. Nothing but our own home dir sits next to it.
  const git = spawnSync("git", ["-c", "safe.directory=*", "clone", "--quiet", "--no-hardlinks", PROJECT_ROOT, clone], { encoding: "utf8" });
  expect(git.status, git.stderr).toBe(0);
  fs.mkdirSync(path.join(base, "home"));
  // In place of npm ci: a real node_modules dir (tools write caches into it) linking each package.
  const modules = fs.realpathSync(path.join(PROJECT_ROOT, "node_modules"));
  fs.mkdirSync(path.join(clone, "node_modules"));
  for (const entry of fs.readdirSync(modules)) {
    if ([".vite", ".vite-temp", ".cache"].includes(entry)) continue;
    fs.symlinkSync(path.join(modules, entry), path.join(clone, "node_modules", entry));
  }
  const policyModules = path.join(PROJECT_ROOT, "policy", "node_modules");
  if (fs.existsSync(policyModules)) fs.symlinkSync(fs.realpathSync(policyModules), path.join(clone, "policy", "node_modules"));
  if (asUser.uid !== undefined) {
    const chown = spawnSync("chown", ["-R", `${asUser.uid}:${asUser.gid}`, base], { encoding: "utf8" });
    expect(chown.status, chown.stderr).toBe(0);
  }
});

afterAll(() => {
  if (base) fs.rmSync(base, { recursive: true, force: true });
});

describe(".github/workflows/preview.yml", () => {
  it("runs on pull requests: test and synth, then preview after both", () => {
    expect(Object.keys(workflow.on)).toEqual(["pull_request"]);
    expect(Object.keys(workflow.jobs).sort()).toEqual(["preview", "synth", "test"]);
    expect((workflow.jobs.preview as Job & { needs: string[] }).needs).toEqual(["test", "synth"]);
  });

  it("the test and synth jobs use no secret (pull requests from forks get none)", () => {
    for (const job of ["test", "synth"]) expect(JSON.stringify(workflow.jobs[job]), job).not.toMatch(/\$\{\{\s*secrets\./);
  });

  it("the test job installs exactly the Debian packages the pretest checks for", () => {
    const ensure = fs.readFileSync(path.join(PROJECT_ROOT, "scripts", "ensure-tools.sh"), "utf8");
    const wanted = [...ensure.matchAll(/^\s*\[[\w-]+\]=([\w.+-]+)$/gm)].map((m) => m[1]!).sort();
    expect(wanted.length).toBeGreaterThan(0);
    const apt = runSteps("test").find((r) => r.includes("apt-get install"))!;
    expect(apt.split("apt-get install")[1]!.split(/\s+/).filter((w) => w && !w.startsWith("-")).sort()).toEqual(wanted);
  });

  it("the clone is the committed HEAD alone: nothing next to it, nothing uncommitted in it", () => {
    expect(fs.readdirSync(base).sort()).toEqual(["borg-collective", "home"]);
    expect(fs.existsSync(path.join(clone, ".git"))).toBe(true);
    expect(spawnSync("git", ["-c", "safe.directory=*", "status", "--porcelain", "--ignored=no"], { cwd: clone, encoding: "utf8" }).stdout).toBe("");
  });

  it("the test job's steps pass in the clean clone, as an unprivileged user", async () => {
    const steps = runSteps("test");
    expect(steps.some((r) => /\bnpm test$/.test(r))).toBe(true);
    for (const step of steps) {
      if (skipped(step)) continue;
      const script = /\bnpm test$/.test(step) ? `${step} -- ${SUITE_FILES.join(" ")}` : step;
      const { code, output } = await runStep(script);
      expect(code, `${script}\n${output.slice(-3000)}`).toBe(0);
      if (script !== step) for (const f of SUITE_FILES) expect(output, f).toContain(f);
    }
  });

  it(`the synth job's steps pass (matrix stack ${SYNTH_STACK}) and leave what it uploads`, async () => {
    const job = workflow.jobs.synth!;
    expect([...job.strategy!.matrix.stack!].sort()).toEqual(committedStacks);
    const upload = job.steps.find((s) => s.uses?.startsWith("actions/upload-artifact@"))!;
    const steps = runSteps("synth").filter((r) => !skipped(r));
    expect(steps.length).toBeGreaterThan(0);
    for (const step of steps) {
      const { code, output } = await runStep(withMatrix(step, SYNTH_STACK));
      expect(code, `${step}\n${output.slice(-3000)}`).toBe(0);
    }
    const uploaded = path.join(clone, withMatrix(String(upload.with!.path), SYNTH_STACK));
    expect(fs.readdirSync(uploaded)).toEqual(expect.arrayContaining(["nodes", "plan.json", "policy.json"]));
    expect(JSON.parse(fs.readFileSync(path.join(uploaded, "plan.json"), "utf8")).stack).toBe(SYNTH_STACK);
  });

  it("the preview job (not run: secrets, backend, lab) previews exactly the committed stacks, each with its policy config", () => {
    const job = workflow.jobs.preview!;
    expect([...job.strategy!.matrix.stack!].sort()).toEqual(committedStacks);
    expect(workflow.permissions).toEqual({ contents: "read" });
    expect(job.permissions).toEqual({ contents: "read", "pull-requests": "write" });
    expect(job.environment).toBe("lab-preview");
    const step = job.steps.find((s) => s.uses?.startsWith("pulumi/actions@"))!;
    expect(step.with).toMatchObject({ command: "preview", "stack-name": "${{ matrix.stack }}", policyPacks: "policy" });
    expect(fs.existsSync(path.join(clone, String(step.with!.policyPacks), "PulumiPolicy.yaml"))).toBe(true);
    for (const stack of committedStacks) {
      expect(fs.existsSync(path.join(clone, withMatrix(String(step.with!.policyPackConfigs), stack))), stack).toBe(true);
    }
  });
});
