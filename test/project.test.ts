// Project files and the synth CLI as a user meets them.
import Ajv2020 from "ajv/dist/2020.js";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { PROJECT_ROOT } from "../components/bundle.js";
import { synthMain } from "../scripts/lib/synthCli.js";
import { runCli, tempDir } from "./helpers.js";

const read = (rel: string) => fs.readFileSync(path.join(PROJECT_ROOT, rel), "utf8");

const synthCli = (...args: string[]) => runCli(synthMain, ...args);
/** The real process, to prove exit codes and output reach the shell. */
function spawnSynth(...args: string[]) {
  const tsx = path.join(PROJECT_ROOT, "node_modules", ".bin", "tsx");
  return spawnSync(tsx, ["scripts/synth.ts", ...args], { cwd: PROJECT_ROOT, encoding: "utf8", timeout: 300_000 });
}

describe("Pulumi.yaml", () => {
  // Vendored upstream schema (see test/fixtures/README.md): the repository stands alone.
  const schemaFile = path.join(PROJECT_ROOT, "test", "fixtures", "pulumi-project.schema.json");

  it("validates against the Pulumi project schema", () => {
    const ajv = new Ajv2020.default({ strict: false, allErrors: true });
    const validate = ajv.compile(JSON.parse(fs.readFileSync(schemaFile, "utf8")));
    const project = parse(read("Pulumi.yaml"));
    expect(validate(project), JSON.stringify(validate.errors)).toBe(true);
    expect(project).toMatchObject({ name: "borg-collective", stackConfigDir: "stacks", runtime: { name: "nodejs" } });
    // control: the schema does reject a broken project
    expect(validate({ ...project, runtime: 42 })).toBe(false);
    expect(validate({ ...project, runtime: { name: "nodejs", typo: true } })).toBe(false);
  });

  it("runs the TypeScript entry with the pinned tsx", () => {
    const project = parse(read("Pulumi.yaml"));
    const pkg = JSON.parse(read("package.json"));
    expect(project.runtime.options.nodeargs).toBe("--import tsx");
    expect(pkg.devDependencies.tsx ?? pkg.dependencies.tsx).toMatch(/^\d+\.\d+\.\d+$/);
    expect(fs.existsSync(path.join(PROJECT_ROOT, project.main))).toBe(true);
  });
});

describe("the repository stands alone", () => {
  /** Every file a clone holds (what a fresh clone, CI and the workflow see), minus installed or generated trees. */
  function repositoryFiles(dir = PROJECT_ROOT, rel = ""): string[] {
    const out: string[] = [];
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const relPath = rel ? `${rel}/${entry.name}` : entry.name;
      if (["node_modules", ".git", "out"].includes(entry.name) || relPath === "policy/bin") continue;
      if (entry.isDirectory()) out.push(...repositoryFiles(path.join(dir, entry.name), relPath));
      else if (entry.isFile()) out.push(relPath);
    }
    return out;
  }
  // The design workspace next to the checkout, however a path to it is spelled. Written with
  // escapes so this file does not match itself.
  const OUTSIDE = [/\.\.[\\/]shared\b/, /\/work\/shared\b/, /["'`]\.\.["'`]\s*,\s*["'`]shared["'`]/];
  const offenders = (files: string[], readFile: (f: string) => string) =>
    files.filter((f) => OUTSIDE.some((re) => re.test(readFile(f))));

  it("no product, test, CI or workflow file refers to the workspace outside the repository", () => {
    const files = repositoryFiles();
    expect(files).toEqual(expect.arrayContaining(["package.json", ".ci/run", ".github/workflows/preview.yml", "test/project.test.ts"]));
    expect(offenders(files, read)).toEqual([]);
  });

  it("control: each spelling of such a reference is caught", () => {
    const samples: Record<string, string> = {
      "a.ts": ["const s = path.resolve(ROOT, \"..\"", " \"shared\");"].join(","),
      "b.json": `{ "schema": "../${"shared"}/schemas/x.json" }`,
      "c.sh": `cat /work/${"shared"}/DESIGN.md`,
      "d.yml": `run: ls ${".."}/sharedfoo`, // another directory: not a match
    };
    expect(offenders(Object.keys(samples), (f) => samples[f]!)).toEqual(["a.ts", "b.json", "c.sh"]);
  });
});

describe("package.json", () => {
  it("pins every dependency exactly", () => {
    const pkg = JSON.parse(read("package.json"));
    for (const [name, version] of Object.entries({ ...pkg.dependencies, ...pkg.devDependencies })) {
      expect(version, name).toMatch(/^\d+\.\d+\.\d+$/);
    }
    expect(pkg.dependencies["@pulumi/pulumi"]).toBe("3.248.0");
    expect(pkg.dependencies["@pulumi/command"]).toBe("1.2.1");
  });

  it("keeps a single copy of @pulumi/pulumi (mocks are set on one copy only)", () => {
    const lock = JSON.parse(read("package-lock.json"));
    const copies = Object.keys(lock.packages).filter((p) => p.endsWith("node_modules/@pulumi/pulumi"));
    expect(copies).toEqual(["node_modules/@pulumi/pulumi"]);
  });
});

describe("synth CLI", () => {
  it("synthesizes prod: counts, host keys, plan and bundles on disk", async () => {
    const out = tempDir();
    const run = await synthCli("prod", "--out", out);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^\s+1\s+borg:index:Collective$/m);
    expect(run.stdout).toMatch(/^\s+1\s+borg:index:Queen$/m);
    expect(run.stdout).toMatch(/^\s+3\s+borg:index:Drone$/m);
    expect(run.stdout).toMatch(/^\s+1\s+borg:index:EdgePi$/m);
    expect(run.stdout).toMatch(/^\s+4\s+proxmoxve:index\/vmLegacy:VmLegacy$/m);
    expect(run.stdout).toMatch(/^\s+5\s+borg:index:NixosHost$/m);
    expect(run.stdout).toMatch(/remote connections pinning a host key: (\d+)\/\1\n/);
    const plan = JSON.parse(fs.readFileSync(path.join(out, "prod", "plan.json"), "utf8"));
    expect(Object.keys(plan)).toEqual(["stack", "fakes", "resources", "outputs"]);
    expect(fs.readdirSync(path.join(out, "prod", "nodes")).sort()).toEqual(["drone-1", "drone-2", "drone-3", "edge-pi", "queen"]);
  });

  it("--json prints the plan; --config takes any stack file and names the stack after it", async () => {
    const dir = tempDir();
    fs.copyFileSync(path.join(PROJECT_ROOT, "stacks", "Pulumi.dev.yaml"), path.join(dir, "Pulumi.lab.yaml"));
    const run = await synthCli("--config", path.join(dir, "Pulumi.lab.yaml"), "--out", path.join(dir, "out"), "--json");
    expect(run.status, run.stderr).toBe(0);
    const plan = JSON.parse(run.stdout);
    expect(plan.stack).toBe("lab");
    expect(plan.resources[0].urn).toMatch(/^urn:pulumi:lab::borg-collective::/);
    expect(fs.existsSync(path.join(dir, "out", "lab", "plan.json"))).toBe(true);
  });

  it("the README's JSON commands, run as written in a shell, print nothing but JSON on stdout", () => {
    // Every documented command line with --json, up to its pipe: what `| jq` reads.
    const readme = read("README.md");
    const lines = [...readme.matchAll(/^```sh\n([\s\S]*?)^```/gm)].flatMap((m) => m[1]!.split("\n")).filter((l) => /\s--json\b/.test(l));
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) {
      const command = line.split(/\s+(?:\||#)\s/)[0]!.trim();
      expect(command, "npm's banner would break the pipe: use npm run -s").toMatch(/^npm run -s /);
      const out = tempDir();
      const run = spawnSync("sh", ["-c", `${command} --out ${out}`], { cwd: PROJECT_ROOT, encoding: "utf8", timeout: 300_000 });
      expect(run.status, run.stderr).toBe(0);
      const json = JSON.parse(run.stdout);
      expect(json.policy.report.violations.filter((v: { level: string }) => v.level === "mandatory")).toEqual([]);
      expect(Object.keys(json)).toEqual(["stack", "fakes", "resources", "outputs", "policy"]);
    }
  });

  it("an invalid stack exits 2 (a real process), lists every problem by config path, and writes nothing", () => {
    const out = tempDir();
    const run = spawnSynth("--config", path.join(PROJECT_ROOT, "test", "fixtures", "Pulumi.broken.yaml"), "--out", out);
    expect(run.status).toBe(2);
    // Exactly this: a header, then one line per problem (wrong types, a missing host key, a key
    // outside borg:, cross-field rules), and nothing on stdout.
    expect(run.stderr.trimEnd().split("\n")).toEqual([
      "test/fixtures/Pulumi.broken.yaml: invalid stack configuration (9 problems):",
      '  - borg:queen.cores: expected a whole number, got "four"',
      "  - borg:edgePi.hostKey: is required: pin the Pi's SSH host key: ssh-keyscan -t ed25519 10.42.0.50 | cut -d' ' -f2-",
      "  - borg:drones[0].address: 10.43.0.9 is outside borg:network.cidr 10.42.0.0/24",
      "  - borg:drones[1].name: 'drone-1' is already the name of borg:drones[0]",
      "  - borg:drones[1].vmId: 111 is already the vmId of borg:drones[0]",
      "  - borg:services.k3s.podCidr: 10.42.0.0/16 overlaps borg:network.cidr 10.42.0.0/24",
      "  - borg:services.ceph.monitors: has 2 monitors; Ceph needs an odd number (1, 3, 5) to keep quorum",
      "  - borg:security.tls: must be true at security level prod",
      "  - borg-collective:rollout: unknown key; did you mean borg:rollout? (a key written without a namespace is read as borg-collective:<key>)",
    ]);
    expect(run.stdout).toBe("");
    expect(run.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(fs.readdirSync(out)).toEqual([]);
  });

  it("bad arguments exit 64 with a usage line, also a stack or stack file that does not exist", async () => {
    const none = await synthCli();
    expect(none.status).toBe(64);
    expect(none.stderr).toContain("usage: npm run synth -- <stack>");
    expect((await synthCli("dev", "--bogus")).status).toBe(64);
    expect((await synthCli("dev", "staging")).status).toBe(64);
    // A stack that does not exist is a bad argument: the message lists the stacks that do.
    const missing = await synthCli("nosuchstack");
    expect(missing.status).toBe(64);
    const stacks = fs.readdirSync(path.join(PROJECT_ROOT, "stacks")).map((f) => f.replace(/^Pulumi\.(.*)\.yaml$/, "$1")).sort();
    expect(stacks).toEqual(["dev", "prod", "staging"]);
    expect(missing.stderr.split("\n")[0]).toBe(`no stack 'nosuchstack': stacks/Pulumi.nosuchstack.yaml does not exist; stacks: ${stacks.join(", ")}`);
    const noFile = await synthCli("--config", path.join(tempDir(), "Pulumi.gone.yaml"));
    expect(noFile.status).toBe(64);
    expect(noFile.stderr).toMatch(/^--config \S+Pulumi\.gone\.yaml: no such file$/m);
  });
});
