// The remote-command policies over the real prod plan: the synthesized deploy steps (ready,
// bundle, secrets, activate, confirm) pass; mutated copies fail with a message naming the
// resource, the field and the fix; other types are not judged. Values are tested both as the
// offline plan shows them ("[secret]") and unwrapped, as a real `pulumi preview` passes them.
import type { ResourceValidationPolicy } from "@pulumi/policy";
import * as fs from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { remoteCommandPolicies } from "../../policy/remote/index.ts";
import { runPolicies, runResourcePolicy, type EnforcementConfig, type PlanResource, type SingleRun } from "../../scripts/lib/policyRunner.js";
import { synth, type Synth } from "../helpers.js";
import { mutate, expectViolation, INFRA_FIXTURE } from "./harness.js";

const NAMES = ["remote-host-key-pinned", "remote-key-auth-only", "remote-bounded-dial", "remote-secrets-on-stdin", "remote-no-secret-literals"];
const FIXTURE = INFRA_FIXTURE;
const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFKlVAYEfvI1rqHpDSNjnEIIOw+T0az8PUEWYmiJWTpY";

const policy = (name: string): ResourceValidationPolicy => {
  const p = remoteCommandPolicies.find((q) => q.name === name);
  if (!p) throw new Error(`no policy ${name}`);
  return p;
};
const run = (name: string, r: PlanResource, config: EnforcementConfig = {}) => runResourcePolicy(policy(name), r, config);
/** The connection as a real preview passes it: unwrapped values. */
const unwrapped = (r: PlanResource) =>
  mutate(r, (i) => {
    i.connection = { host: "10.42.0.10", port: 22, user: "borg", privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\n…", hostKey: HOST_KEY, dialErrorLimit: 5, perDialTimeout: 15 };
  });

let prod: Synth;
let ready: PlanResource;
let bundle: PlanResource;
let secrets: PlanResource;
let activate: PlanResource;
let vm: PlanResource;
let remote: PlanResource[];
beforeAll(async () => {
  prod = await synth("prod");
  ready = prod.byName("queen-nixos-ready");
  bundle = prod.byName("queen-nixos-bundle");
  secrets = prod.byName("queen-nixos-secrets");
  activate = prod.byName("queen-nixos-activate");
  vm = prod.byName("queen-vm-qemu");
  remote = prod.plan.resources.filter((r) => r.type.startsWith("command:remote:"));
});

describe("the committed prod plan", () => {
  it("has every node's deploy steps", () => {
    for (const node of ["queen", "drone-1", "drone-2", "drone-3", "edge-pi"]) {
      for (const step of ["ready", "bundle", "secrets", "activate", "confirm"]) expect(remote.map((r) => r.name)).toContain(`${node}-nixos-${step}`);
    }
    expect(prod.byType("command:remote:CopyToRemote")).toHaveLength(5);
  });

  it.each(NAMES)("%s: zero violations on every resource", async (name) => {
    for (const r of prod.plan.resources) expect((await run(name, r)).violations, r.name).toEqual([]);
  });

  it.each(NAMES)("%s: zero violations with the connections unwrapped (as a real preview sees them)", async (name) => {
    for (const r of remote) expect((await run(name, unwrapped(r))).violations, r.name).toEqual([]);
  });

  it("every rule is exported once, named and described", () => {
    expect(remoteCommandPolicies.map((p) => p.name)).toEqual(NAMES);
  });
});

describe("remote-host-key-pinned", () => {
  it("passes Commands and CopyToRemote with a pinned key", async () => {
    for (const r of [ready, bundle, activate]) expect((await run("remote-host-key-pinned", r)).violations).toEqual([]);
  });

  it("fails a connection without hostKey (Command and CopyToRemote)", async () => {
    for (const r of [activate, bundle]) {
      expectViolation(await run("remote-host-key-pinned", mutate(r, (i) => delete i.connection.hostKey)), r.name, "connection.hostKey", /not verified/);
      expectViolation(await run("remote-host-key-pinned", mutate(r, (i) => (i.connection.hostKey = ""))), r.name, "connection.hostKey");
    }
  });

  it("fails a hostKey that is a fingerprint rather than the key line", async () => {
    const result = await run("remote-host-key-pinned", mutate(unwrapped(activate), (i) => (i.connection.hostKey = "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s")));
    expectViolation(result, "queen-nixos-activate", "connection.hostKey", /not an OpenSSH public key/);
  });

  it("fails a proxy (bastion) without a host key", async () => {
    const result = await run("remote-host-key-pinned", mutate(unwrapped(activate), (i) => (i.connection.proxy = { host: "bastion", user: "borg", privateKey: "k" })));
    expectViolation(result, "queen-nixos-activate", "connection.proxy.hostKey");
  });

  it("fails a resource without a connection", async () => {
    expectViolation(await run("remote-host-key-pinned", mutate(activate, (i) => delete i.connection)), "queen-nixos-activate", "connection", /missing/);
  });

  it("does not judge other types", async () => {
    expect((await run("remote-host-key-pinned", vm)).notApplicable).toBeDefined();
  });
});

describe("remote-key-auth-only", () => {
  it("passes private-key and agent-socket connections", async () => {
    expect((await run("remote-key-auth-only", activate)).violations).toEqual([]);
    const agent = mutate(unwrapped(activate), (i) => {
      delete i.connection.privateKey;
      i.connection.agentSocketPath = "/run/user/1000/ssh-agent.sock";
    });
    expect((await run("remote-key-auth-only", agent)).violations).toEqual([]);
  });

  it("fails a password, shown as [secret] or unwrapped", async () => {
    for (const password of ["[secret]", "hunter2"]) {
      const result = await run("remote-key-auth-only", mutate(activate, (i) => (i.connection.password = password)));
      expectViolation(result, "queen-nixos-activate", "connection.password", /logs in with a password/);
    }
  });

  it("fails a connection with no key and no agent", async () => {
    const result = await run("remote-key-auth-only", mutate(bundle, (i) => delete i.connection.privateKey));
    expectViolation(result, "queen-nixos-bundle", "connection.privateKey", /no key/);
  });

  it("fails a password on the proxy", async () => {
    const result = await run("remote-key-auth-only", mutate(unwrapped(activate), (i) => (i.connection.proxy = { host: "bastion", user: "borg", password: "pw", hostKey: HOST_KEY })));
    expectViolation(result, "queen-nixos-activate", "connection.proxy.password");
  });

  it("does not judge other types", async () => {
    expect((await run("remote-key-auth-only", vm)).notApplicable).toBeDefined();
  });
});

describe("remote-bounded-dial", () => {
  it("passes set limits, shown as [secret], as numbers or as numeric strings", async () => {
    expect((await run("remote-bounded-dial", ready)).violations).toEqual([]);
    expect((await run("remote-bounded-dial", mutate(unwrapped(ready), (i) => Object.assign(i.connection, { dialErrorLimit: 30, perDialTimeout: 10 })))).violations).toEqual([]);
    expect((await run("remote-bounded-dial", mutate(unwrapped(ready), (i) => Object.assign(i.connection, { dialErrorLimit: "100", perDialTimeout: "120" })))).violations).toEqual([]);
  });

  it("fails missing limits (the provider defaults)", async () => {
    const result = await run("remote-bounded-dial", mutate(ready, (i) => (delete i.connection.dialErrorLimit, delete i.connection.perDialTimeout)));
    expectViolation(result, "queen-nixos-ready", "connection.dialErrorLimit", /not set/);
    expectViolation(result, "queen-nixos-ready", "connection.perDialTimeout", /not set/);
  });

  it("fails unlimited retries and no per-dial timeout", async () => {
    const result = await run("remote-bounded-dial", mutate(unwrapped(bundle), (i) => Object.assign(i.connection, { dialErrorLimit: -1, perDialTimeout: 0 })));
    expectViolation(result, "queen-nixos-bundle", "connection.dialErrorLimit", /-1 means unlimited/);
    expectViolation(result, "queen-nixos-bundle", "connection.perDialTimeout", /0 means no timeout/);
  });

  it("fails limits above the bounds", async () => {
    const result = await run("remote-bounded-dial", mutate(unwrapped(ready), (i) => Object.assign(i.connection, { dialErrorLimit: 1000, perDialTimeout: 600 })));
    expectViolation(result, "queen-nixos-ready", "connection.dialErrorLimit", /outside 1\.\.100/);
    expectViolation(result, "queen-nixos-ready", "connection.perDialTimeout", /outside 1\.\.120/);
  });

  it("does not judge other types", async () => {
    expect((await run("remote-bounded-dial", vm)).notApplicable).toBeDefined();
  });
});

describe("remote-secrets-on-stdin", () => {
  it("passes the secrets step (stdin secret, logging none, stdout/stderr secret)", async () => {
    expect(secrets.inputs.stdin).toBe("[secret]");
    expect((await run("remote-secrets-on-stdin", secrets)).violations).toEqual([]);
  });

  it("does not ask anything of a command whose stdin is a plain script", async () => {
    expect(ready.inputs.logging).toBeUndefined();
    expect((await run("remote-secrets-on-stdin", ready)).violations).toEqual([]);
  });

  it("fails logging left on", async () => {
    expectViolation(await run("remote-secrets-on-stdin", mutate(secrets, (i) => (i.logging = "stdoutAndStderr"))), "queen-nixos-secrets", "logging", /"stdoutAndStderr"/);
    expectViolation(await run("remote-secrets-on-stdin", mutate(secrets, (i) => delete i.logging)), "queen-nixos-secrets", "logging", /not set/);
  });

  it("fails stdout/stderr not marked secret", async () => {
    const result = await run("remote-secrets-on-stdin", mutate(secrets, (_i, r) => (r.additionalSecretOutputs = ["connection", "stderr"])));
    expectViolation(result, "queen-nixos-secrets", "opts.additionalSecretOutputs", /lacks stdout/);
  });

  it("recognises a secrets command with its stdin unwrapped (real preview): by its create text", async () => {
    const real = mutate(secrets, (i, r) => {
      i.stdin = '{"files":[{"name":"k3s-token","data":"…"}]}';
      delete i.logging;
      r.additionalSecretOutputs = [];
    });
    const result = await run("remote-secrets-on-stdin", real);
    expectViolation(result, "queen-nixos-secrets", "logging");
    expectViolation(result, "queen-nixos-secrets", "opts.additionalSecretOutputs");
  });

  it("does not judge CopyToRemote or other types", async () => {
    expect((await run("remote-secrets-on-stdin", bundle)).notApplicable).toBeDefined();
    expect((await run("remote-secrets-on-stdin", vm)).notApplicable).toBeDefined();
  });
});

describe("remote-no-secret-literals", () => {
  it("passes the prod commands (paths with content hashes are not blobs)", async () => {
    expect(activate.inputs.create).toMatch(/\/staging\/[0-9a-f]{64}\//);
    for (const r of remote) expect((await run("remote-no-secret-literals", r)).violations, r.name).toEqual([]);
  });

  it("passes a command that installs a public key", async () => {
    const r = mutate(activate, (i) => (i.create = `echo '${HOST_KEY} operator@workstation' >> ~/.ssh/authorized_keys`));
    expect((await run("remote-no-secret-literals", r)).violations).toEqual([]);
  });

  it("fails a password in create, update or delete", async () => {
    const r = mutate(activate, (i) => Object.assign(i, { create: "mysql -u root --password=S3cretPassw0rd", delete: "curl https://admin:hunter22@nas.hive.lan/api/stop" }));
    const result = await run("remote-no-secret-literals", r);
    expectViolation(result, "queen-nixos-activate", "create", /credential assignment/);
    expectViolation(result, "queen-nixos-activate", "delete", /URL with an embedded password/);
  });

  it("fails a create marked secret (the command line carries a secret)", async () => {
    expectViolation(await run("remote-no-secret-literals", mutate(activate, (i) => (i.update = "[secret]"))), "queen-nixos-activate", "update", /command line itself carries a secret/);
  });

  it("fails a credential-named environment variable, a secret value and a literal in env", async () => {
    const r = mutate(activate, (i) => {
      i.environment = { K3S_TOKEN: "abc", SSH_KEY: "x", HOME_DIR: "[secret]", NOTE: "-----BEGIN RSA PRIVATE KEY-----", LANG: "C.UTF-8" };
    });
    const result = await run("remote-no-secret-literals", r);
    expectViolation(result, "queen-nixos-activate", "environment.K3S_TOKEN", /named like a credential/);
    expectViolation(result, "queen-nixos-activate", "environment.SSH_KEY", /named like a credential/);
    expectViolation(result, "queen-nixos-activate", "environment.HOME_DIR", /secret value in the environment/);
    expectViolation(result, "queen-nixos-activate", "environment.NOTE", /PEM private key/);
    expect(result.violations.some((v) => v.includes("environment.LANG"))).toBe(false);
  });

  it("fails a secret inside a copied inline asset", async () => {
    const r = mutate(bundle, (i) => (i.source = { assets: { "secrets.env": { text: "password=Tr0ub4dor&3x" } } }));
    expectViolation(await run("remote-no-secret-literals", r), "queen-nixos-bundle", 'source.assets["secrets.env"].text', /credential assignment/);
  });

  it("does not judge other types", async () => {
    expect((await run("remote-no-secret-literals", vm)).notApplicable).toBeDefined();
  });
});

describe("infra-insecure.json", () => {
  it("trips every remote-command rule", async () => {
    const plan = JSON.parse(fs.readFileSync(FIXTURE, "utf8")) as { resources: PlanResource[] };
    const report = await runPolicies(remoteCommandPolicies, plan.resources, { all: "mandatory" });
    const tripped = new Set(report.violations.map((v) => v.policy));
    expect(NAMES.filter((n) => !tripped.has(n))).toEqual([]);
  });
});
