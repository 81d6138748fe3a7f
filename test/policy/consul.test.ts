// The Consul policies: node ACL settings judged on the real prod NixosHosts; ACL policies, tokens,
// intentions and the provider on compliant fixtures (the program declares no Consul resources
// yet), each failing a mutated copy with resource, field and fix. Then the exemption mechanism
// (the bootstrap token) and the insecure plan fixture tripping every rule.
import type { ResourceValidationPolicy } from "@pulumi/policy";
import * as fs from "node:fs";
import * as path from "node:path";
import { PROJECT_ROOT } from "../../components/bundle.js";
import { beforeAll, describe, expect, it } from "vitest";
import { consulPolicies } from "../../policy/consul/index.ts";
import { allPolicies } from "../../policy/policies.ts";
import { runPolicies, runResourcePolicy, type EnforcementConfig, type PlanResource, type SingleRun } from "../../scripts/lib/policyRunner.js";
import { synth, type Synth } from "../helpers.js";
import { mutate, expectViolation, INFRA_FIXTURE, type Obj } from "./harness.js";

const NAMES = ["consul-acl-default-deny", "consul-gossip-encryption", "consul-tls-verify", "consul-no-global-management-token", "consul-no-wildcard-write", "consul-intentions-default-deny", "consul-provider-https"];
const FIXTURE = INFRA_FIXTURE;

const policy = (name: string): ResourceValidationPolicy => {
  const p = consulPolicies.find((q) => q.name === name);
  if (!p) throw new Error(`no policy ${name}`);
  return p;
};
const run = (name: string, r: PlanResource, config: EnforcementConfig = {}) => runResourcePolicy(policy(name), r, config);
const plan = (type: string, name: string, inputs: Obj): PlanResource => ({ urn: `urn:pulumi:test::borg-collective::${type}::${name}`, type, name, inputs });

const T = {
  provider: "pulumi:providers:consul",
  policy: "consul:index/aclPolicy:AclPolicy",
  token: "consul:index/aclToken:AclToken",
  role: "consul:index/aclRole:AclRole",
  intentions: "consul:index/configEntryServiceIntentions:ConfigEntryServiceIntentions",
  intention: "consul:index/intention:Intention",
  configEntry: "consul:index/configEntry:ConfigEntry",
};

// Compliant fixtures, as a program would declare them.
const provider = plan(T.provider, "borg-consul", { address: "consul.hive.lan:8501", scheme: "https", caPem: "-----BEGIN CERTIFICATE-----\n…", token: "[secret]" });
const webPolicy = plan(T.policy, "web", {
  name: "web",
  rules: ['# the web service and its own keys', 'service "web" {', '  policy = "write"', "}", 'service_prefix "" {', '  policy = "read"', "}", 'key_prefix "app/web/" {', '  policy = "write"', "}", 'node_prefix "" {', '  policy = "read"', "}"].join("\n"),
});
const webToken = plan(T.token, "web-token", { description: "web service", policies: ["web"], local: false });
const webIntentions = plan(T.intentions, "web", { name: "web", sources: [{ name: "frontend", action: "allow", type: "consul" }, { name: "*", action: "deny", type: "consul" }] });

let prod: Synth;
let dev: Synth;
let host: PlanResource;
beforeAll(async () => {
  prod = await synth("prod");
  dev = await synth("dev");
  host = prod.byName("drone-1-nixos");
});

describe("the committed prod plan", () => {
  it.each(NAMES)("%s: zero violations on every resource", async (name) => {
    for (const r of prod.plan.resources) expect((await run(name, r)).violations, r.name).toEqual([]);
  });

  it("every rule is exported once, named and described", () => {
    expect(consulPolicies.map((p) => p.name)).toEqual(NAMES);
  });
});

describe("consul-acl-default-deny", () => {
  it("passes every prod node (ACLs on, default deny)", async () => {
    const hosts = prod.byType("borg:index:NixosHost");
    expect(hosts).toHaveLength(5);
    for (const r of hosts) expect((await run("consul-acl-default-deny", r)).violations, r.name).toEqual([]);
  });

  it("fails ACLs off, default allow and down-policy allow", async () => {
    const r = mutate(host, (i) => Object.assign(i.nodeConfig.services.consul.acl, { enabled: false, defaultPolicy: "allow", downPolicy: "allow" }));
    const result = await run("consul-acl-default-deny", r);
    expectViolation(result, "drone-1-nixos", "nodeConfig.services.consul.acl.enabled", /anyone who can reach it/);
    expectViolation(result, "drone-1-nixos", "nodeConfig.services.consul.acl.defaultPolicy", /"allow", not "deny"/);
    expectViolation(result, "drone-1-nixos", "nodeConfig.services.consul.acl.downPolicy");
  });

  it("fails a node with no acl block at all", async () => {
    const result = await run("consul-acl-default-deny", mutate(host, (i) => delete i.nodeConfig.services.consul.acl));
    expectViolation(result, "drone-1-nixos", "nodeConfig.services.consul.acl.defaultPolicy");
  });

  it("ignores a node that does not run Consul", async () => {
    const r = mutate(host, (i) => Object.assign(i.nodeConfig.services.consul, { enable: false, acl: { enabled: false } }));
    expect((await run("consul-acl-default-deny", r)).violations).toEqual([]);
  });

  it("does not judge other types", async () => {
    expect((await run("consul-acl-default-deny", prod.byName("queen-vm-qemu"))).notApplicable).toBeDefined();
  });
});

describe("consul-gossip-encryption", () => {
  it("passes every node of every committed stack (the key is generated everywhere, dev included)", async () => {
    for (const s of [prod, dev]) {
      const hosts = s.byType("borg:index:NixosHost");
      expect(hosts.length).toBeGreaterThan(1);
      for (const r of hosts) expect((await run("consul-gossip-encryption", r)).violations, r.name).toEqual([]);
    }
  });

  it("fails gossip in clear, either verify side off, and a key file outside the secrets channel", async () => {
    const r = mutate(host, (i) => Object.assign(i.nodeConfig.services.consul.gossip, { encrypt: false, verifyIncoming: false, verifyOutgoing: false }));
    const result = await run("consul-gossip-encryption", r);
    expectViolation(result, "drone-1-nixos", "nodeConfig.services.consul.gossip.encrypt", /anyone on the LAN can join/);
    expectViolation(result, "drone-1-nixos", "nodeConfig.services.consul.gossip.verifyIncoming", /unencrypted gossip/);
    expectViolation(result, "drone-1-nixos", "nodeConfig.services.consul.gossip.verifyOutgoing");
    expect(result.violations).toHaveLength(3);
    // The config file names a path the secrets step never writes (e.g. a store path).
    const storePath = mutate(host, (i) => (i.nodeConfig.services.consul.secretConfigFile = "/nix/store/abc-consul-secrets.json"));
    expectViolation(await run("consul-gossip-encryption", storePath), "drone-1-nixos", "nodeConfig.services.consul.secretConfigFile", /Nix store or node.json/);
    const notDelivered = mutate(host, (i) => (i.nodeConfig.secrets.files = i.nodeConfig.secrets.files.filter((f: Obj) => f.name !== "consul-secrets.json")));
    expectViolation(await run("consul-gossip-encryption", notDelivered), "drone-1-nixos", "nodeConfig.services.consul.secretConfigFile");
  });

  it("fails a node with no gossip settings at all", async () => {
    const result = await run("consul-gossip-encryption", mutate(host, (i) => delete i.nodeConfig.services.consul.gossip));
    expectViolation(result, "drone-1-nixos", "nodeConfig.services.consul.gossip.encrypt");
  });

  it("ignores a node that does not run Consul, and other types", async () => {
    const off = mutate(host, (i) => Object.assign(i.nodeConfig.services.consul, { enable: false, gossip: { encrypt: false } }));
    expect((await run("consul-gossip-encryption", off)).violations).toEqual([]);
    expect((await run("consul-gossip-encryption", prod.byName("queen-vm-qemu"))).notApplicable).toBeDefined();
  });
});

describe("consul-tls-verify", () => {
  it("passes every prod node: TLS, all three verifications, files from the secrets channel, an https API", async () => {
    for (const r of prod.byType("borg:index:NixosHost")) expect((await run("consul-tls-verify", r)).violations, r.name).toEqual([]);
  });

  it("fails each verification turned off, by name", async () => {
    const r = mutate(host, (i) => Object.assign(i.nodeConfig.services.consul.tls, { verifyIncoming: false, verifyOutgoing: false, verifyServerHostname: false }));
    const result = await run("consul-tls-verify", r);
    expectViolation(result, "drone-1-nixos", "nodeConfig.services.consul.tls.verifyIncoming", /without a certificate of the CA/);
    expectViolation(result, "drone-1-nixos", "nodeConfig.services.consul.tls.verifyOutgoing");
    expectViolation(result, "drone-1-nixos", "nodeConfig.services.consul.tls.verifyServerHostname", /pose as a server/);
    expect(result.violations).toHaveLength(3);
  });

  it("fails a key that is not a delivered secret file, and a plaintext API on the LAN", async () => {
    const key = mutate(host, (i) => (i.nodeConfig.services.consul.tls.keyFile = "/etc/consul/key.pem"));
    expectViolation(await run("consul-tls-verify", key), "drone-1-nixos", "nodeConfig.services.consul.tls.keyFile", /not one of the node's secret files/);
    const queen = prod.byName("queen-nixos");
    const api = mutate(queen, (i) => (i.nodeConfig.services.consul.api.scheme = "http"));
    expectViolation(await run("consul-tls-verify", api), "queen-nixos", "nodeConfig.services.consul.api.scheme", /in clear/);
  });

  it("dev has no Consul TLS: the rule sees it, and the dev config disables the rule", async () => {
    const queen = dev.byName("queen-nixos");
    const result = await run("consul-tls-verify", queen);
    expectViolation(result, "queen-nixos", "nodeConfig.services.consul.tls", /in clear text/);
    expectViolation(result, "queen-nixos", "nodeConfig.services.consul.api.scheme");
    const devConfig = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, "policy", "config", "dev.json"), "utf8")) as EnforcementConfig;
    const report = await runPolicies(allPolicies, dev.plan.resources, devConfig);
    expect(report.ran).not.toContain("consul-tls-verify");
    expect(report.violations.filter((v) => v.policy === "consul-tls-verify")).toEqual([]);
  });

  it("ignores a node that does not run Consul, and other types", async () => {
    const off = mutate(host, (i) => Object.assign(i.nodeConfig.services.consul, { enable: false, tls: null }));
    expect((await run("consul-tls-verify", off)).violations).toEqual([]);
    expect((await run("consul-tls-verify", prod.byName("queen-vm-qemu"))).notApplicable).toBeDefined();
  });
});

describe("consul-no-global-management-token", () => {
  it("passes a token with a scoped policy", async () => {
    expect((await run("consul-no-global-management-token", webToken)).violations).toEqual([]);
  });

  it("fails global-management by name or by its fixed id, on a token or a role", async () => {
    expectViolation(await run("consul-no-global-management-token", mutate(webToken, (i) => i.policies.push("global-management"))), "web-token", "policies[1]", /full management credential/);
    const byId = mutate(webToken, (i) => (i.policies = ["00000000-0000-0000-0000-000000000001"]));
    expectViolation(await run("consul-no-global-management-token", byId), "web-token", "policies[0]");
    const role = plan(T.role, "ops", { name: "ops", policies: ["global-management"] });
    expectViolation(await run("consul-no-global-management-token", role), "ops", "policies[0]", /role makes every token/);
  });

  it("allows the bootstrap token only through an exemption with a reason", async () => {
    const bootstrap = plan(T.token, "bootstrap", { description: "ACL bootstrap", policies: ["global-management"] });
    expectViolation(await run("consul-no-global-management-token", bootstrap), "bootstrap", "policies[0]");
    const config = { "consul-no-global-management-token": { exemptions: [{ resource: "bootstrap", reason: "bootstrap token, revoked after setup" }] } };
    const exempt = await run("consul-no-global-management-token", bootstrap, config);
    expect(exempt.violations).toEqual([]);
    expect(exempt.notApplicable).toBe("exempt: bootstrap token, revoked after setup");
    // the exemption names one resource: another token with the same policy still fails
    expectViolation(await run("consul-no-global-management-token", mutate(webToken, (i) => (i.policies = ["global-management"])), config), "web-token", "policies[0]");
  });

  it("does not judge other types", async () => {
    expect((await run("consul-no-global-management-token", webPolicy)).notApplicable).toBeDefined();
  });
});

describe("consul-no-wildcard-write", () => {
  it("passes scoped writes and wildcard reads", async () => {
    expect((await run("consul-no-wildcard-write", webPolicy)).violations).toEqual([]);
  });

  it.each([
    ['key_prefix "" {\n  policy = "write"\n}', /write on key_prefix ""/],
    ['node_prefix "" { policy = "write" }', /write on node_prefix ""/],
    ['service_prefix "" {\n  policy = "read"\n  intentions = "write"\n}', /intentions = "write" on service_prefix ""/],
    ['key "*" { policy = "write" }', /write on key "\*"/],
    ['operator = "write"', /operator = "write"/],
    ['acl = "write"', /acl = "write"/],
  ])("fails %j", async (rules, problem) => {
    const r = mutate(webPolicy, (i) => (i.rules = `${i.rules}\n${rules}`));
    expectViolation(await run("consul-no-wildcard-write", r), "web", "rules (line 14)", problem);
  });

  it("reads JSON rules too", async () => {
    const r = mutate(webPolicy, (i) => (i.rules = JSON.stringify({ key_prefix: { "": { policy: "write" } }, operator: "read" })));
    expectViolation(await run("consul-no-wildcard-write", r), "web", "rules", /write on key_prefix ""/);
  });

  it("ignores commented-out rules", async () => {
    const r = mutate(webPolicy, (i) => (i.rules = `${i.rules}\n# key_prefix "" { policy = "write" }\n/* operator = "write" */`));
    expect((await run("consul-no-wildcard-write", r)).violations).toEqual([]);
  });

  it("allows policies named in adminPolicies", async () => {
    const admin = plan(T.policy, "operators", { name: "operators", rules: 'operator = "write"\nkey_prefix "" { policy = "write" }' });
    expect((await run("consul-no-wildcard-write", admin)).violations).toHaveLength(2);
    expect((await run("consul-no-wildcard-write", admin, { "consul-no-wildcard-write": { adminPolicies: ["operators"] } })).violations).toEqual([]);
  });

  it("does not judge other types", async () => {
    expect((await run("consul-no-wildcard-write", webToken)).notApplicable).toBeDefined();
  });
});

describe("consul-intentions-default-deny", () => {
  it("passes named sources and a * deny", async () => {
    expect((await run("consul-intentions-default-deny", webIntentions)).violations).toEqual([]);
  });

  it("fails * → service allow", async () => {
    const r = mutate(webIntentions, (i) => (i.sources[1].action = "allow"));
    expectViolation(await run("consul-intentions-default-deny", r), "web", "sources[1].action", /\* → web/);
  });

  it("fails a ServiceIntentions named * allowing *", async () => {
    const r = plan(T.intentions, "allow-all", { name: "*", sources: [{ name: "*", action: "allow" }] });
    expectViolation(await run("consul-intentions-default-deny", r), "allow-all", "sources[0].action", /every service may connect to every service/);
  });

  it("fails the same through a legacy Intention or a generic service-intentions ConfigEntry", async () => {
    const legacy = plan(T.intention, "legacy", { sourceName: "*", destinationName: "db", action: "allow" });
    expectViolation(await run("consul-intentions-default-deny", legacy), "legacy", "action");
    const entry = plan(T.configEntry, "entry", { kind: "service-intentions", name: "*", configJson: JSON.stringify({ Sources: [{ Name: "*", Action: "allow" }] }) });
    expectViolation(await run("consul-intentions-default-deny", entry), "entry", "configJson.Sources[0].Action");
    const defaults = plan(T.configEntry, "defaults", { kind: "service-defaults", name: "web", configJson: JSON.stringify({ Protocol: "http" }) });
    expect((await run("consul-intentions-default-deny", defaults)).violations).toEqual([]);
  });

  it("does not judge other types", async () => {
    expect((await run("consul-intentions-default-deny", webToken)).notApplicable).toBeDefined();
  });
});

describe("consul-provider-https", () => {
  it("passes https by scheme or by address", async () => {
    expect((await run("consul-provider-https", provider)).violations).toEqual([]);
    const byAddress = mutate(provider, (i) => (delete i.scheme, (i.address = "https://consul.hive.lan:8501")));
    expect((await run("consul-provider-https", byAddress)).violations).toEqual([]);
  });

  it("fails scheme http", async () => {
    expectViolation(await run("consul-provider-https", mutate(provider, (i) => (i.scheme = "http"))), "borg-consul", "scheme", /clear text/);
  });

  it("fails an http:// address and an unset scheme (defaults to http)", async () => {
    expectViolation(await run("consul-provider-https", mutate(provider, (i) => (i.address = "http://consul.hive.lan:8500"))), "borg-consul", "address", /clear text/);
    expectViolation(await run("consul-provider-https", mutate(provider, (i) => delete i.scheme)), "borg-consul", "scheme", /not set/);
  });

  it.each([true, "true"])("fails insecureHttps: %j", async (value) => {
    expectViolation(await run("consul-provider-https", mutate(provider, (i) => (i.insecureHttps = value))), "borg-consul", "insecureHttps", /does not verify/);
  });

  it("does not judge other types", async () => {
    expect((await run("consul-provider-https", prod.byName("borg-proxmox"))).notApplicable).toBeDefined();
  });
});

describe("infra-insecure.json", () => {
  it("trips every Consul rule", async () => {
    const fixture = JSON.parse(fs.readFileSync(FIXTURE, "utf8")) as { resources: PlanResource[] };
    const report = await runPolicies(consulPolicies, fixture.resources, { all: "mandatory" });
    const tripped = new Set(report.violations.map((v) => v.policy));
    expect(NAMES.filter((n) => !tripped.has(n))).toEqual([]);
  });
});
