// Consul without a Consul binary (Debian does not ship it; see README "What is verified offline"):
// the settings each node gets, the secret config file, and the whole agent configuration as the
// node would load it (/etc/consul.json from nixpkgs' module + nix/lib/consul.nix, evaluated by
// nix-instantiate, merged with the secret file) checked against Consul's documented configuration
// schema and the load-time checks Consul itself applies. Then the plan: resources, DAG, secrets.
import { execFileSync } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../components/bundle.js";
import { validateConfig, type CollectiveSpec } from "../components/config/validate.js";
import { agentAccessorId, consulRoles, consulSecretConfig, consulSettings, type ConsulSettings } from "../components/services/consul.js";
import { serviceContext } from "../components/services/context.js";
import { stackFile, stackValues, synth, tempDir, transitiveDependencies, type Synth, specOf } from "./helpers.js";

const spec = specOf;
const settingsOf = (s: CollectiveSpec, name: string) => consulSettings(serviceContext(s, s.nodes.find((n) => n.name === name)!));

// --- Consul's configuration schema (agent configuration file reference, Consul 1.22) --------------
// Only the keys this project can produce plus their documented siblings; an unknown key is an error,
// as it is for Consul ("invalid config key"). Types: s string, b bool, i int, s[] list of strings.
type Schema = { [key: string]: "s" | "b" | "i" | "s[]" | Schema };
const TLS_COMMON: Schema = { ca_file: "s", ca_path: "s", cert_file: "s", key_file: "s", tls_min_version: "s", tls_cipher_suites: "s", verify_incoming: "b", verify_outgoing: "b", use_auto_cert: "b" };
const CONSUL_SCHEMA: Schema = {
  datacenter: "s", node_name: "s", server: "b", bootstrap_expect: "i", bootstrap: "b", data_dir: "s",
  bind_addr: "s", advertise_addr: "s", client_addr: "s", retry_join: "s[]", retry_interval: "s", retry_max: "i",
  encrypt: "s", encrypt_verify_incoming: "b", encrypt_verify_outgoing: "b",
  disable_update_check: "b", log_level: "s", leave_on_terminate: "b", rejoin_after_leave: "b",
  ports: { dns: "i", http: "i", https: "i", grpc: "i", grpc_tls: "i", serf_lan: "i", serf_wan: "i", server: "i" },
  addresses: { dns: "s", http: "s", https: "s", grpc: "s", grpc_tls: "s" },
  ui_config: { enabled: "b", dir: "s", content_path: "s" },
  telemetry: { prometheus_retention_time: "s", disable_hostname: "b" },
  acl: {
    enabled: "b", default_policy: "s", down_policy: "s", enable_token_persistence: "b", policy_ttl: "s", token_ttl: "s", role_ttl: "s",
    tokens: { initial_management: "s", agent: "s", agent_recovery: "s", default: "s", replication: "s", config_file_service_registration: "s", dns: "s" },
  },
  tls: {
    defaults: TLS_COMMON,
    internal_rpc: { ...TLS_COMMON, verify_server_hostname: "b" },
    https: TLS_COMMON,
    grpc: TLS_COMMON,
  },
};

function schemaProblems(value: Record<string, unknown>, schema: Schema = CONSUL_SCHEMA, at = ""): string[] {
  const problems: string[] = [];
  for (const [key, v] of Object.entries(value)) {
    const want = schema[key];
    const where = `${at}${key}`;
    if (want === undefined) problems.push(`invalid config key ${where}`);
    else if (typeof want === "object") {
      if (v === null || typeof v !== "object" || Array.isArray(v)) problems.push(`${where}: expected an object`);
      else problems.push(...schemaProblems(v as Record<string, unknown>, want, `${where}.`));
    } else {
      const ok = { s: typeof v === "string", b: typeof v === "boolean", i: Number.isInteger(v), "s[]": Array.isArray(v) && v.every((x) => typeof x === "string") }[want];
      if (!ok) problems.push(`${where}: expected ${want}, got ${JSON.stringify(v)}`);
    }
  }
  return problems;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/** The checks Consul applies when it loads a configuration (a failing one stops the agent). */
function loadProblems(c: Record<string, any>): string[] {
  const p: string[] = [];
  if (!/^[a-z0-9_-]+$/.test(c.datacenter ?? "")) p.push("datacenter: must be lowercase alphanumerics, - or _");
  if (c.bootstrap_expect !== undefined && c.server !== true) p.push("bootstrap_expect: only a server may set it");
  if (c.bootstrap_expect !== undefined && !(c.bootstrap_expect >= 1)) p.push("bootstrap_expect: must be at least 1");
  for (const k of ["bind_addr", "advertise_addr"]) if (!IPV4.test(c[k] ?? "")) p.push(`${k}: not a single IP address`);
  for (const [k, v] of Object.entries(c.addresses ?? {})) if (!String(v).split(" ").every((a) => IPV4.test(a))) p.push(`addresses.${k}: not space-separated IP addresses`);
  for (const [k, v] of Object.entries(c.ports ?? {})) if (!(v === -1 || (Number(v) > 0 && Number(v) < 65536))) p.push(`ports.${k}: ${v}`);
  if (typeof c.encrypt !== "string" || ![16, 24, 32].includes(Buffer.from(c.encrypt, "base64").length) || Buffer.from(c.encrypt, "base64").toString("base64") !== c.encrypt) {
    p.push("encrypt: must be base64 of 16, 24 or 32 bytes");
  }
  const acl = c.acl ?? {};
  if (acl.default_policy !== undefined && !["allow", "deny"].includes(acl.default_policy)) p.push(`acl.default_policy: ${acl.default_policy}`);
  if (acl.down_policy !== undefined && !["allow", "deny", "extend-cache", "async-cache"].includes(acl.down_policy)) p.push(`acl.down_policy: ${acl.down_policy}`);
  for (const [k, v] of Object.entries(acl.tokens ?? {})) if (!UUID.test(String(v))) p.push(`acl.tokens.${k}: not a UUID`);
  if (acl.tokens?.initial_management !== undefined && c.server !== true) p.push("acl.tokens.initial_management: only servers use it");
  const d = c.tls?.defaults ?? {};
  if ((d.verify_incoming || d.verify_outgoing) && !d.ca_file) p.push("tls.defaults: verify_incoming/verify_outgoing need ca_file");
  if (Boolean(d.cert_file) !== Boolean(d.key_file)) p.push("tls.defaults: cert_file and key_file go together");
  if (d.verify_incoming && !d.cert_file) p.push("tls.defaults.verify_incoming needs cert_file");
  if (c.tls?.internal_rpc?.verify_server_hostname && !d.verify_outgoing) p.push("tls.internal_rpc.verify_server_hostname needs verify_outgoing");
  if ((c.ports?.https ?? -1) > 0 && !(d.cert_file && d.key_file)) p.push("ports.https needs tls.defaults.cert_file and key_file");
  return p;
}

/** What one agent loads: nixpkgs' /etc/consul.json (data_dir, ui_config // extraConfig), then the secret file. */
function agentConfig(nodeJsonFile: string, secret: Record<string, unknown>): Record<string, any> {
  const node = JSON.parse(fs.readFileSync(nodeJsonFile, "utf8"));
  const extra = JSON.parse(
    execFileSync(
      "nix-instantiate",
      ["--option", "build-users-group", "", "--eval", "--strict", "--json", "-E", `(import ${JSON.stringify(path.join(PROJECT_ROOT, "nix", "lib", "consul.nix"))}).extraConfig (builtins.fromJSON (builtins.readFile ${JSON.stringify(nodeJsonFile)})).services.consul`],
      { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
    ),
  );
  const etc = { data_dir: "/var/lib/consul", ui_config: { enabled: node.services.consul.ui }, ...extra };
  // Consul merges later files over earlier ones; the two never share a key here (checked below).
  return { ...etc, ...secret };
}

const realValues = (s: ConsulSettings) => ({
  encrypt: randomBytes(32).toString("base64"),
  agentToken: randomUUID(),
  ...(s.server ? { managementToken: randomUUID() } : {}),
});

describe("settings per node", () => {
  const prod = spec("prod");
  const dev = spec("dev");

  it("prod: three servers expecting three, clients everywhere else including the edge Pi, API and UI on the queen only", () => {
    const q = settingsOf(prod, "queen");
    expect(q).toMatchObject({ enable: true, server: true, bootstrapExpect: 3, ui: true, address: "10.42.0.10", nodeName: "queen", datacenter: "hive" });
    expect(q.retryJoin).toEqual(["10.42.0.11", "10.42.0.12"]);
    expect(q.api).toEqual({ scheme: "https", port: 8501, lan: true });
    expect(settingsOf(prod, "drone-2")).toMatchObject({ server: true, bootstrapExpect: 3, ui: false, api: { scheme: "https", port: 8501, lan: false } });
    expect(settingsOf(prod, "drone-2").retryJoin).toEqual(["10.42.0.10", "10.42.0.11"]);
    for (const client of ["drone-3", "edge-pi"]) {
      expect(settingsOf(prod, client)).toMatchObject({ enable: true, server: false, bootstrapExpect: null, ui: false, api: { lan: false } });
      expect(settingsOf(prod, client).retryJoin).toEqual(["10.42.0.10", "10.42.0.11", "10.42.0.12"]);
    }
    expect(settingsOf(prod, "edge-pi").tls).toEqual({
      caFile: "/var/lib/borg/secrets/consul-ca.pem",
      certFile: "/var/lib/borg/secrets/consul-cert.pem",
      keyFile: "/var/lib/borg/secrets/consul-key.pem",
      verifyIncoming: true,
      verifyOutgoing: true,
      verifyServerHostname: true,
    });
  });

  it("roles open exactly the Consul ports each node needs", () => {
    expect(consulRoles(settingsOf(prod, "queen"))).toEqual(["consul-agent", "consul-server", "consul-https"]);
    expect(consulRoles(settingsOf(prod, "drone-1"))).toEqual(["consul-agent", "consul-server"]);
    expect(consulRoles(settingsOf(prod, "edge-pi"))).toEqual(["consul-agent"]);
    expect(consulRoles(settingsOf(dev, "queen"))).toEqual(["consul-agent", "consul-server", "consul-http"]);
    expect(consulRoles(settingsOf(spec("prod", (c) => (c.services.consul = { enabled: false })), "queen"))).toEqual([]);
  });

  it("dev: one server (the queen), plain HTTP API, no TLS, still ACLs and gossip encryption", () => {
    const q = settingsOf(dev, "queen");
    expect(q).toMatchObject({ server: true, bootstrapExpect: 1, retryJoin: [], tls: null, api: { scheme: "http", port: 8500, lan: true } });
    expect(q.acl).toEqual({ enabled: true, defaultPolicy: "deny", downPolicy: "extend-cache" });
    expect(q.gossip).toEqual({ encrypt: true, verifyIncoming: true, verifyOutgoing: true });
    expect(settingsOf(dev, "drone-1")).toMatchObject({ server: false, retryJoin: ["10.42.2.10"] });
  });

  it("the UI can be switched off; the queen keeps serving the API", () => {
    const s = spec("prod", (c) => (c.services.consul.ui = false));
    expect(settingsOf(s, "queen")).toMatchObject({ ui: false, api: { lan: true } });
  });
});

describe("the secret config file", () => {
  const prod = spec("prod");

  it("servers carry the management token, clients only their agent token; the ACL and TLS blocks are whole", () => {
    const q = consulSecretConfig(settingsOf(prod, "queen"), { encrypt: "K", agentToken: "A", managementToken: "M" });
    expect(q).toEqual({
      encrypt: "K",
      encrypt_verify_incoming: true,
      encrypt_verify_outgoing: true,
      acl: { enabled: true, default_policy: "deny", down_policy: "extend-cache", enable_token_persistence: false, tokens: { initial_management: "M", agent: "A" } },
      tls: {
        defaults: {
          ca_file: "/var/lib/borg/secrets/consul-ca.pem",
          cert_file: "/var/lib/borg/secrets/consul-cert.pem",
          key_file: "/var/lib/borg/secrets/consul-key.pem",
          verify_incoming: true,
          verify_outgoing: true,
        },
        internal_rpc: { verify_server_hostname: true },
        https: { verify_incoming: false },
      },
    });
    const pi = consulSecretConfig(settingsOf(prod, "edge-pi"), { encrypt: "K", agentToken: "P" });
    expect((pi.acl as any).tokens).toEqual({ agent: "P" });
    expect(() => consulSecretConfig(settingsOf(prod, "edge-pi"), { encrypt: "K", agentToken: "P", managementToken: "M" })).toThrow(/only servers carry the management token/);
    expect(() => consulSecretConfig(settingsOf(prod, "queen"), { encrypt: "K", agentToken: "A" })).toThrow(/only servers/);
    expect(consulSecretConfig(settingsOf(spec("dev"), "queen"), { encrypt: "K", agentToken: "A", managementToken: "M" })).not.toHaveProperty("tls");
  });

  it("agent AccessorIDs are UUIDs, stable, and distinct per node, datacenter and stack", () => {
    const a = agentAccessorId("prod", "hive", "queen");
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(agentAccessorId("prod", "hive", "queen")).toBe(a);
    expect(new Set([a, agentAccessorId("prod", "hive", "drone-1"), agentAccessorId("prod", "lab", "queen"), agentAccessorId("dev", "hive", "queen")]).size).toBe(4);
  });
});

describe("the agent configuration each node loads, against Consul's schema", () => {
  let runs: Record<string, Synth>;
  beforeAll(async () => {
    runs = { dev: await synth("dev"), staging: await synth("staging"), prod: await synth("prod") };
  });

  it("every node of every committed stack: only documented keys with the documented types, and nothing Consul refuses at load", () => {
    let checked = 0;
    for (const [stack, s] of Object.entries(runs)) {
      const full = spec(stack);
      for (const node of full.nodes) {
        const settings = consulSettings(serviceContext(full, node));
        const file = path.join(s.outDir, "nodes", node.name, "node.json");
        const secret = consulSecretConfig(settings, realValues(settings));
        const config = agentConfig(file, secret);
        expect(schemaProblems(config), `${stack}/${node.name}`).toEqual([]);
        expect(loadProblems(config), `${stack}/${node.name}`).toEqual([]);
        // The secret file and /etc/consul.json never set the same key: no half-overridden block.
        const etcKeys = Object.keys(agentConfig(file, {}));
        expect(Object.keys(secret).filter((k) => etcKeys.includes(k)), `${stack}/${node.name}`).toEqual([]);
        // node.json is what the policies judge: the rendered settings are the ones the node got.
        expect(JSON.parse(fs.readFileSync(file, "utf8")).services.consul).toEqual(settings);
        checked++;
      }
    }
    expect(checked).toBe(2 + 4 + 5);
  });

  it("prod queen: the exact configuration (TLS API on loopback and its address, no HTTP, no WAN or gRPC)", () => {
    const file = path.join(runs.prod!.outDir, "nodes", "queen", "node.json");
    const c = agentConfig(file, {});
    expect(c).toEqual({
      data_dir: "/var/lib/consul",
      ui_config: { enabled: true },
      datacenter: "hive",
      node_name: "queen",
      server: true,
      bootstrap_expect: 3,
      bind_addr: "10.42.0.10",
      advertise_addr: "10.42.0.10",
      client_addr: "127.0.0.1",
      addresses: { https: "127.0.0.1 10.42.0.10" },
      retry_join: ["10.42.0.11", "10.42.0.12"],
      ports: { server: 8300, serf_lan: 8301, serf_wan: -1, grpc: -1, grpc_tls: -1, http: -1, https: 8501 },
      disable_update_check: true,
      telemetry: { prometheus_retention_time: "60s", disable_hostname: true },
    });
    // The ports the agent listens on beyond loopback are the ports table's (what the firewall opens).
    const ports = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, "nix", "lib", "ports.json"), "utf8")).ports as { name: string; port: number }[];
    const byName = Object.fromEntries(ports.map((p) => [p.name, p.port]));
    expect([c.ports.server, c.ports.serf_lan, c.ports.https]).toEqual([byName["consul-server-rpc"], byName["consul-serf-lan-tcp"], byName["consul-https"]]);
  });

  it("negative controls: the checks catch a misspelled key, a key in the wrong block, a client with bootstrap_expect, a bad key and TLS without a CA", () => {
    const file = path.join(runs.prod!.outDir, "nodes", "drone-3", "node.json");
    const settings = consulSettings(serviceContext(spec("prod"), spec("prod").nodes.find((n) => n.name === "drone-3")!));
    const good = agentConfig(file, consulSecretConfig(settings, realValues(settings)));
    expect(schemaProblems({ ...good, acl: { ...good.acl, default_polcy: "deny" } })).toEqual(["invalid config key acl.default_polcy"]);
    expect(schemaProblems({ ...good, tls: { ...good.tls, defaults: { ...good.tls.defaults, verify_server_hostname: true } } })).toEqual(["invalid config key tls.defaults.verify_server_hostname"]);
    expect(schemaProblems({ ...good, verify_incoming: true })).toEqual(["invalid config key verify_incoming"]);
    expect(schemaProblems({ ...good, retry_join: "10.0.0.1" })).toEqual(['retry_join: expected s[], got "10.0.0.1"']);
    expect(loadProblems({ ...good, bootstrap_expect: 3 })).toEqual(["bootstrap_expect: only a server may set it"]);
    expect(loadProblems({ ...good, encrypt: randomBytes(20).toString("base64") })).toEqual(["encrypt: must be base64 of 16, 24 or 32 bytes"]);
    expect(loadProblems({ ...good, tls: { ...good.tls, defaults: { ...good.tls.defaults, ca_file: undefined } } })).toEqual(["tls.defaults: verify_incoming/verify_outgoing need ca_file"]);
    expect(loadProblems({ ...good, acl: { ...good.acl, tokens: { ...good.acl.tokens, initial_management: randomUUID() } } })).toEqual(["acl.tokens.initial_management: only servers use it"]);
    expect(loadProblems({ ...good, addresses: { https: "0.0.0.0 queen" } })).toEqual(["addresses.https: not space-separated IP addresses"]);
  });
});

describe("the plan", () => {
  let prod: Synth;
  let dev: Synth;
  beforeAll(async () => {
    prod = await synth("prod");
    dev = await synth("dev");
  });
  const deps = (s: Synth, name: string) => s.byName(name).dependencies.map(s.nameOf).sort();

  it("one Consul component holding the generated secrets, a CA and one certificate per agent", () => {
    const names = (s: Synth, type: string) => s.byType(type).filter((r) => r.name.startsWith("consul-")).map((r) => r.name).sort();
    expect(prod.byType("borg:index:Consul").map((r) => r.name)).toEqual(["consul"]);
    expect(names(prod, "random:index/randomBytes:RandomBytes")).toEqual(["consul-gossip-key"]);
    expect(names(prod, "random:index/randomUuid:RandomUuid")).toEqual(
      ["consul-drone-1-agent-token", "consul-drone-2-agent-token", "consul-drone-3-agent-token", "consul-edge-pi-agent-token", "consul-management-token", "consul-queen-agent-token"],
    );
    // A RandomUuid's result is plain in state unless declared secret.
    for (const r of prod.byType("random:index/randomUuid:RandomUuid").filter((r) => r.name.startsWith("consul-"))) expect(r.additionalSecretOutputs, r.name).toEqual(["result"]);
    expect(names(prod, "tls:index/locallySignedCert:LocallySignedCert")).toHaveLength(5);
    expect(names(dev, "tls:index/locallySignedCert:LocallySignedCert")).toEqual([]); // no TLS in dev
    const queenCsr = prod.byName("consul-queen-csr").inputs;
    expect(queenCsr).toMatchObject({ subject: { commonName: "server.hive.consul" }, dnsNames: ["server.hive.consul", "queen", "queen.hive.lan", "localhost"], ipAddresses: ["10.42.0.10", "127.0.0.1"] });
    expect(prod.byName("consul-drone-3-csr").inputs).toMatchObject({ subject: { commonName: "client.hive.consul" }, dnsNames: ["client.hive.consul", "drone-3", "drone-3.hive.lan", "localhost"] });
    expect(prod.byName("consul-drone-3-cert").inputs.allowedUses).toEqual(["digital_signature", "key_encipherment", "server_auth", "client_auth"]);
  });

  it("the servers' gate waits only for the servers; tokens after it; the cluster gate for every node and the tokens", () => {
    // Each server's whole deploy (other services' guards may follow the Consul one).
    const serversGate = transitiveDependencies(prod.plan.resources, prod.byName("consul-servers-gate").urn);
    for (const server of ["queen", "drone-1", "drone-2"]) expect(serversGate, server).toContain(prod.byName(`${server}-nixos-guard-consul-after`).urn);
    expect(deps(prod, "consul-servers-gate").some((d) => d.startsWith("drone-3") || d.startsWith("edge-pi"))).toBe(false);
    expect(deps(prod, "consul-agent-tokens")).toContain("consul-servers-gate");
    // Every node's last deploy step (its confirm, or the last guard after it).
    const gate = deps(prod, "consul-gate");
    expect(gate).toContain("consul-agent-tokens");
    for (const node of ["queen", "drone-1", "drone-2", "drone-3", "edge-pi"]) expect(gate.some((d) => d.startsWith(`${node}-nixos-`)), node).toBe(true);
    for (const step of ["consul-servers-gate", "consul-agent-tokens", "consul-gate"]) {
      expect(prod.byName(step).inputs.create, step).toMatch(/^sudo -n bash \/var\/lib\/borg\/bundles\/[0-9a-f]{64}\/node-scripts\/services\/consul-[a-z-]+\.sh queen /);
    }
    expect(prod.byName("consul-gate").inputs.create).toMatch(/consul-gate\.sh queen cluster queen,drone-1,drone-2,drone-3,edge-pi$/);
  });

  it("the agent tokens travel on stdin only: logging off, outputs secret, a secret trigger", () => {
    const step = prod.byName("consul-agent-tokens");
    expect(step.inputs).toMatchObject({ stdin: "[secret]", logging: "none" });
    expect(step.additionalSecretOutputs).toEqual(expect.arrayContaining(["stdout", "stderr"]));
    expect((step.inputs.triggers as string[]).at(-1)).toBe("[secret]");
  });

  it("only servers get the raft guard, in their rollout lane; clients and the Pi switch unguarded", () => {
    const guards = prod.plan.resources.filter((r) => r.name.includes("-guard-consul-")).map((r) => r.name).sort();
    expect(guards).toEqual(["drone-1-nixos-guard-consul-after", "drone-1-nixos-guard-consul-before", "drone-2-nixos-guard-consul-after", "drone-2-nixos-guard-consul-before", "queen-nixos-guard-consul-after", "queen-nixos-guard-consul-before"]);
    // maxParallel 1: drone-1's guard waits for the queen's lane turn (its after guard) to finish.
    expect(transitiveDependencies(prod.plan.resources, prod.byName("drone-1-nixos-guard-consul-before").urn)).toContain(prod.byName("queen-nixos-guard-consul-after").urn);
    expect(deps(prod, "drone-1-nixos-activate")).toContain("drone-1-nixos-guard-consul-before");
    expect(prod.byName("drone-1-nixos-confirm").inputs.create).toContain("consul: nothing to undo in Consul; check that drone-1 is back in the raft peer set");
  });

  it("exports the API address, datacenter, CA and the management token as a secret", () => {
    expect(prod.plan.outputs.consul).toEqual({ address: "https://10.42.0.10:8501", datacenter: "hive", caCertificate: "fake certificate of consul-ca", managementToken: "[secret]" });
    expect(dev.plan.outputs.consul).toEqual({ address: "http://10.42.2.10:8500", datacenter: "hive", caCertificate: null, managementToken: "[secret]" });
  });

  it("with secrets revealed (test-only capture): each node's secret file holds its own token; only servers hold the management token", async () => {
    const { runProgram } = await import("../scripts/lib/mockedProgram.js");
    const { readStackFile } = await import("../scripts/lib/stackFile.js");
    const { values } = readStackFile(stackFile("prod"));
    const config = { ...values, "borg:sshPrivateKey": "<secret:borg:sshPrivateKey>", "borg:proxmoxApiToken": "<secret:borg:proxmoxApiToken>" };
    const run = await runProgram({ stack: "prod", config, secretKeys: ["borg:sshPrivateKey", "borg:proxmoxApiToken"], bundleRoot: tempDir(), revealSecrets: true });
    const byName = (n: string) => run.resources.find((r) => r.name === n)!;
    const files = (node: string) =>
      Object.fromEntries(
        String(byName(`${node}-nixos-secrets`).inputs.stdin)
          .trim()
          .split("\n")
          .map((l) => l.split(" "))
          .map(([name, owner, group, b64, units]) => [name, { owner, group, content: Buffer.from(b64!, "base64").toString("utf8"), units }]),
      );
    const keys = new Set<string>();
    for (const node of ["queen", "drone-1", "drone-2", "drone-3", "edge-pi"]) {
      const f = files(node);
      expect(Object.keys(f).filter((n) => n.startsWith("consul-")).sort(), node).toEqual(["consul-ca.pem", "consul-cert.pem", "consul-key.pem", "consul-secrets.json"]);
      for (const n of Object.keys(f).filter((n) => n.startsWith("consul-"))) expect(f[n], `${node} ${n}`).toMatchObject({ owner: "consul", group: "consul", units: "consul.service" });
      const secret = JSON.parse(f["consul-secrets.json"]!.content);
      // The offline fake of RandomBytes gives real-looking bytes: 32 of them, the same key everywhere.
      expect(Buffer.from(secret.encrypt, "base64")).toHaveLength(32);
      keys.add(secret.encrypt);
      expect(secret.acl.tokens.agent).toBe(`<secret:random:consul-${node}-agent-token>`);
      expect(secret.acl.tokens.initial_management ?? null, node).toBe(["queen", "drone-1", "drone-2"].includes(node) ? "<secret:random:consul-management-token>" : null);
      expect(f["consul-key.pem"]!.content).toBe(`<secret:tls:consul-${node}-key>`);
    }
    expect(keys.size).toBe(1);
    const tokens = String(byName("consul-agent-tokens").inputs.stdin).trim().split("\n");
    expect(tokens).toEqual(["queen", "drone-1", "drone-2", "drone-3", "edge-pi"].map((n) => `${n} ${agentAccessorId("prod", "hive", n)} <secret:random:consul-${n}-agent-token>`));
  });
});
