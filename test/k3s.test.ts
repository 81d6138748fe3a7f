// K3s on the collective: config rules, per-node settings, the K3s component in the committed
// plans (tokens, guards, gates, kubeconfig export), the kubeconfig rewrite checked by the real
// kubectl, and the Nix side (pure flags, and the module's wiring and version pin on a stub lib).
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { beforeAll, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../components/bundle.js";
import { validateConfig, type CollectiveSpec } from "../components/config/validate.js";
import { K3S_DISABLED, k3sRoles, k3sSettingsFor } from "../components/services/k3s.js";
import { rewriteKubeconfig } from "../components/services/kubeconfig.js";
import { STACKS, stackFile, stackValues, synth, synthFresh, tempDir, toStackConfig, transitiveDependencies, type Synth, specOf } from "./helpers.js";

const FIXTURE = fs.readFileSync(path.join(PROJECT_ROOT, "test", "fixtures", "k3s.yaml"), "utf8");
const NIX = ["--option", "build-users-group", ""];

function problemsOf(stack: string, edit: (c: Record<string, any>) => void): string[] {
  const raw: Record<string, any> = { ...stackValues(stack), sshPrivateKey: "<set>", proxmoxApiToken: "<set>" };
  edit(raw);
  const result = validateConfig(raw);
  return result.ok ? [] : result.problems;
}
const spec = specOf;
const settings = (s: CollectiveSpec, name: string) => k3sSettingsFor(s, s.nodes.find((n) => n.name === name)!);

describe("borg:services.k3s.servers and the CIDRs", () => {
  it("defaults to the queen alone; prod runs three servers", () => {
    expect(spec("dev").services.k3s.servers).toEqual(["queen"]);
    expect(spec("prod").services.k3s.servers).toEqual(["queen", "drone-1", "drone-2"]);
  });

  it.each([
    ["an even count", (c: any) => (c.services.k3s.servers = ["queen", "drone-1"]), "borg:services.k3s.servers: has 2 servers; embedded etcd needs an odd number"],
    ["a node that does not exist", (c: any) => (c.services.k3s.servers = ["queen", "drone-1", "drone-9"]), "borg:services.k3s.servers[2]: 'drone-9' is not the queen or a drone"],
    ["the edge Pi", (c: any) => (c.services.k3s.servers = ["queen", "drone-1", "edge-pi"]), "borg:services.k3s.servers[2]: 'edge-pi' is not the queen or a drone"],
    ["a repeated server", (c: any) => (c.services.k3s.servers = ["queen", "drone-1", "drone-1"]), "borg:services.k3s.servers[2]: 'drone-1' is listed twice"],
    ["the queen not first", (c: any) => (c.services.k3s.servers = ["drone-1", "queen", "drone-2"]), "borg:services.k3s.servers[0]: is 'drone-1'; list the queen ('queen') first"],
    ["a bad API address", (c: any) => (c.services.k3s.apiAddress = "https://k8s"), "borg:services.k3s.apiAddress: must be a DNS name or IPv4 address"],
    ["a pod CIDR too small for the nodes", (c: any) => (c.services.k3s.podCidr = "10.244.0.0/23"), "borg:services.k3s.podCidr: 10.244.0.0/23 holds 2 node subnets (/24 each) but 4 nodes run K3s"],
    ["a service CIDR too small", (c: any) => (c.services.k3s.serviceCidr = "10.96.0.0/29"), "borg:services.k3s.serviceCidr: 10.96.0.0/29 must be a /12 to /24 network"],
  ])("rejects %s, naming the config path", (_what, edit, expected) => {
    const problems = problemsOf("prod", edit);
    expect(problems.some((p) => p.includes(expected)), problems.join("\n")).toBe(true);
  });

  it("a disabled K3s is not judged", () => {
    expect(problemsOf("prod", (c) => (c.services.k3s = { enabled: false, servers: ["queen", "drone-1"] }))).toEqual([]);
  });
});

describe("per-node settings (node.json services.k3s)", () => {
  const prod = spec("prod");
  const dev = spec("dev");

  it("HA: the queen initialises embedded etcd, the other servers join it, agents join it too", () => {
    expect(settings(prod, "queen")).toMatchObject({ role: "server", serverAddr: null, clusterInit: true, etcd: true, secretsEncryption: true, disable: [...K3S_DISABLED] });
    expect(settings(prod, "drone-1")).toMatchObject({ role: "server", serverAddr: "https://10.42.0.10:6443", clusterInit: false, etcd: true });
    expect(settings(prod, "drone-3")).toMatchObject({ role: "agent", serverAddr: "https://10.42.0.10:6443", etcd: false, secretsEncryption: false, disable: [] });
    expect(k3sRoles(settings(prod, "queen"))).toEqual(["k3s-server", "k3s-etcd"]);
    expect(k3sRoles(settings(prod, "drone-3"))).toEqual(["k3s-agent"]);
  });

  it("one server: SQLite, no cluster-init, no etcd port", () => {
    expect(settings(dev, "queen")).toMatchObject({ role: "server", clusterInit: false, etcd: false });
    expect(k3sRoles(settings(dev, "queen"))).toEqual(["k3s-server"]);
  });

  it("node IP, validated CIDRs, cluster DNS inside the service network, capability labels only", () => {
    const d3 = settings(prod, "drone-3");
    expect(d3).toMatchObject({ nodeName: "drone-3", nodeIp: "10.42.0.13", podCidr: "10.244.0.0/16", serviceCidr: "10.96.0.0/16", clusterDns: "10.96.0.10", clusterDomain: "cluster.local" });
    expect(d3.nodeLabels).toEqual(["borg.io/gpu=true", "borg.io/high-memory=true"]);
    for (const n of prod.nodes) for (const l of settings(prod, n.name).nodeLabels) expect(l).not.toMatch(/node-role\.kubernetes\.io/);
    expect(d3.kernelModules).toEqual(["rbd"]);
  });

  it("tokens by path only: servers get both, agents only the agent token; never on the edge Pi", () => {
    expect(settings(prod, "queen")).toMatchObject({ tokenFile: "/var/lib/borg/secrets/k3s-token", agentTokenFile: "/var/lib/borg/secrets/k3s-agent-token" });
    expect(settings(prod, "drone-3")).toMatchObject({ tokenFile: "/var/lib/borg/secrets/k3s-agent-token", agentTokenFile: null });
    expect(settings(prod, "edge-pi")).toMatchObject({ enable: false, role: null, tokenFile: null, kernelModules: [] });
  });

  it("a configured API address goes into the servers' certificate", () => {
    const s = spec("prod", (c) => (c.services.k3s.apiAddress = "k8s.hive.lan"));
    expect(settings(s, "drone-1").tlsSans).toEqual(["k8s.hive.lan"]);
    expect(settings(s, "drone-3").tlsSans).toEqual([]);
  });
});

describe("the K3s component in the committed plans", () => {
  let prod: Synth;
  let dev: Synth;
  beforeAll(async () => {
    prod = await synth("prod");
    dev = await synth("dev");
  });
  const deps = (s: Synth, name: string) => s.byName(name).dependencies.map(s.nameOf);
  const onNode = (s: Synth, name: string) => String(s.byName(name).inputs.create).match(/\/var\/lib\/borg\/bundles\/([0-9a-f]{64})\//)?.[1];
  const bundleOf = (s: Synth, node: string) => s.byName(`${node}-nixos`).inputs.bundleHash;

  it("one borg:index:K3s with its tokens and steps as children", () => {
    const k3s = prod.byType("borg:index:K3s");
    expect(k3s).toHaveLength(1);
    for (const child of ["borg-k3s-token", "borg-k3s-agent-token", "borg-k3s-ready-queen", "borg-k3s-nodes-ready", "borg-k3s-kubeconfig"]) {
      expect(prod.byName(child).parent, child).toBe(k3s[0]!.urn);
    }
    expect(prod.byName("borg-k3s-token").inputs).toMatchObject({ length: 48, special: false });
  });

  it("tokens travel only in the secrets step, never in node.json", () => {
    expect(deps(prod, "queen-nixos-secrets")).toEqual(expect.arrayContaining(["borg-k3s-token", "borg-k3s-agent-token"]));
    expect(deps(prod, "drone-3-nixos-secrets")).toContain("borg-k3s-agent-token");
    expect(deps(prod, "drone-3-nixos-secrets")).not.toContain("borg-k3s-token");
    expect(deps(prod, "edge-pi-nixos-secrets")).not.toContain("borg-k3s-agent-token");
    // (Other services' files are theirs to test.)
    const files = (node: string) =>
      (prod.byName(`${node}-nixos`).inputs as any).nodeConfig.secrets.files.map((f: { name: string }) => f.name).filter((n: string) => !n.startsWith("mqtt-") && !n.startsWith("consul-") && !n.startsWith("nats-") && !n.startsWith("ceph-"));
    expect(files("queen")).toEqual(["ssh_host_ed25519_key", "k3s-token", "k3s-agent-token"]);
    expect(files("drone-3")).toEqual(["ssh_host_ed25519_key", "k3s-agent-token"]);
  });

  it("an agent is cordoned and uncordoned through the first server, around its own switch", () => {
    const before = "drone-3-nixos-guard-k3s-before";
    const after = "drone-3-nixos-guard-k3s-after";
    expect(onNode(prod, before)).toBe(bundleOf(prod, "queen"));
    expect(prod.byName(before).inputs.create).toMatch(/node-scripts\/services\/k3s-guard\.sh drone-3 cordon$/);
    expect(prod.byName(after).inputs.create).toMatch(/k3s-guard\.sh drone-3 uncordon borg\.io\/gpu=true borg\.io\/high-memory=true$/);
    expect(deps(prod, "drone-3-nixos-activate")).toContain(before);
    // after the confirm (and the guards of services before K3s in the chain, e.g. Ceph's)
    expect([...transitiveDependencies(prod.plan.resources, prod.byName(after).urn)].map(prod.nameOf)).toContain("drone-3-nixos-confirm");
    // a failed confirm says the node stays cordoned and how to undo it
    expect(prod.byName("drone-3-nixos-confirm").inputs.create).toContain("node drone-3 stays cordoned");
  });

  it("servers switch one at a time: each waits for the previous server's full deploy, even without lanes", () => {
    for (const s of [prod, dev]) {
      const servers = s === prod ? ["queen", "drone-1", "drone-2"] : ["queen"];
      expect(s.byName("queen-nixos-guard-k3s-before").inputs.create).toMatch(/staging\/[0-9a-f]{64}\/node-scripts\/services\/k3s-guard\.sh queen cordon-self$/);
      for (let i = 1; i < servers.length; i++) {
        const guard = `${servers[i]}-nixos-guard-k3s-before`;
        expect(onNode(s, guard)).toBe(bundleOf(s, servers[i - 1]!));
        // (other services' guards may follow the K3s one in the previous server's deploy)
        expect(transitiveDependencies(s.plan.resources, s.byName(guard).urn)).toContain(s.byName(`${servers[i - 1]}-nixos-guard-k3s-after`).urn);
      }
    }
  });

  it("gates: /readyz on every server; every K3s node Ready with its labels, after every deploy", () => {
    for (const server of ["queen", "drone-1", "drone-2"]) {
      expect(onNode(prod, `borg-k3s-ready-${server}`)).toBe(bundleOf(prod, server));
      expect(prod.byName(`borg-k3s-ready-${server}`).inputs.create).toMatch(new RegExp(`k3s-gate\\.sh ${server} readyz$`));
    }
    const gate = prod.byName("borg-k3s-nodes-ready");
    expect(gate.inputs.create).toMatch(/k3s-gate\.sh queen nodes queen drone-1 drone-2,borg\.io\/high-memory=true drone-3,borg\.io\/gpu=true,borg\.io\/high-memory=true$/);
    expect(gate.inputs.create).not.toMatch(/edge-pi/);
    const waits = transitiveDependencies(prod.plan.resources, gate.urn);
    for (const node of ["queen", "drone-1", "drone-2", "drone-3"]) expect(waits).toContain(prod.byName(`${node}-nixos-guard-k3s-after`).urn);
    expect(waits).not.toContain(prod.byName("edge-pi-nixos-confirm").urn);
  });

  it("the kubeconfig step prints a secret: logging off, outputs secret; the export is secret, the URL plain", () => {
    const step = prod.byName("borg-k3s-kubeconfig");
    expect(step.inputs.logging).toBe("none");
    expect(step.additionalSecretOutputs).toEqual(expect.arrayContaining(["stdout", "stderr"]));
    expect(deps(prod, "borg-k3s-kubeconfig")).toContain("borg-k3s-nodes-ready");
    expect(prod.plan.outputs.kubeconfig).toBe("[secret]");
    expect(prod.plan.outputs.k3sApiUrl).toBe("https://10.42.0.10:6443");
  });
});

describe("every committed stack runs K3s", () => {
  it.each(STACKS)("%s: the K3s component, its tokens, gates and kubeconfig; no K3s step on the edge Pi", async (stack) => {
    const s = await synth(stack);
    expect(s.byType("borg:index:K3s")).toHaveLength(1);
    for (const name of ["borg-k3s-token", "borg-k3s-agent-token", "borg-k3s-ready-queen", "borg-k3s-nodes-ready", "borg-k3s-kubeconfig", "queen-nixos-guard-k3s-before"]) {
      expect(s.byName(name).name).toBe(name);
    }
    expect(s.plan.resources.filter((r) => r.name.startsWith("edge-pi-nixos-guard-k3s"))).toEqual([]);
    expect(s.plan.outputs).toMatchObject({ kubeconfig: "[secret]", k3sApiUrl: expect.stringMatching(/^https:\/\/10\.42\.\d+\.10:6443$/) });
  });
});

describe("K3s disabled", () => {
  it("creates nothing K3s: no component, tokens, guards, gates, token files, K3s ports or export", async () => {
    const values = stackValues("prod");
    values.services.k3s = { enabled: false };
    const s = await synthFresh(toStackConfig("prod", values));
    expect(s.plan.resources.filter((r) => /k3s/.test(r.name) || r.type === "borg:index:K3s").map((r) => r.name)).toEqual([]);
    for (const host of s.byType("borg:index:NixosHost")) {
      const config = (host.inputs as any).nodeConfig;
      expect(config.services.k3s.enable, host.name).toBe(false);
      expect(config.roles.filter((r: string) => r.startsWith("k3s-")), host.name).toEqual([]);
      expect(config.secrets.files.map((f: { name: string }) => f.name), host.name).not.toContain("k3s-agent-token");
    }
    expect(s.plan.outputs.kubeconfig).toBeUndefined();
  }, 60_000);
});

describe("K3s secrets stay in the secrets channel (secrets revealed, test-only capture)", () => {
  it("the tokens reach only the secrets steps' stdin of the nodes that need them; the admin key only the secret export", async () => {
    const { runProgram } = await import("../scripts/lib/mockedProgram.js");
    const { readStackFile } = await import("../scripts/lib/stackFile.js");
    const { values } = readStackFile(stackFile("prod"));
    const config = { ...values, "borg:sshPrivateKey": "<secret:borg:sshPrivateKey>", "borg:proxmoxApiToken": "<secret:borg:proxmoxApiToken>" };
    const run = await runProgram({ stack: "prod", config, secretKeys: ["borg:sshPrivateKey", "borg:proxmoxApiToken"], bundleRoot: tempDir(), revealSecrets: true });
    const token = "<secret:random:borg-k3s-token>";
    const agentToken = "<secret:random:borg-k3s-agent-token>";
    const adminKey = "<secret:k3s-admin-key:borg-k3s-kubeconfig>";
    // install-secrets.sh records carry the content base64-encoded
    const forms = (canary: string) => [canary, Buffer.from(canary).toString("base64")];
    const where = (canary: string) =>
      run.resources
        .filter((r) => forms(canary).some((f) => JSON.stringify(r.inputs).includes(f)))
        .map((r) => {
          const hit = Object.entries(r.inputs).filter(([, v]) => forms(canary).some((f) => JSON.stringify(v).includes(f)));
          return `${r.name}.${hit.map(([k]) => k).join(",")}`;
        })
        .sort();
    expect(where(token)).toEqual(["drone-1-nixos-secrets.stdin", "drone-2-nixos-secrets.stdin", "queen-nixos-secrets.stdin"]);
    expect(where(agentToken)).toEqual(["drone-1-nixos-secrets.stdin", "drone-2-nixos-secrets.stdin", "drone-3-nixos-secrets.stdin", "queen-nixos-secrets.stdin"]);
    for (const name of ["queen-nixos-secrets", "drone-3-nixos-secrets"]) {
      const step = run.resources.find((r) => r.name === name)!;
      expect(step.inputs.logging).toBe("none");
      expect(step.additionalSecretOutputs).toEqual(expect.arrayContaining(["stdout", "stderr"]));
    }
    expect(where(adminKey)).toEqual([]);
    // the admin key leaves the step only as the kubeconfig export, which is a secret output
    expect(run.outputs.kubeconfig).toBe("[secret]");
    const redacted = await synth("prod");
    expect(redacted.plan.outputs.kubeconfig).toBe("[secret]");
    expect(JSON.stringify(redacted.plan)).not.toContain("<secret:random:borg-k3s");
  }, 120_000);
});

describe("the exported kubeconfig, checked by the real kubectl", () => {
  const kubectl = (file: string, ...args: string[]) =>
    execFileSync("kubectl", ["config", "view", "--kubeconfig", file, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: tempDir() } });

  it("points at the API address, keeps the CA and the client credentials, under the stack's name", () => {
    const dir = tempDir();
    const file = path.join(dir, "borg");
    fs.writeFileSync(file, rewriteKubeconfig(FIXTURE, { server: "https://10.42.0.10:6443", name: "borg-prod" }), { mode: 0o600 });
    const view = JSON.parse(kubectl(file, "--raw", "-o", "json"));
    const original = parse(FIXTURE);
    expect(view["current-context"]).toBe("borg-prod");
    expect(view.clusters).toEqual([{ name: "borg-prod", cluster: { server: "https://10.42.0.10:6443", "certificate-authority-data": original.clusters[0].cluster["certificate-authority-data"] } }]);
    expect(view.users[0]).toEqual({ name: "borg-prod", user: original.users[0].user });
    expect(view.contexts).toEqual([{ name: "borg-prod", context: { cluster: "borg-prod", user: "borg-prod" } }]);
    // the CA kubectl will verify the server with is a real certificate: K3s' server CA
    const ca = Buffer.from(view.clusters[0].cluster["certificate-authority-data"], "base64").toString();
    const subject = execFileSync("openssl", ["x509", "-noout", "-subject"], { input: ca, encoding: "utf8" });
    expect(subject).toMatch(/k3s-server-ca/);
    // --minify --flatten (what an operator copies around) still has everything
    const minified = JSON.parse(kubectl(file, "--minify", "--flatten", "-o", "json"));
    expect(minified.clusters[0].cluster.server).toBe("https://10.42.0.10:6443");
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("merges with another stack's kubeconfig without clashing names", () => {
    const dir = tempDir();
    const a = path.join(dir, "dev");
    const b = path.join(dir, "prod");
    fs.writeFileSync(a, rewriteKubeconfig(FIXTURE, { server: "https://10.42.2.10:6443", name: "borg-dev" }));
    fs.writeFileSync(b, rewriteKubeconfig(FIXTURE, { server: "https://k8s.hive.lan:6443", name: "borg-prod" }));
    const merged = JSON.parse(execFileSync("kubectl", ["config", "view", "-o", "json"], { encoding: "utf8", env: { PATH: process.env.PATH ?? "", HOME: dir, KUBECONFIG: `${a}:${b}` } }));
    expect(merged.contexts.map((c: { name: string }) => c.name).sort()).toEqual(["borg-dev", "borg-prod"]);
    expect(merged.clusters.map((c: { cluster: { server: string } }) => c.cluster.server).sort()).toEqual(["https://10.42.2.10:6443", "https://k8s.hive.lan:6443"]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("refuses a kubeconfig without the CA, or insecure, and never quotes the key", () => {
    const doc = parse(FIXTURE);
    const key = doc.users[0].user["client-key-data"] as string;
    delete doc.clusters[0].cluster["certificate-authority-data"];
    const noCa = JSON.stringify(doc);
    expect(() => rewriteKubeconfig(noCa, { server: "https://10.42.0.10:6443", name: "borg-prod" })).toThrow(/no certificate-authority-data/);
    try {
      rewriteKubeconfig(noCa, { server: "https://10.42.0.10:6443", name: "borg-prod" });
    } catch (e) {
      expect(String(e)).not.toContain(key.slice(0, 20));
    }
    const insecure = parse(FIXTURE);
    insecure.clusters[0].cluster["insecure-skip-tls-verify"] = true;
    expect(() => rewriteKubeconfig(JSON.stringify(insecure), { server: "https://10.42.0.10:6443", name: "x" })).toThrow(/insecure-skip-tls-verify/);
    expect(() => rewriteKubeconfig("not: [yaml", { server: "https://10.42.0.10:6443", name: "x" })).toThrow(/not YAML/);
    expect(() => rewriteKubeconfig(FIXTURE, { server: "http://10.42.0.10:6443", name: "x" })).toThrow(/not https/);
  });

  it("kubectl itself rejects a broken kubeconfig (the check can fail)", () => {
    const dir = tempDir();
    const file = path.join(dir, "bad");
    fs.writeFileSync(file, "apiVersion: v1\nkind: Config\nclusters: {not: a list}\n");
    const r = spawnSync("kubectl", ["config", "view", "--kubeconfig", file], { encoding: "utf8", env: { PATH: process.env.PATH ?? "", HOME: dir } });
    expect(r.status).not.toBe(0);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe("Nix: the flags (nix/lib/k3s.nix) from every K3s node's node.json", () => {
  let prod: Synth;
  beforeAll(async () => {
    prod = await synth("prod");
  });
  const flagsOf = (node: string) =>
    JSON.parse(
      execFileSync(
        "nix-instantiate",
        [...NIX, "--eval", "--strict", "--json", "-E", `(import ${JSON.stringify(path.join(PROJECT_ROOT, "nix", "lib", "k3s.nix"))}) (builtins.fromJSON (builtins.readFile ${JSON.stringify(path.join(prod.outDir, "nodes", node, "node.json"))})).services.k3s`],
        { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
      ),
    );

  it("the first server: cluster-init, CIDRs, DNS, domain, secrets encryption, disabled add-ons, both token files", () => {
    const q = flagsOf("queen");
    expect(q).toMatchObject({
      role: "server",
      serverAddr: "",
      clusterInit: true,
      nodeName: "queen",
      nodeIP: "10.42.0.10",
      tokenFile: "/var/lib/borg/secrets/k3s-token",
      agentTokenFile: "/var/lib/borg/secrets/k3s-agent-token",
      disable: ["local-storage", "servicelb", "traefik"],
      packageAttr: "k3s_1_36",
      packageVersion: "1.36.3+k3s1",
      kernelModules: ["rbd"],
    });
    expect(q.extraFlags).toEqual([
      "--cluster-cidr=10.244.0.0/16",
      "--service-cidr=10.96.0.0/16",
      "--cluster-dns=10.96.0.10",
      "--cluster-domain=cluster.local",
      "--write-kubeconfig-mode=0600",
      "--secrets-encryption",
    ]);
    expect(q.firewallRule).toBe('ip saddr 10.244.0.0/16 accept comment "borg k3s pod network"\n');
  });

  it("an agent: joins the first server with the agent token, its labels, no server flags", () => {
    expect(flagsOf("drone-3")).toMatchObject({
      role: "agent",
      serverAddr: "https://10.42.0.10:6443",
      clusterInit: false,
      tokenFile: "/var/lib/borg/secrets/k3s-agent-token",
      agentTokenFile: null,
      nodeLabel: ["borg.io/gpu=true", "borg.io/high-memory=true"],
      disable: [],
      extraFlags: [],
    });
  });

  it("no token value and no store path anywhere in what reaches the unit's command line", () => {
    for (const node of ["queen", "drone-1", "drone-3"]) {
      const text = JSON.stringify(flagsOf(node));
      expect(text).not.toMatch(/--token[= ]|--agent-token[= ]|K3S_TOKEN|\/nix\/store/);
    }
  });
});

// A stand-in for the bits of nixpkgs `lib` the module uses, and a `pkgs` with one k3s package:
// enough to run the module's option declarations and config on a node's settings.
const MODULE_HARNESS = String.raw`
{ module, settings, k3sVersion }:
let
  b = builtins;
  t = name: check: { inherit name check; };
  types = {
    str = t "str" b.isString;
    bool = t "bool" b.isBool;
    strMatching = re: t "strMatching" (v: b.isString v && b.match re v != null);
    nullOr = ty: t "nullOr" (v: v == null || ty.check v);
    listOf = ty: t "listOf" (v: b.isList v && b.all ty.check v);
    enum = xs: t "enum" (v: b.elem v xs);
  };
  lib = { inherit types; mkOption = a: a; mkIf = c: v: if c then v else { }; };
  pkgs = { k3s_1_36 = { version = k3sVersion; }; k3s = { version = "default"; }; };
  opts = (import module { config = throw "options must not read config"; inherit lib pkgs; }).options.borg.services.k3s;
  bad = b.filter (k: !(opts ? ${"$"}{k}) || !(opts.${"$"}{k}.type.check settings.${"$"}{k})) (b.attrNames settings);
  cfg = (import module { config.borg.services.k3s = settings; inherit lib pkgs; }).config;
in {
  inherit bad;
  k3s = cfg.services.k3s or null;
  assertions = cfg.assertions or [ ];
  kernelModules = cfg.boot.kernelModules or [ ];
  firewall = cfg.networking.firewall.extraInputRules or "";
}
`;

describe("Nix: the module (nix/modules/services/k3s.nix) on a stub lib", () => {
  let prod: Synth;
  let harness: string;
  beforeAll(async () => {
    prod = await synth("prod");
    harness = path.join(tempDir(), "harness.nix");
    fs.writeFileSync(harness, MODULE_HARNESS);
  });
  const evalModule = (node: string, k3sVersion: string) =>
    JSON.parse(
      execFileSync(
        "nix-instantiate",
        [
          ...NIX,
          "--eval",
          "--strict",
          "--json",
          "-E",
          `(import ${JSON.stringify(harness)}) { module = ${JSON.stringify(path.join(PROJECT_ROOT, "nix", "modules", "services", "k3s.nix"))}; settings = (builtins.fromJSON (builtins.readFile ${JSON.stringify(path.join(prod.outDir, "nodes", node, "node.json"))})).services.k3s; k3sVersion = ${JSON.stringify(k3sVersion)}; }`,
        ],
        { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
      ),
    );

  it("every node.json field is a declared, well-typed option; nixpkgs' services.k3s gets the pinned package and the flags", () => {
    const r = evalModule("drone-1", "1.36.3+k3s1");
    expect(r.bad).toEqual([]);
    expect(r.assertions.every((a: { assertion: boolean }) => a.assertion)).toBe(true);
    expect(r.k3s).toMatchObject({ enable: true, role: "server", package: { version: "1.36.3+k3s1" }, serverAddr: "https://10.42.0.10:6443", clusterInit: false, nodeIP: "10.42.0.11", tokenFile: "/var/lib/borg/secrets/k3s-token" });
    expect(Object.keys(r.k3s).sort()).toEqual(["agentTokenFile", "clusterInit", "disable", "enable", "extraFlags", "nodeIP", "nodeLabel", "nodeName", "package", "role", "serverAddr", "tokenFile"]);
    expect(r.kernelModules).toEqual(["rbd"]);
    expect(r.firewall).toContain("ip saddr 10.244.0.0/16 accept");
  });

  it("the pinned release is enforced: another version in nixpkgs fails the build with the fix", () => {
    const r = evalModule("queen", "1.36.4+k3s1");
    const failed = r.assertions.filter((a: { assertion: boolean }) => !a.assertion);
    expect(failed).toHaveLength(1);
    expect(failed[0].message).toBe("borg: borg:services.k3s.version is v1.36.3+k3s1 but nixpkgs' k3s_1_36 is v1.36.4+k3s1: set the version to that release or move the nixpkgs pin");
  });

  it("the edge Pi: nothing K3s at all", () => {
    const r = evalModule("edge-pi", "1.36.3+k3s1");
    expect(r.bad).toEqual([]);
    expect(r).toMatchObject({ k3s: null, assertions: [], kernelModules: [], firewall: "" });
  });
});
