// The K3s policies over the committed plans (pass), mutated copies (violate, naming resource,
// field and fix), nodes and resources they do not judge (not applicable), and the insecure fixture.
import type { ResourceValidationPolicy } from "@pulumi/policy";
import * as fs from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { k3sPolicies } from "../../policy/k3s/index.ts";
import { runPolicies, runResourcePolicy, type PlanResource } from "../../scripts/lib/policyRunner.js";
import { STACKS, synth, type Synth } from "../helpers.js";
import { expectViolation, INFRA_FIXTURE, mutate, type Obj } from "./harness.js";

const NAMES = ["k3s-secrets-encryption", "k3s-token-file"];
const policy = (name: string): ResourceValidationPolicy => k3sPolicies.find((p) => p.name === name)!;
const run = (name: string, r: PlanResource) => runResourcePolicy(policy(name), r);
const k3sOf = (inputs: Obj) => inputs.nodeConfig.services.k3s as Obj;

const runs: Record<string, Synth> = {};
let queen: PlanResource;
let agent: PlanResource;
beforeAll(async () => {
  for (const stack of STACKS) runs[stack] = await synth(stack);
  queen = runs.prod!.byName("queen-nixos");
  agent = runs.prod!.byName("drone-3-nixos");
});

describe("the committed plans", () => {
  it.each(NAMES)("%s: zero violations on every resource of every stack", async (name) => {
    for (const stack of STACKS) for (const r of runs[stack]!.plan.resources) expect((await run(name, r)).violations, `${stack} ${r.name}`).toEqual([]);
  });

  it("every rule is exported once, named and described", () => {
    expect(k3sPolicies.map((p) => p.name)).toEqual(NAMES);
  });
});

describe("k3s-secrets-encryption", () => {
  it("passes a server that encrypts Secrets", async () => {
    expect(await run("k3s-secrets-encryption", queen)).toEqual({ violations: [] });
  });

  it("fails a server without it", async () => {
    const r = mutate(queen, (i) => (k3sOf(i).secretsEncryption = false));
    expectViolation(await run("k3s-secrets-encryption", r), "queen-nixos", "nodeConfig.services.k3s.secretsEncryption", /stored in clear/);
    const missing = mutate(runs.prod!.byName("drone-1-nixos"), (i) => delete k3sOf(i).secretsEncryption);
    expectViolation(await run("k3s-secrets-encryption", missing), "drone-1-nixos", "nodeConfig.services.k3s.secretsEncryption", /is null/);
  });

  it("does not judge agents, the edge Pi, a disabled K3s or other types", async () => {
    expect((await run("k3s-secrets-encryption", agent)).notApplicable).toMatch(/no K3s server/);
    expect((await run("k3s-secrets-encryption", runs.prod!.byName("edge-pi-nixos"))).notApplicable).toMatch(/no K3s server/);
    expect((await run("k3s-secrets-encryption", mutate(queen, (i) => (k3sOf(i).enable = false)))).notApplicable).toBeDefined();
    expect((await run("k3s-secrets-encryption", runs.prod!.byName("queen-vm-qemu"))).notApplicable).toBeDefined();
  });
});

describe("k3s-token-file", () => {
  it("passes servers and agents whose tokens are delivered secret files", async () => {
    expect(await run("k3s-token-file", queen)).toEqual({ violations: [] });
    expect(await run("k3s-token-file", agent)).toEqual({ violations: [] });
    expect(await run("k3s-token-file", runs.prod!.byName("borg-k3s-kubeconfig"))).toEqual({ violations: [] });
  });

  it("fails a token value in node config", async () => {
    const r = mutate(agent, (i) => (k3sOf(i).token = "K10deadbeef::server:hunter2"));
    expectViolation(await run("k3s-token-file", r), "drone-3-nixos", "nodeConfig.services.k3s.token", /Nix store/);
  });

  it("fails a missing token file, a store path, and a file the secrets channel does not deliver", async () => {
    expectViolation(await run("k3s-token-file", mutate(agent, (i) => (k3sOf(i).tokenFile = null))), "drone-3-nixos", "nodeConfig.services.k3s.tokenFile", /is not set/);
    expectViolation(
      await run("k3s-token-file", mutate(queen, (i) => (k3sOf(i).agentTokenFile = "/nix/store/0000000000000000000000000000000-k3s-agent-token"))),
      "queen-nixos",
      "nodeConfig.services.k3s.agentTokenFile",
      /a store path/,
    );
    const undelivered = mutate(queen, (i) => (i.nodeConfig.secrets.files = i.nodeConfig.secrets.files.filter((f: Obj) => f.name !== "k3s-token")));
    expectViolation(await run("k3s-token-file", undelivered), "queen-nixos", "nodeConfig.services.k3s.tokenFile", /not one of the node's delivered secret files/);
  });

  it("fails a token flag among the node's K3s settings", async () => {
    const r = mutate(queen, (i) => (k3sOf(i).tlsSans = ["k8s.hive.lan", "--token=hunter2"]));
    expectViolation(await run("k3s-token-file", r), "queen-nixos", "nodeConfig.services.k3s.tlsSans[1]", /token on the K3s command line/);
  });

  it("fails a remote command that passes a token on its command line or in its environment; --token-file is fine", async () => {
    const step = runs.prod!.byName("borg-k3s-ready-queen");
    const flag = mutate(step, (i) => (i.create = "k3s agent --server https://10.42.0.10:6443 --token hunter2"));
    expectViolation(await run("k3s-token-file", flag), "borg-k3s-ready-queen", "create", /on the command line/);
    const env = mutate(step, (i) => (i.environment = { K3S_TOKEN: "hunter2" }));
    expectViolation(await run("k3s-token-file", env), "borg-k3s-ready-queen", "environment.K3S_TOKEN", /environment/);
    const secure = mutate(step, (i) => (i.create = `echo K10${"a".repeat(64)}::server:hunter2 > /tmp/t`));
    expectViolation(await run("k3s-token-file", secure), "borg-k3s-ready-queen", "create");
    const file = mutate(step, (i) => (i.create = "k3s server --token-file /var/lib/borg/secrets/k3s-token"));
    expect(await run("k3s-token-file", file)).toEqual({ violations: [] });
  });

  it("does not judge nodes without K3s or other types", async () => {
    expect((await run("k3s-token-file", runs.prod!.byName("edge-pi-nixos"))).notApplicable).toMatch(/no K3s/);
    expect((await run("k3s-token-file", runs.prod!.byName("borg-k3s-token"))).notApplicable).toBeDefined();
  });
});

describe("infra-insecure.json", () => {
  it("trips every K3s rule", async () => {
    const fixture = JSON.parse(fs.readFileSync(INFRA_FIXTURE, "utf8")) as { resources: PlanResource[] };
    const report = await runPolicies(k3sPolicies, fixture.resources, { all: "mandatory" });
    const tripped = new Set(report.violations.map((v) => v.policy));
    expect(NAMES.filter((n) => !tripped.has(n))).toEqual([]);
  });
});
