// The Proxmox policies over the real prod plan: each rule passes the synthesized provider and
// VMs, fails a mutated copy with a message naming the resource, the field and the fix, and
// ignores unrelated types. Then the insecure plan fixture trips every rule.
import type { ResourceValidationPolicy } from "@pulumi/policy";
import * as fs from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { proxmoxPolicies } from "../../policy/proxmox/index.ts";
import { runPolicies, runResourcePolicy, type EnforcementConfig, type PlanResource, type SingleRun } from "../../scripts/lib/policyRunner.js";
import { synth, type Synth } from "../helpers.js";
import { mutate, expectViolation, INFRA_FIXTURE } from "./harness.js";

const NAMES = ["proxmox-provider-verify-tls", "proxmox-provider-token-auth", "proxmox-cloud-init-keys-only", "proxmox-nic-firewall", "proxmox-protect-vms"];
const FIXTURE = INFRA_FIXTURE;

const policy = (name: string): ResourceValidationPolicy => {
  const p = proxmoxPolicies.find((q) => q.name === name);
  if (!p) throw new Error(`no policy ${name}`);
  return p;
};
const run = (name: string, r: PlanResource, config: EnforcementConfig = {}) => runResourcePolicy(policy(name), r, config);

let prod: Synth;
let provider: PlanResource;
let vm: PlanResource;
let unrelated: PlanResource;
beforeAll(async () => {
  prod = await synth("prod");
  provider = prod.byName("borg-proxmox");
  vm = prod.byName("queen-vm-qemu");
  unrelated = prod.byName("queen-host-key");
});

describe("the committed prod plan", () => {
  it("has the resources these rules judge", () => {
    expect(prod.byType("pulumi:providers:proxmoxve")).toHaveLength(1);
    expect(prod.byType("proxmoxve:index/vmLegacy:VmLegacy")).toHaveLength(4);
  });

  it.each(NAMES)("%s: zero violations on every resource", async (name) => {
    for (const r of prod.plan.resources) expect((await run(name, r)).violations, r.name).toEqual([]);
  });

  it("every rule is exported once, named and described", () => {
    expect(proxmoxPolicies.map((p) => p.name)).toEqual(NAMES);
    for (const p of proxmoxPolicies) expect(p.description.length).toBeGreaterThan(20);
  });
});

describe("proxmox-provider-verify-tls", () => {
  it("passes the prod provider (insecure is the JSON-encoded string \"false\")", async () => {
    expect(provider.inputs.insecure).toBe("false");
    expect((await run("proxmox-provider-verify-tls", provider)).violations).toEqual([]);
  });

  it.each([true, "true"])("fails insecure: %j (boolean, or JSON-encoded as the CLI sends it)", async (value) => {
    const result = await run("proxmox-provider-verify-tls", mutate(provider, (i) => (i.insecure = value)));
    expectViolation(result, "borg-proxmox", "insecure", /skips verification/);
  });

  it("fails an http endpoint and TLS below 1.2", async () => {
    const result = await run("proxmox-provider-verify-tls", mutate(provider, (i) => Object.assign(i, { endpoint: "http://pve1.hive.lan:8006/", minTls: "1.1" })));
    expectViolation(result, "borg-proxmox", "endpoint", /plain http/);
    expectViolation(result, "borg-proxmox", "minTls");
  });

  it("does not judge other types", async () => {
    expect((await run("proxmox-provider-verify-tls", vm)).notApplicable).toBeDefined();
    expect((await run("proxmox-provider-verify-tls", unrelated)).notApplicable).toBeDefined();
  });
});

describe("proxmox-provider-token-auth", () => {
  it("passes the prod provider (apiToken set, shown as [secret]) and a well-formed unwrapped token", async () => {
    expect((await run("proxmox-provider-token-auth", provider)).violations).toEqual([]);
    const unwrapped = mutate(provider, (i) => (i.apiToken = "pulumi@pve!borg=0b7c3c3e-6e0e-4f0e-9a3a-3f1f0c1d2e3f"));
    expect((await run("proxmox-provider-token-auth", unwrapped)).violations).toEqual([]);
  });

  it("fails password login without a token", async () => {
    const result = await run(
      "proxmox-provider-token-auth",
      mutate(provider, (i) => {
        delete i.apiToken;
        Object.assign(i, { username: "root@pam", password: "[secret]" });
      }),
    );
    expectViolation(result, "borg-proxmox", "password", /logs in as a user/);
    expectViolation(result, "borg-proxmox", "username");
    expectViolation(result, "borg-proxmox", "apiToken", /not set/);
  });

  it("fails an auth ticket and a token that is not USER@REALM!TOKENID=SECRET", async () => {
    const result = await run("proxmox-provider-token-auth", mutate(provider, (i) => Object.assign(i, { authTicket: "PVE:root@pam:XYZ", apiToken: "just-a-uuid" })));
    expectViolation(result, "borg-proxmox", "authTicket");
    expectViolation(result, "borg-proxmox", "apiToken", /USER@REALM!TOKENID=SECRET/);
  });

  it("does not judge other types", async () => {
    expect((await run("proxmox-provider-token-auth", vm)).notApplicable).toBeDefined();
  });
});

describe("proxmox-cloud-init-keys-only", () => {
  it("passes every prod VM", async () => {
    for (const r of prod.byType("proxmoxve:index/vmLegacy:VmLegacy")) expect((await run("proxmox-cloud-init-keys-only", r)).violations).toEqual([]);
  });

  it("fails a cloud-init password", async () => {
    const result = await run("proxmox-cloud-init-keys-only", mutate(vm, (i) => (i.initialization.userAccount.password = "[secret]")));
    expectViolation(result, "queen-vm-qemu", "initialization.userAccount.password", /password logins/);
  });

  it("fails a user without keys, and a key that is not a public key", async () => {
    expectViolation(await run("proxmox-cloud-init-keys-only", mutate(vm, (i) => (i.initialization.userAccount.keys = []))), "queen-vm-qemu", "initialization.userAccount.keys", /no SSH key/);
    expectViolation(await run("proxmox-cloud-init-keys-only", mutate(vm, (i) => delete i.initialization)), "queen-vm-qemu", "initialization.userAccount.keys");
    const pem = mutate(vm, (i) => i.initialization.userAccount.keys.push("-----BEGIN OPENSSH PRIVATE KEY-----"));
    expectViolation(await run("proxmox-cloud-init-keys-only", pem), "queen-vm-qemu", "initialization.userAccount.keys[1]", /not an OpenSSH public key/);
  });

  it("does not judge other types", async () => {
    expect((await run("proxmox-cloud-init-keys-only", provider)).notApplicable).toBeDefined();
  });
});

describe("proxmox-nic-firewall", () => {
  it("passes every prod VM (firewall on vmbr0)", async () => {
    for (const r of prod.byType("proxmoxve:index/vmLegacy:VmLegacy")) expect((await run("proxmox-nic-firewall", r)).violations).toEqual([]);
  });

  it("fails a NIC without the firewall", async () => {
    const result = await run("proxmox-nic-firewall", mutate(vm, (i) => (i.networkDevices[0].firewall = false)));
    expectViolation(result, "queen-vm-qemu", "networkDevices[0].firewall", /does not filter/);
  });

  it("fails a bridge outside allowedBridges, and passes it once allowed", async () => {
    const other = mutate(vm, (i) => (i.networkDevices[0].bridge = "vmbr7"));
    expectViolation(await run("proxmox-nic-firewall", other), "queen-vm-qemu", "networkDevices[0].bridge", /vmbr7, not one of the allowed bridges \(vmbr0\)/);
    expect((await run("proxmox-nic-firewall", other, { "proxmox-nic-firewall": { allowedBridges: ["vmbr7"] } })).violations).toEqual([]);
  });

  it("with allowedVlans, fails an untagged NIC or a VLAN outside the list", async () => {
    const config = { "proxmox-nic-firewall": { allowedVlans: [42] } };
    expectViolation(await run("proxmox-nic-firewall", vm, config), "queen-vm-qemu", "networkDevices[0].vlanId", /not set \(untagged\)/);
    expectViolation(await run("proxmox-nic-firewall", mutate(vm, (i) => (i.networkDevices[0].vlanId = 7)), config), "queen-vm-qemu", "networkDevices[0].vlanId", /is 7/);
    expect((await run("proxmox-nic-firewall", mutate(vm, (i) => (i.networkDevices[0].vlanId = 42)), config)).violations).toEqual([]);
  });

  it("fails a cloned VM that declares no NIC (it inherits the template's)", async () => {
    expectViolation(await run("proxmox-nic-firewall", mutate(vm, (i) => delete i.networkDevices)), "queen-vm-qemu", "networkDevices", /template's NICs/);
  });

  it("does not judge other types", async () => {
    expect((await run("proxmox-nic-firewall", provider)).notApplicable).toBeDefined();
  });
});

describe("proxmox-protect-vms", () => {
  it("passes the prod VMs (protection and protect)", async () => {
    expect(vm.inputs.protection).toBe(true);
    expect(vm.protect).toBe(true);
    expect((await run("proxmox-protect-vms", vm)).violations).toEqual([]);
  });

  it("fails a VM without Proxmox protection", async () => {
    expectViolation(await run("proxmox-protect-vms", mutate(vm, (i) => (i.protection = false))), "queen-vm-qemu", "protection", /can be removed/);
  });

  it("fails a VM without the Pulumi protect option", async () => {
    expectViolation(await run("proxmox-protect-vms", mutate(vm, (_i, r) => (r.protect = false))), "queen-vm-qemu", "opts.protect", /pulumi destroy/);
  });

  it("does not judge other types", async () => {
    expect((await run("proxmox-protect-vms", provider)).notApplicable).toBeDefined();
  });
});

describe("infra-insecure.json", () => {
  it("trips every Proxmox rule", async () => {
    const plan = JSON.parse(fs.readFileSync(FIXTURE, "utf8")) as { resources: PlanResource[] };
    const report = await runPolicies(proxmoxPolicies, plan.resources, { all: "mandatory" });
    const tripped = new Set(report.violations.map((v) => v.policy));
    expect(NAMES.filter((n) => !tripped.has(n))).toEqual([]);
  });
});
