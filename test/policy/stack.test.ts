// The stack policies over the real prod plan (all resources, with parents and dependencies):
// quorum sizes, pinned versions and the activate/confirm rollback guard. Each mutated plan fails
// with a message naming the resource at fault (or the stack), the field and the fix; an empty or
// unrelated resource set yields nothing. Last, the insecure plan fixture trips every
// non-Kubernetes rule of the pack.
import type { StackValidationPolicy } from "@pulumi/policy";
import * as fs from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { consulPolicies } from "../../policy/consul/index.ts";
import { messagingPolicies } from "../../policy/messaging/index.ts";
import { proxmoxPolicies } from "../../policy/proxmox/index.ts";
import { remoteCommandPolicies } from "../../policy/remote/index.ts";
import { stackPolicies } from "../../policy/stack/index.ts";
import { runPolicies, runStackPolicy, type EnforcementConfig, type PlanResource } from "../../scripts/lib/policyRunner.js";
import { synth, type Synth } from "../helpers.js";
import { INFRA_FIXTURE, type Obj } from "./harness.js";

const NAMES = ["stack-odd-quorum", "stack-pinned-versions", "stack-rollback-guard"];
const FIXTURE = INFRA_FIXTURE;
const HOSTS = ["queen-nixos", "drone-1-nixos", "drone-2-nixos", "drone-3-nixos", "edge-pi-nixos"];

const policy = (name: string): StackValidationPolicy => {
  const p = stackPolicies.find((q) => q.name === name);
  if (!p) throw new Error(`no policy ${name}`);
  return p;
};
const run = async (name: string, resources: readonly PlanResource[], config: EnforcementConfig = {}) => (await runStackPolicy(policy(name), resources, config)).violations;
/** A mutated deep copy of the whole plan; `at(name)` finds a resource of the copy. */
function mutated(resources: readonly PlanResource[], change: (at: (name: string) => PlanResource, all: PlanResource[]) => void): PlanResource[] {
  const copy = structuredClone(resources) as PlanResource[];
  const at = (name: string) => {
    const r = copy.find((x) => x.name === name);
    if (!r) throw new Error(`no resource ${name}`);
    return r;
  };
  change(at, copy);
  return copy;
}
const services = (r: PlanResource) => (r.inputs.nodeConfig as Obj).services as Obj;
function expectViolation(violations: { message: string; urn?: string }[], resource: string, field: string, problem?: RegExp, urn?: string) {
  const hit = violations.find((v) => v.message.startsWith(`${resource} (`) && v.message.includes(`): ${field}: `));
  expect(hit, `${resource} ${field} in ${JSON.stringify(violations, null, 1)}`).toBeDefined();
  expect(hit!.message).toContain(". Fix: ");
  if (problem) expect(hit!.message).toMatch(problem);
  if (urn !== undefined) expect(hit!.urn).toBe(urn);
}

let prod: Synth;
let resources: PlanResource[];
beforeAll(async () => {
  prod = await synth("prod");
  resources = prod.plan.resources;
});

describe("the committed prod plan", () => {
  it("has five NixosHosts, each with its activate and confirm children", () => {
    for (const host of HOSTS) {
      const urn = prod.byName(host).urn;
      expect(prod.byName(`${host}-activate`).parent).toBe(urn);
      expect(prod.byName(`${host}-confirm`).parent).toBe(urn);
    }
  });

  it("runs JetStream on three peers (queen, drone-1, drone-2), like Ceph monitors and Consul servers", () => {
    const peers = HOSTS.filter((h) => services(prod.byName(h)).nats.jetstream);
    expect(peers).toEqual(["queen-nixos", "drone-1-nixos", "drone-2-nixos"]);
  });

  it.each(NAMES)("%s: zero violations", async (name) => {
    expect(await run(name, resources)).toEqual([]);
  });

  it("every rule is exported once, named and described", () => {
    expect(stackPolicies.map((p) => p.name)).toEqual(NAMES);
  });
});

describe("stack-odd-quorum", () => {
  it("passes 3 Ceph monitors, 3 Consul servers and 3 JetStream peers", async () => {
    expect(await run("stack-odd-quorum", resources)).toEqual([]);
  });

  it("fails an even number of Ceph monitors", async () => {
    const four = mutated(resources, (at) => {
      for (const host of HOSTS) services(at(host)).ceph.monitors.push({ name: "drone-3", address: "10.42.0.13" });
    });
    expectViolation(await run("stack-odd-quorum", four), "stack", "nodeConfig.services.ceph.monitors", /4 Ceph monitor\(s\).*4 is even/);
  });

  it("fails a node whose monitor list disagrees with the others (reported on that node)", async () => {
    const split = mutated(resources, (at) => services(at("drone-2-nixos")).ceph.monitors.pop());
    expectViolation(await run("stack-odd-quorum", split), "drone-2-nixos", "nodeConfig.services.ceph.monitors", /disagree/, prod.byName("drone-2-nixos").urn);
  });

  it("fails an even number of Consul servers, and servers expecting the wrong count", async () => {
    const four = mutated(resources, (at) => Object.assign(services(at("drone-3-nixos")).consul, { server: true, bootstrapExpect: 4 }));
    const violations = await run("stack-odd-quorum", four);
    expectViolation(violations, "stack", "nodeConfig.services.consul.server", /4 Consul server\(s\) \(drone-1, drone-2, drone-3, queen\)/);
    expectViolation(violations, "queen-nixos", "nodeConfig.services.consul.bootstrapExpect", /is 3 but the stack has 4/);
  });

  it("fails fewer than 3 members", async () => {
    const two = mutated(resources, (at) => (services(at("drone-2-nixos")).nats.jetstream = false));
    expectViolation(await run("stack-odd-quorum", two), "stack", "nodeConfig.services.nats.jetstream", /2 NATS JetStream peer\(s\).*cannot lose a member/);
  });

  it("an exemption on the node at fault silences its finding", async () => {
    const split = mutated(resources, (at) => services(at("drone-2-nixos")).ceph.monitors.pop());
    const config = { "stack-odd-quorum": { exemptions: [{ resource: "drone-2-nixos", reason: "monitor map being migrated this week" }] } };
    expect(await run("stack-odd-quorum", split, config)).toEqual([]);
  });

  it("yields nothing for an empty or unrelated resource set", async () => {
    expect(await run("stack-odd-quorum", [])).toEqual([]);
    expect(await run("stack-odd-quorum", resources.filter((r) => r.type !== "borg:index:NixosHost"))).toEqual([]);
  });
});

describe("stack-pinned-versions", () => {
  it("fails a k3s version that is not a full release (reported on the node)", async () => {
    const violations = await run("stack-pinned-versions", mutated(resources, (at) => (services(at("drone-1-nixos")).k3s.version = "v1.31")));
    expectViolation(violations, "drone-1-nixos", "nodeConfig.services.k3s.version", /"v1\.31", not a full k3s release/, prod.byName("drone-1-nixos").urn);
  });

  it("fails nodes running a different release from the server", async () => {
    const violations = await run("stack-pinned-versions", mutated(resources, (at) => (services(at("drone-2-nixos")).k3s.version = "v1.30.8+k3s1")));
    expect(violations).toHaveLength(1);
    expectViolation(violations, "drone-2-nixos", "nodeConfig.services.k3s.version", /v1\.30\.8\+k3s1 but the server queen runs v1\.36\.3\+k3s1/);
  });

  it("ignores the version on a node that does not run k3s", async () => {
    expect(await run("stack-pinned-versions", mutated(resources, (at) => (services(at("edge-pi-nixos")).k3s.version = "latest")))).toEqual([]);
  });

  it("fails a Helm chart without a version or with a range; passes an exact one", async () => {
    const chart = (name: string, inputs: Obj): PlanResource => ({ urn: `urn:pulumi:prod::borg-collective::kubernetes:helm.sh/v4:Chart::${name}`, type: "kubernetes:helm.sh/v4:Chart", name, inputs });
    const violations = await run("stack-pinned-versions", [
      ...resources,
      chart("nats", { chart: "nats", repositoryOpts: { repo: "https://nats-io.github.io/k8s/helm/charts/" } }),
      chart("consul", { chart: "consul", version: "^1.5.0" }),
      chart("cilium", { chart: "cilium", version: "1.16.5" }),
      chart("local", { chart: "./charts/borg" }),
    ]);
    expect(violations).toHaveLength(2);
    expectViolation(violations, "nats", "version", /not set/);
    expectViolation(violations, "consul", "version", /a range/);
  });

  it("yields nothing for an empty or unrelated resource set", async () => {
    expect(await run("stack-pinned-versions", [])).toEqual([]);
    expect(await run("stack-pinned-versions", resources.filter((r) => r.type.startsWith("proxmoxve:")))).toEqual([]);
  });
});

describe("stack-rollback-guard", () => {
  it("fails a NixosHost without its confirm step (reported on the host)", async () => {
    const violations = await run("stack-rollback-guard", resources.filter((r) => r.name !== "queen-nixos-confirm"));
    expect(violations).toHaveLength(1);
    expectViolation(violations, "queen-nixos", "children.queen-nixos-confirm", /locks the operator out/, prod.byName("queen-nixos").urn);
  });

  it("fails a NixosHost without activate", async () => {
    const violations = await run("stack-rollback-guard", resources.filter((r) => r.name !== "drone-1-nixos-activate"));
    expectViolation(violations, "drone-1-nixos", "children.drone-1-nixos-activate", /revert timer/);
  });

  it("does not count a same-named Command that is not the host's child", async () => {
    const moved = mutated(resources, (at) => (at("drone-2-nixos-confirm").parent = prod.byName("drone-2").urn));
    expectViolation(await run("stack-rollback-guard", moved), "drone-2-nixos", "children.drone-2-nixos-confirm");
  });

  it("fails an activate without a confirm timeout, or one that does not run activate.sh", async () => {
    const noTimeout = mutated(resources, (at) => (at("queen-nixos-activate").inputs.create = String(at("queen-nixos-activate").inputs.create).replace(/ 180$/, "")));
    expectViolation(await run("stack-rollback-guard", noTimeout), "queen-nixos-activate", "create", /without a confirm timeout/);
    const plainSwitch = mutated(resources, (at) => (at("queen-nixos-activate").inputs.create = "sudo nixos-rebuild switch"));
    expectViolation(await run("stack-rollback-guard", plainSwitch), "queen-nixos-activate", "create", /does not run activate\.sh/);
  });

  it("fails a confirm that does not run confirm.sh or does not depend on activate", async () => {
    const violations = await run(
      "stack-rollback-guard",
      mutated(resources, (at) => {
        const confirm = at("edge-pi-nixos-confirm");
        confirm.inputs.create = "true";
        confirm.dependencies = (confirm.dependencies ?? []).filter((d) => d !== at("edge-pi-nixos-activate").urn);
      }),
    );
    expectViolation(violations, "edge-pi-nixos-confirm", "create", /does not run confirm\.sh/);
    expectViolation(violations, "edge-pi-nixos-confirm", "dependencies", /does not depend on edge-pi-nixos-activate/);
  });

  it("yields nothing for an empty or unrelated resource set", async () => {
    expect(await run("stack-rollback-guard", [])).toEqual([]);
    expect(await run("stack-rollback-guard", resources.filter((r) => r.type !== "borg:index:NixosHost"))).toEqual([]);
  });
});

describe("infra-insecure.json", () => {
  let fixture: { stack: string; resources: PlanResource[] };
  beforeAll(() => {
    fixture = JSON.parse(fs.readFileSync(FIXTURE, "utf8"));
  });

  it("is a plan of the insecure-fixture stack with well-formed URNs and parents", () => {
    expect(fixture.stack).toBe("insecure-fixture");
    const urns = new Set(fixture.resources.map((r) => r.urn));
    for (const r of fixture.resources) {
      expect(r.urn).toBe(`urn:pulumi:insecure-fixture::borg-collective::${r.type}::${r.name}`);
      if (r.parent) expect(urns, r.name).toContain(r.parent);
    }
  });

  it("trips every stack rule", async () => {
    for (const name of NAMES) expect((await run(name, fixture.resources)).length, name).toBeGreaterThan(0);
  });

  it("trips every Proxmox, remote-command, Consul, NATS/MQTT and stack rule at least once", async () => {
    const mine = [...proxmoxPolicies, ...remoteCommandPolicies, ...consulPolicies, ...messagingPolicies, ...stackPolicies];
    expect(mine.length).toBeGreaterThanOrEqual(18);
    const report = await runPolicies(mine, fixture.resources, { all: "mandatory" });
    const tripped = new Set(report.violations.map((v) => v.policy));
    expect(mine.map((p) => p.name).filter((n) => !tripped.has(n))).toEqual([]);
    expect(report.violations.every((v) => v.level === "mandatory" && v.message.includes(". Fix: "))).toBe(true);
  });
});
