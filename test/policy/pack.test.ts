// The pack as a whole: the policy set, the per-stack enforcement configs, the committed stacks
// (zero mandatory violations) and the insecure fixtures (which must trip at least 20 rules).
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { PROJECT_ROOT } from "../../components/bundle.js";
import { allPolicies } from "../../policy/policies.ts";
import { loadPolicyConfig, runPolicies, type PlanResource, type PolicyReport } from "../../scripts/lib/policyRunner.js";
import { policyTable } from "../../scripts/lib/policyTable.js";
import { readStackFile } from "../../scripts/lib/stackFile.js";
import { synthesize } from "../../scripts/lib/synthesize.js";
import { policyMain } from "../../scripts/lib/policyCli.js";
import { synthMain } from "../../scripts/lib/synthCli.js";
import { runCli, STACKS, tempDir } from "../helpers.js";

const CORE = ["broker-no-anonymous", "remote-host-key-pinned", "remote-key-auth-only", "remote-secrets-on-stdin", "remote-no-secret-literals", "k8s-no-secret-env-literals", "k3s-token-file"];
const PLAN_FIXTURES = ["kubernetes-insecure.json", "infra-insecure.json"].map((f) => path.join(PROJECT_ROOT, "test", "fixtures", "plans", f));
const INSECURE_STACK = path.join(PROJECT_ROOT, "test", "fixtures", "Pulumi.insecure.yaml");
const names = allPolicies.map((p) => p.name);
const tsx = path.join(PROJECT_ROOT, "node_modules", ".bin", "tsx");
/** The real process, to prove the exit code reaches the shell. */
const spawnPolicy = (...args: string[]) => spawnSync(tsx, ["scripts/policy.ts", ...args], { cwd: PROJECT_ROOT, encoding: "utf8", timeout: 300_000 });

describe("the policy set", () => {
  it("has at least 30 uniquely named, described rules", () => {
    expect(allPolicies.length).toBeGreaterThanOrEqual(30);
    expect(new Set(names).size).toBe(names.length);
    for (const p of allPolicies) {
      expect(p.name).toMatch(/^[a-z0-9]+(?:-[a-z0-9]+)+$/);
      expect(p.description.length, p.name).toBeGreaterThan(20);
    }
  });

  it("README's policy table is the generated one (every rule, its levels per stack)", () => {
    const readme = fs.readFileSync(path.join(PROJECT_ROOT, "README.md"), "utf8");
    expect(readme).toContain(policyTable());
    for (const name of names) expect(readme, name).toContain(`| \`${name}\` |`);
  });
});

describe("per-stack enforcement configs", () => {
  // Their validity (levels, rule names, settings) is checked in packConfig.test.ts.
  const read = (stack: string) => loadPolicyConfig(path.join(PROJECT_ROOT, "policy", "config", `${stack}.json`));

  it("prod is all mandatory; dev keeps the core mandatory", () => {
    expect(read("prod")).toEqual({ all: "mandatory" });
    const dev = read("dev");
    expect(dev.all).toBe("advisory");
    for (const rule of CORE) expect(dev[rule], rule).toBe("mandatory");
  });
});

describe("committed stacks", () => {
  // test/global-setup.ts synthesized them (with the policy run) once for the whole suite.
  const policyOf = (stack: string) =>
    JSON.parse(fs.readFileSync(path.join(inject("synthRoot"), stack, "policy.json"), "utf8")) as { config: string; report: PolicyReport };

  it.each(STACKS)("%s synthesizes with zero mandatory violations", (stack) => {
    const policy = policyOf(stack);
    expect(policy.config).toBe(`policy/config/${stack}.json`);
    expect(policy.report.violations.filter((v) => v.level === "mandatory")).toEqual([]);
    expect(policy.report.ran.length).toBeGreaterThanOrEqual(25);
  });

  it("synth of prod exits 0 and reports the policy run", async () => {
    const run = await runCli(synthMain, "prod", "--out", tempDir());
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/policies \(policy\/config\/prod\.json\):/);
    expect(run.stdout).toMatch(/0 mandatory and \d+ advisory violation/);
  });
});

describe("insecure fixtures", () => {
  let stackReport: PolicyReport;
  const planReports: PolicyReport[] = [];
  beforeAll(async () => {
    const result = await synthesize(readStackFile(INSECURE_STACK), tempDir());
    if (!result.ok) throw new Error(`the insecure stack must pass the schema:\n${result.problems.join("\n")}`);
    stackReport = result.policy.report;
    const prod = loadPolicyConfig(path.join(PROJECT_ROOT, "policy", "config", "prod.json"));
    for (const file of PLAN_FIXTURES) {
      const plan = JSON.parse(fs.readFileSync(file, "utf8")) as { resources: PlanResource[] };
      planReports.push(await runPolicies(allPolicies, plan.resources, prod));
    }
  });

  it("the insecure stack file passes the schema and trips the policies that judge its choices", () => {
    const tripped = new Set(stackReport.violations.map((v) => v.policy));
    for (const rule of ["proxmox-provider-verify-tls", "proxmox-nic-firewall", "broker-no-anonymous"]) {
      expect([...tripped], rule).toContain(rule);
    }
    expect(stackReport.violations.some((v) => v.level === "mandatory")).toBe(true);
  });

  it("together with the plan fixtures they trip at least 20 distinct rules", () => {
    const tripped = new Set([...stackReport.violations, ...planReports.flatMap((r) => r.violations)].map((v) => v.policy));
    expect(tripped.size).toBeGreaterThanOrEqual(20);
  });

  it("every rule of the pack is tripped by some fixture", () => {
    const tripped = new Set([...stackReport.violations, ...planReports.flatMap((r) => r.violations)].map((v) => v.policy));
    expect(names.filter((n) => !tripped.has(n))).toEqual([]);
  });

  it("synth exits 1 on the insecure stack, listing violations grouped by rule", async () => {
    const run = await runCli(synthMain, "--config", INSECURE_STACK, "--out", tempDir());
    expect(run.status, run.stderr).toBe(1);
    expect(run.stdout).toMatch(/^\s+MANDATORY\s+broker-no-anonymous\s+\(\d+\)$/m);
    expect(run.stdout).toMatch(/Fix: /);
  });

  it.each(PLAN_FIXTURES)("npm run policy exits 1 on %s; --json lists the violations", async (file) => {
    const run = await runCli(policyMain, file);
    expect(run.status, run.stderr).toBe(1);
    expect(run.stdout).toMatch(/^MANDATORY\s+\S+\s+\(\d+\)$/m);
    const json = await runCli(policyMain, file, "--json");
    expect(json.status).toBe(1);
    expect(JSON.parse(json.stdout).violations.length).toBeGreaterThan(5);
  });

  it("npm run policy exits 0 on a clean plan and 64 on bad arguments", async () => {
    const prodPlan = path.join(inject("synthRoot"), "prod", "plan.json");
    expect((await runCli(policyMain, prodPlan)).status).toBe(0);
    expect((await runCli(policyMain)).status).toBe(64);
    expect((await runCli(policyMain, path.join(tempDir(), "nope.json"))).status).toBe(64);
  });

  it("the policy CLI's exit code reaches the shell (a real process)", () => {
    const run = spawnPolicy(PLAN_FIXTURES[1]!);
    expect(run.status, run.stderr).toBe(1);
    expect(run.stdout).toContain("MANDATORY");
  });
});
