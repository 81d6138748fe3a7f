// The policy pack through its real entry point: started from policy/ with its own dependencies the
// way `pulumi preview --policy-pack policy` starts a nodejs pack, driven over the analyzer gRPC
// protocol with each committed stack's plan and the insecure fixtures, under each stack's
// policy/config/<stack>.json. Its diagnostics must equal the offline runner's, rule by rule.
//
// Not reproduced here (README "What is verified offline"): the engine analyzes a running program's
// registrations (real secret and unknown values, default providers), not a saved plan; and the
// CLI's own rendering of diagnostics and exit status.
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../components/bundle.js";
import { SECRET_KEYS } from "../components/config/schema.js";
import { allPolicies } from "../policy/policies.ts";
import { canary } from "../scripts/lib/mockedProgram.js";
import { loadPolicyConfig, runPolicies, type PlanResource } from "../scripts/lib/policyRunner.js";
import { readStackFile } from "../scripts/lib/stackFile.js";
import { startPolicyPack, type Analysis, type PolicyPackRun } from "./engine/analyzerHost.js";
import { STACKS, synth, tempDir } from "./helpers.js";

const PACK = path.join(PROJECT_ROOT, "policy");
const FIXTURES = ["infra-insecure.json", "kubernetes-insecure.json"];
const configFile = (stack: string) => path.join(PACK, "config", `${stack}.json`);
const packs = new Map<string, PolicyPackRun>();
const scratch = tempDir("borg-pack-");

beforeAll(async () => {
  if (!fs.existsSync(path.join(PACK, "node_modules", "@pulumi", "policy"))) {
    throw new Error("policy/node_modules is missing: the pack runs with its own dependencies; run `npm ci --prefix policy` first");
  }
  // One pack process per stack, as the CLI starts one per `pulumi preview -s <stack>`. The first
  // compiles the pack (ts-node, type-checked: seconds); the others find its cache.
  const tmpdir = path.join(scratch, "tmp");
  fs.mkdirSync(tmpdir);
  const start = async (stack: string) => {
    const { values } = readStackFile(path.join(PROJECT_ROOT, "stacks", `Pulumi.${stack}.yaml`));
    const config = { ...values, ...Object.fromEntries(SECRET_KEYS.map((k) => [`borg:${k}`, canary(`borg:${k}`)])) };
    packs.set(stack, await startPolicyPack(PACK, { stack, project: "borg-collective", organization: "organization", config, tmpdir }));
  };
  await start(STACKS[0]);
  await Promise.all(STACKS.slice(1).map(start));
}, 300_000);

afterAll(async () => {
  await Promise.all([...packs.values()].map((p) => p.close()));
  fs.rmSync(scratch, { recursive: true, force: true });
});

/** The pack's answer in the offline runner's terms: the engine prefixes messages with the description. */
function asRunnerReport(analysis: Analysis, resources: readonly PlanResource[]) {
  const nameOf = new Map(resources.map((r) => [r.urn, r.name]));
  return {
    violations: analysis.diagnostics
      .map((d) => {
        expect(d.message.startsWith(`${d.description}\n`), `${d.policy}: message starts with the description`).toBe(true);
        return { policy: d.policy, level: d.level, urn: d.urn, message: d.message.slice(d.description.length + 1) };
      })
      .sort(byJson),
    exemptions: analysis.notApplicable
      .filter((n) => n.reason.startsWith("exempt: "))
      .map((n) => ({ policy: n.policy, resource: nameOf.get(n.urn) ?? n.urn, reason: n.reason.slice("exempt: ".length) }))
      .sort(byJson),
  };
}

const byJson = (a: unknown, b: unknown) => JSON.stringify(a).localeCompare(JSON.stringify(b));

describe("the pack as the analyzer host loads it", () => {
  it("serves the analyzer protocol from policy/ with every policy of the offline set", () => {
    const pack = packs.get("prod")!;
    expect(pack.info.name).toBe("borg-collective");
    expect(pack.info.version).toBe(JSON.parse(fs.readFileSync(path.join(PACK, "package.json"), "utf8")).version);
    expect(pack.info.supportsConfig).toBe(true);
    expect(pack.info.policies.map((p) => [p.name, p.description]).sort()).toEqual(allPolicies.map((p) => [p.name, p.description]).sort());
  });
});

const cases = STACKS.flatMap((stack) => [
  { stack, label: `${stack}'s plan`, resources: async () => (await synth(stack)).plan.resources as PlanResource[] },
  ...FIXTURES.map((f) => ({
    stack,
    label: f,
    resources: async () => (JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, "test", "fixtures", "plans", f), "utf8")) as { resources: PlanResource[] }).resources,
  })),
]);

const stackRules = new Set(allPolicies.filter((p) => !("validateResource" in p)).map((p) => p.name));

/** Runs the pack and the offline runner on the same resources and config; both answers, alike. */
async function both(pack: PolicyPackRun, resources: readonly PlanResource[], file: string) {
  const reconciled = await pack.configure(file);
  const offline = await runPolicies(allPolicies, resources, loadPolicyConfig(file));
  const analysis = await pack.analyze(resources);
  return {
    analysis,
    enabled: allPolicies.map((p) => p.name).filter((name) => reconciled[name]!.level !== "disabled").sort(),
    engine: asRunnerReport(analysis, resources),
    offline,
    runner: {
      violations: offline.violations.map((v) => ({ policy: v.policy, level: v.level, urn: v.urn ?? "", message: v.message })).sort(byJson),
      // A stack rule drops an exempted finding; only the offline runner can list it as exempt.
      exemptions: offline.exemptions.filter((e) => !stackRules.has(e.policy)).sort(byJson),
    },
  };
}

const fixture = (f: string) => (JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, "test", "fixtures", "plans", f), "utf8")) as { resources: PlanResource[] }).resources;

describe.each(cases)("$label under policy/config/$stack.json", ({ stack, resources: load }) => {
  it("the pack reports exactly the offline runner's findings: same rules, resources, levels, messages, exemptions", async () => {
    const pack = packs.get(stack)!;
    const { enabled, offline, engine, runner } = await both(pack, await load(), configFile(stack));
    expect(enabled).toEqual([...offline.ran].sort());
    expect(engine).toEqual(runner);
    expect(pack.stderr()).toBe("");
  });
});

describe("exemptions and bad settings under the engine", () => {
  it("an exempted finding is gone from both, for a resource rule (not applicable: exempt) and a stack rule", async () => {
    const resources = FIXTURES.flatMap(fixture);
    const prod = await runPolicies(allPolicies, resources, loadPolicyConfig(configFile("prod")));
    const resourceFinding = prod.violations.find((v) => !stackRules.has(v.policy) && v.resource)!;
    const stackFinding = prod.violations.find((v) => stackRules.has(v.policy) && v.resource)!;
    expect(resourceFinding && stackFinding, "the fixtures trip a resource rule and a stack rule on a resource").toBeTruthy();
    const reason = "exempted by the entry-point test";
    const file = path.join(scratch, "exempt.json");
    fs.writeFileSync(
      file,
      JSON.stringify({
        all: "mandatory",
        [resourceFinding.policy]: { exemptions: [{ resource: resourceFinding.resource, reason }] },
        [stackFinding.policy]: { exemptions: [{ resource: stackFinding.urn, reason }] },
      }),
    );
    const { engine, runner, offline } = await both(packs.get("prod")!, resources, file);
    expect(engine).toEqual(runner);
    expect(engine.exemptions).toContainEqual({ policy: resourceFinding.policy, resource: resourceFinding.resource, reason });
    expect(offline.exemptions).toContainEqual({ policy: stackFinding.policy, resource: stackFinding.resource, reason });
    for (const gone of [resourceFinding, stackFinding]) expect(engine.violations).not.toContainEqual(expect.objectContaining({ policy: gone.policy, urn: gone.urn }));
  });

  it("a setting a rule does not define: the runner refuses the config, the rules refuse it under the engine", async () => {
    const file = path.join(scratch, "typo.json");
    const rule = [...allPolicies].find((p) => !stackRules.has(p.name))!.name;
    fs.writeFileSync(file, JSON.stringify({ all: "mandatory", [rule]: { exemption: [] } }));
    expect(() => loadPolicyConfig(file)).toThrow(/exemption/);
    const pack = packs.get("prod")!;
    await pack.configure(file); // the engine's own checks let it through
    await expect(pack.analyze(fixture(FIXTURES[0]!))).rejects.toThrow(new RegExp(`${rule}\\.exemption: is not a setting of this rule`));
  });

  it("a rule name the pack lacks: the runner refuses the config, the engine ignores it", async () => {
    const file = path.join(scratch, "unknown.json");
    fs.writeFileSync(file, JSON.stringify({ all: "mandatory", "no-such-rule": "mandatory" }));
    expect(() => loadPolicyConfig(file)).toThrow(/no-such-rule/);
    const pack = packs.get("prod")!;
    const resources = fixture(FIXTURES[0]!);
    await pack.configure(file);
    const withUnknown = await pack.analyze(resources);
    await pack.configure(configFile("prod"));
    expect(withUnknown).toEqual(await pack.analyze(resources));
  });
});

describe("the insecure fixtures are not a vacuous comparison", () => {
  it.each(FIXTURES)("%s trips many rules under the pack at prod levels, all mandatory", async (name) => {
    const pack = packs.get("prod")!;
    await pack.configure(configFile("prod"));
    const analysis = await pack.analyze(fixture(name));
    expect(new Set(analysis.diagnostics.map((d) => d.policy)).size).toBeGreaterThanOrEqual(8);
    expect(analysis.diagnostics.every((d) => d.level === "mandatory")).toBe(true);
  });
});
