// The policy config fails closed: any problem stops the run before a rule runs (exit 2), one line
// per problem naming its JSON path; the committed configs are valid; the rules themselves refuse
// what the engine would let through, so `pulumi preview --policy-pack-config` fails closed too.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../components/bundle.js";
import { allPolicies } from "../../policy/policies.ts";
import { committedPolicyConfigs, policyMain } from "../../scripts/lib/policyCli.js";
import { policyConfigProblems } from "../../scripts/lib/policyConfig.js";
import { levelOf, PolicyConfigError, policyConfig, runPolicies, runResourcePolicy, runStackPolicy, type PlanResource } from "../../scripts/lib/policyRunner.js";
import { readStackFile } from "../../scripts/lib/stackFile.js";
import { synthesize } from "../../scripts/lib/synthesize.js";
import { runCli, stackFile, tempDir } from "../helpers.js";
import { INFRA_FIXTURE, mutate } from "./harness.js";

const LEVELS = "(advisory, mandatory, remediate, disabled)";
const infra = (JSON.parse(fs.readFileSync(INFRA_FIXTURE, "utf8")) as { resources: PlanResource[] }).resources;
const policy = (name: string) => allPolicies.find((p) => p.name === name)!;

/** A config file with exactly this text (objects are written as JSON). */
function configFile(content: string | object): string {
  const file = path.join(tempDir("borg-policy-config-"), "config.json");
  fs.writeFileSync(file, typeof content === "string" ? content : JSON.stringify(content, null, 2));
  return file;
}

/** `npm run policy` over the insecure fixture (exit 1 if any rule ran) with this config. */
async function withConfig(content: string | object) {
  const file = configFile(content);
  return { file, ...(await runCli(policyMain, INFRA_FIXTURE, "--config", file)) };
}

/** Exit 2, nothing on stdout (no rule ran), exactly these problem lines. */
async function expectProblems(content: string | object, ...problems: string[]) {
  const run = await withConfig(content);
  expect(run.stderr).toBe(problems.map((p) => `${run.file}: ${p}`).join("\n"));
  expect(run.status).toBe(2);
  expect(run.stdout).toBe("");
}

describe("a bad policy config stops the run: exit 2, one line per problem", () => {
  it("a level that is not one (all, a rule, enforcementLevel)", async () => {
    await expectProblems({ all: "mandatry" }, `all: "mandatry" is not an enforcement level ${LEVELS}`);
    await expectProblems({ all: "mandatory", "broker-tls": "Mandatory" }, `broker-tls: "Mandatory" is not an enforcement level ${LEVELS}`);
    await expectProblems({ "stack-odd-quorum": { enforcementLevel: "hard" } }, `stack-odd-quorum.enforcementLevel: "hard" is not an enforcement level ${LEVELS}`);
    await expectProblems({ "broker-tls": true }, "broker-tls: expected an enforcement level or an object of settings, got true");
  });

  it("a rule the pack does not have, with a did-you-mean", async () => {
    await expectProblems({ all: "mandatory", "k8s-no-host-namespace": "disabled" }, "k8s-no-host-namespace: not a rule of this pack (did you mean k8s-no-host-namespaces?)");
    await expectProblems({ al: "mandatory" }, "al: not a rule of this pack (did you mean all?)");
    await expectProblems({ frobnicate: "advisory" }, "frobnicate: not a rule of this pack");
  });

  it("a rule's setting that fails the rule's config schema, or that the rule does not have", async () => {
    await expectProblems({ "proxmox-nic-firewall": { allowedVlans: ["ten"] } }, 'proxmox-nic-firewall.allowedVlans[0]: expected integer, got "ten"');
    await expectProblems({ "k8s-service-type-allowlist": { allowedServices: "web" } }, 'k8s-service-type-allowlist.allowedServices: expected array, got "web"');
    await expectProblems({ "k8s-no-host-ports": { allowedWorkloads: [""] } }, 'k8s-no-host-ports.allowedWorkloads[0]: "" is shorter than 1 characters');
    await expectProblems({ "proxmox-nic-firewall": { allowedBridge: ["vmbr1"] } }, "proxmox-nic-firewall.allowedBridge: is not a setting of this rule (did you mean allowedBridges?)");
  });

  it("an exemption whose reason is shorter than 10 characters", async () => {
    await expectProblems({ "k8s-no-host-namespaces": { exemptions: [{ resource: "ceph-osd", reason: "x" }] } }, 'k8s-no-host-namespaces.exemptions[0].reason: "x" is shorter than 10 characters');
    await expectProblems({ "k8s-no-host-namespaces": { exemptions: [{ resource: "ceph-osd", reason: "123456789" }] } }, 'k8s-no-host-namespaces.exemptions[0].reason: "123456789" is shorter than 10 characters');
    expect(policyConfigProblems({ "k8s-no-host-namespaces": { exemptions: [{ resource: "ceph-osd", reason: "1234567890" }] } })).toEqual([]);
  });

  it("an exemption of the wrong shape", async () => {
    const exemptions = (value: unknown) => ({ "consul-no-global-management-token": { exemptions: value } });
    await expectProblems(exemptions({ resource: "bootstrap", reason: "the one bootstrap token" }), 'consul-no-global-management-token.exemptions: expected array, got {"resource":"bootstrap","reason":"the one bootstrap token"}');
    await expectProblems(exemptions([{ reason: "the one bootstrap token" }]), "consul-no-global-management-token.exemptions[0].resource: is required");
    await expectProblems(exemptions([{ resource: 42, reason: "the one bootstrap token" }]), "consul-no-global-management-token.exemptions[0].resource: expected string, got 42");
    await expectProblems(
      exemptions([{ resource: "bootstrap", reason: "the one bootstrap token", until: "2026" }]),
      "consul-no-global-management-token.exemptions[0].until: is not allowed here (allowed: resource, reason)",
    );
    await expectProblems(exemptions(["bootstrap"]), 'consul-no-global-management-token.exemptions[0]: expected object, got "bootstrap"');
    await expectProblems({ "consul-no-global-management-token": { exemption: [] } }, "consul-no-global-management-token.exemption: is not a setting of this rule (did you mean exemptions?)");
  });

  it("a missing config file", async () => {
    const file = path.join(tempDir(), "nope.json");
    const run = await runCli(policyMain, INFRA_FIXTURE, "--config", file);
    expect(run.stderr).toBe(`${file}: cannot read (ENOENT: no such file or directory)`);
    expect(run.status).toBe(2);
  });

  it("malformed JSON (with line and column), an empty file, or JSON that is not an object", async () => {
    await expectProblems('{\n  "all": "mandatory"\n  "broker-tls": "advisory"\n}\n', "not valid JSON: Expected ',' or '}' after property value (line 3, column 3)");
    await expectProblems('{ "all": "mandatory", }', "not valid JSON: Expected double-quoted property name (line 1, column 23)");
    await expectProblems(" \n", "is empty (the engine would run every rule at the pack's level, advisory)");
    await expectProblems('["all", "mandatory"]', 'expected an object of rule names and their levels or settings, got ["all","mandatory"]');
  });

  it("settings under all (the engine keeps only its level)", async () => {
    await expectProblems({ all: { enforcementLevel: "mandatory", exemptions: [] } }, 'all.exemptions: "all" takes only an enforcement level; settings belong to one rule');
  });

  it("every problem is listed, in file order, then each rule's settings", async () => {
    await expectProblems(
      { all: "mandatry", "k8s-no-host-namespace": "mandatory", "k8s-no-host-namespaces": { exemptions: [{ resource: "a", reason: "x" }] } },
      `all: "mandatry" is not an enforcement level ${LEVELS}`,
      "k8s-no-host-namespace: not a rule of this pack (did you mean k8s-no-host-namespaces?)",
      'k8s-no-host-namespaces.exemptions[0].reason: "x" is shorter than 10 characters',
    );
  });

  it("the exit code reaches the shell, with no stack trace (a real process)", () => {
    const file = configFile({ all: "mandatry" });
    const run = spawnSync(path.join(PROJECT_ROOT, "node_modules", ".bin", "tsx"), ["scripts/policy.ts", INFRA_FIXTURE, "--config", file], { cwd: PROJECT_ROOT, encoding: "utf8", timeout: 300_000 });
    expect(run.stderr).toBe(`${file}: all: "mandatry" is not an enforcement level ${LEVELS}\n`);
    expect(run.status).toBe(2);
    expect(run.stdout).toBe("");
  });

  it("--check validates configs only: 2 on a bad one, 0 on the committed ones", async () => {
    const bad = configFile({ all: "mandatry" });
    expect(await runCli(policyMain, "--check", bad)).toEqual({ status: 2, stdout: "", stderr: `${bad}: all: "mandatry" is not an enforcement level ${LEVELS}` });
    const committed = await runCli(policyMain, "--check");
    expect(committed.stderr).toBe("");
    expect(committed.status).toBe(0);
  });

  it("runPolicies refuses an invalid config before running a rule", async () => {
    await expect(runPolicies(allPolicies, infra, { all: "mandatry" } as never)).rejects.toThrow(PolicyConfigError);
  });

  it("synth checks the stack's policy config before running the program or writing anything", async () => {
    const out = tempDir();
    const bad = configFile({ all: "mandatory", "remote-host-key-pinned": "off" });
    const result = await synthesize(readStackFile(stackFile("dev")), out, { policyConfig: bad });
    expect(result).toEqual({ ok: false, policyConfig: true, problems: [`${bad}: remote-host-key-pinned: "off" is not an enforcement level ${LEVELS}`] });
    expect(fs.readdirSync(out)).toEqual([]);
  });
});

describe("README", () => {
  const readme = fs.readFileSync(path.join(PROJECT_ROOT, "README.md"), "utf8");

  it("its example problem lines are the ones the check prints", () => {
    const config = {
      all: "mandatry",
      "k8s-no-host-namespace": "mandatory",
      "proxmox-nic-firewall": { allowedVlans: ["ten"] },
      "k8s-no-host-namespaces": { exemptions: [{ resource: "ceph-csi-rbd-nodeplugin", reason: "x" }] },
    };
    const lines = policyConfigProblems(config).map((p) => `  policy/config/prod.json: ${p}`);
    expect(lines).toHaveLength(4);
    expect(readme).toContain(lines.join("\n"));
  });

  it("installs the pack's dependencies before every engine run it shows", () => {
    const blocks = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
    const engineRuns = blocks.filter((b) => b.includes("--policy-pack policy"));
    expect(engineRuns.length).toBeGreaterThanOrEqual(2);
    for (const block of engineRuns) {
      const install = block.indexOf("npm ci --prefix policy");
      expect(install, block).toBeGreaterThanOrEqual(0);
      expect(install, block).toBeLessThan(block.indexOf("--policy-pack policy"));
    }
  });
});

describe("the committed configs", () => {
  it("are the ones --check and synth read", () => {
    expect(committedPolicyConfigs().map((f) => path.basename(f))).toEqual(["dev.json", "prod.json", "staging.json"]);
  });

  it.each(committedPolicyConfigs().map((f) => [path.basename(f), f]))("%s is valid", (_name, file) => {
    expect(policyConfigProblems(JSON.parse(fs.readFileSync(file, "utf8")))).toEqual([]);
  });
});

describe("config semantics shared with the engine", () => {
  it("a rule's level: its own entry, else all, else the pack's (advisory)", () => {
    const rule = policy("broker-tls");
    expect(levelOf(rule, {})).toBe("advisory");
    expect(levelOf(rule, { all: "mandatory" })).toBe("mandatory");
    expect(levelOf(rule, { all: { enforcementLevel: "mandatory" } })).toBe("mandatory");
    expect(levelOf(rule, { all: "mandatory", "broker-tls": "disabled" })).toBe("disabled");
    expect(levelOf(rule, { all: "disabled", "broker-tls": { enforcementLevel: "advisory" } })).toBe("advisory");
    // settings without a level keep the level of all
    expect(levelOf(rule, { all: "mandatory", "broker-tls": { exemptions: [] } })).toBe("mandatory");
  });

  it("a rule's settings: schema defaults, replaced key by key (not merged deeper) by the entry's", () => {
    expect(policyConfig(policy("proxmox-nic-firewall"), {})).toEqual({ exemptions: [], allowedBridges: ["vmbr0"], allowedVlans: [] });
    expect(policyConfig(policy("proxmox-nic-firewall"), { "proxmox-nic-firewall": { enforcementLevel: "mandatory", allowedBridges: ["vmbr1"] } })).toEqual({
      exemptions: [],
      allowedBridges: ["vmbr1"],
      allowedVlans: [],
    });
  });

  it("a rule at remediate reports its violations as mandatory, as the engine does", async () => {
    const report = await runPolicies([policy("proxmox-nic-firewall")], infra, { all: "remediate" });
    expect(report.violations.length).toBeGreaterThan(0);
    expect(new Set(report.violations.map((v) => v.level))).toEqual(new Set(["mandatory"]));
  });
});

describe("the rules themselves fail closed (what runs under pulumi preview)", () => {
  // The engine checks levels and each rule's schema, but lets an unknown setting through: the
  // rule refuses to run, which fails the preview.
  const vm = infra.find((r) => r.type === "proxmoxve:index/vmLegacy:VmLegacy")!;

  it("a resource rule throws on a setting it does not have, whatever the resource", async () => {
    const config = { "proxmox-nic-firewall": { allowedBridge: ["vmbr1"] } };
    const message = "policy config: proxmox-nic-firewall.allowedBridge: is not a setting of this rule (did you mean allowedBridges?)";
    await expect(runResourcePolicy(policy("proxmox-nic-firewall") as never, vm, config)).rejects.toThrow(message);
    await expect(runResourcePolicy(policy("proxmox-nic-firewall") as never, { ...vm, type: "random:index/randomId:RandomId" }, config)).rejects.toThrow(message);
  });

  it("a stack rule throws on a setting it does not have", async () => {
    await expect(runStackPolicy(policy("stack-odd-quorum") as never, infra, { "stack-odd-quorum": { exemption: [] } })).rejects.toThrow(
      "policy config: stack-odd-quorum.exemption: is not a setting of this rule (did you mean exemptions?)",
    );
  });

  it("an exemption with a too-short reason that got past validation is not applied", async () => {
    const rule = policy("proxmox-nic-firewall") as never;
    const bare = mutate(vm, (i) => (i.networkDevices = [{ bridge: "vmbr0", firewall: false }]));
    expect((await runResourcePolicy(rule, bare)).violations).toHaveLength(1);
    const short = { "proxmox-nic-firewall": { exemptions: [{ resource: bare.name, reason: "x" }] } };
    expect((await runResourcePolicy(rule, bare, short)).violations).toHaveLength(1);
    const good = { "proxmox-nic-firewall": { exemptions: [{ resource: bare.name, reason: "lab bridge without firewall" }] } };
    expect(await runResourcePolicy(rule, bare, good)).toEqual({ violations: [], notApplicable: "exempt: lab bridge without firewall" });
  });

  it("an exemption a stack rule applies shows in the report with its reason", async () => {
    const rule = policy("stack-rollback-guard");
    const plain = await runPolicies([rule], infra, { all: "mandatory" });
    const hit = plain.violations.find((v) => v.resource !== undefined);
    expect(hit, "the fixture must trip stack-rollback-guard on a resource").toBeDefined();
    const exempt = await runPolicies([rule], infra, { all: "mandatory", "stack-rollback-guard": { exemptions: [{ resource: hit!.resource!, reason: "a test host without the guard" }] } });
    expect(exempt.violations.filter((v) => v.resource === hit!.resource)).toEqual([]);
    expect(exempt.exemptions).toContainEqual({ policy: "stack-rollback-guard", resource: hit!.resource, reason: "a test host without the guard" });
  });
});
