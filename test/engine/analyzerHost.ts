// Starts the policy pack the way `pulumi preview --policy-pack policy` does for a nodejs pack
// (the `pulumi-analyzer-policy` shim): in the pack's directory, with the pack's own installed
// @pulumi/pulumi, `node <@pulumi/pulumi/cmd/run-policy-pack> <engine address> .`, stack facts in
// the environment; the port is the first line the pack prints. Then it plays the engine's side of
// pulumirpc.Analyzer: Handshake, ConfigureStack, GetAnalyzerInfo, Configure with the
// --policy-pack-config file reconciled as the CLI does, Analyze per resource, AnalyzeStack.
//
// Not reproduced: the engine analyzes the resources of a running program (inputs with real secret
// and unknown values, default providers it creates itself); here the resources come from a plan.
import { Ajv } from "ajv";
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import { parse } from "yaml";
import { engineService, EngineService } from "./engine.js";
import { analyzer, analyzerRpc, empty, grpc, serve, struct } from "./proto.js";
import { newRecording } from "./recording.js";
import type { PlanResource } from "../../scripts/lib/policyRunner.js";

/** A plan entry (plan.json `resources[]` or a fixture), as the analyzer sees a resource. */
export type AnalyzedResource = PlanResource;

export type Level = "advisory" | "mandatory" | "remediate" | "disabled";
const LEVELS: Level[] = ["advisory", "mandatory", "disabled", "remediate"]; // pulumirpc.EnforcementLevel order

export interface Diagnostic {
  policy: string;
  level: Level;
  /** The analyzed resource (Analyze), or the one a stack policy named (AnalyzeStack). */
  urn: string;
  message: string;
  description: string;
}

export interface Analysis {
  diagnostics: Diagnostic[];
  /** Policies the pack said do not apply, per resource (exemptions say `exempt: <reason>`). */
  notApplicable: { policy: string; urn: string; reason: string }[];
}

export interface PolicyInfo {
  name: string;
  description: string;
  level: Level;
  configSchema?: { properties?: Record<string, unknown>; required?: string[] };
}

export interface PolicyPackRun {
  info: { name: string; version: string; supportsConfig: boolean; policies: PolicyInfo[] };
  /** --policy-pack-config: parse, reconcile with the pack's defaults, validate, Configure. */
  configure(configFile: string): Promise<Record<string, { level: Level; properties: Record<string, unknown> }>>;
  analyze(resources: readonly AnalyzedResource[]): Promise<Analysis>;
  stderr: () => string;
  close(): Promise<void>;
}

export interface StackFacts {
  stack: string;
  project: string;
  organization: string;
  /** Stack config as the CLI passes it to the pack (decrypted), `namespace:key` → value. */
  config: Record<string, string>;
  /**
   * The pack's TMPDIR. The host compiles the pack with the SDK's vendored ts-node, which caches
   * under $TMPDIR/ts-node-<hash of $HOME>: a fresh directory per test run keeps runs (and users)
   * apart and always pays the first-run compile an operator pays.
   */
  tmpdir: string;
}

export async function startPolicyPack(packDir: string, facts: StackFacts): Promise<PolicyPackRun> {
  const project = parse(fs.readFileSync(path.join(packDir, "PulumiPolicy.yaml"), "utf8")) as { runtime: string | { name: string; options?: Record<string, unknown> } };
  const runtime = typeof project.runtime === "string" ? { name: project.runtime } : project.runtime;
  if (runtime.name !== "nodejs") throw new Error(`policy runtime ${runtime.name}: only nodejs is modelled`);

  const engine = await serve([[EngineService, engineService(newRecording())]]);
  // The shim: `node -e "require.resolve('@pulumi/pulumi/cmd/run-policy-pack')"` in the pack's directory.
  const runPath = createRequire(path.join(packDir, "package.json")).resolve("@pulumi/pulumi/cmd/run-policy-pack");
  const options = Object.entries(runtime.options ?? {}).map(([k, v]) => `-${k}=${String(v)}`);
  const env: Record<string, string> = {
    ...process.env as Record<string, string>,
    PULUMI_CONFIG: JSON.stringify(facts.config),
    PULUMI_NODEJS_ORGANIZATION: facts.organization,
    PULUMI_NODEJS_PROJECT: facts.project,
    PULUMI_NODEJS_STACK: facts.stack,
    PULUMI_NODEJS_DRY_RUN: "true",
    PULUMI_ORGANIZATION: facts.organization,
    PULUMI_PROJECT: facts.project,
    PULUMI_STACK: facts.stack,
    PULUMI_DRY_RUN: "true",
    TMPDIR: facts.tmpdir,
  };
  for (const k of Object.keys(env)) if (/^(VITEST|NODE_OPTIONS$|NODE_ENV$|TSX_)/.test(k)) delete env[k];
  const child = spawn(process.execPath, [runPath, engine.address, ".", ...options], { cwd: packDir, env, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  let port: number;
  try {
    port = await firstLinePort(child, () => stderr);
  } catch (err) {
    child.kill("SIGKILL");
    await engine.close();
    throw err;
  }

  const client = new analyzerRpc.AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const call = <T>(method: string, request: unknown): Promise<T> =>
    new Promise((resolve, reject) => client[method](request, (err: Error | null, res: T) => (err ? reject(err) : resolve(res))));

  // Handshake: a pack that does not implement it answers UNIMPLEMENTED, which the engine accepts.
  const handshake = new analyzer.AnalyzerHandshakeRequest();
  handshake.setEngineAddress(engine.address);
  handshake.setRootDirectory(packDir);
  handshake.setProgramDirectory(packDir);
  await call("handshake", handshake).catch((err: { code?: number }) => {
    if (err.code !== grpc.status.UNIMPLEMENTED) throw err;
  });
  const stackRequest = new analyzer.AnalyzerStackConfigureRequest();
  stackRequest.setStack(facts.stack);
  stackRequest.setProject(facts.project);
  stackRequest.setOrganization(facts.organization);
  stackRequest.setDryRun(true);
  for (const [k, v] of Object.entries(facts.config)) stackRequest.getConfigMap().set(k, v);
  await call("configureStack", stackRequest);

  const infoResponse = await call<any>("getAnalyzerInfo", new empty.Empty()); // eslint-disable-line @typescript-eslint/no-explicit-any
  const info = {
    name: infoResponse.getName() as string,
    version: infoResponse.getVersion() as string,
    supportsConfig: infoResponse.getSupportsconfig() as boolean,
    policies: infoResponse.getPoliciesList().map((p: any) => { // eslint-disable-line @typescript-eslint/no-explicit-any
      const schema = p.getConfigschema();
      return {
        name: p.getName(),
        description: p.getDescription(),
        level: LEVELS[p.getEnforcementlevel()]!,
        ...(schema ? { configSchema: { properties: schema.getProperties()?.toJavaScript() ?? {}, required: schema.getRequiredList() } } : {}),
      };
    }) as PolicyInfo[],
  };

  return {
    info,
    async configure(configFile) {
      const reconciled = reconcile(info.policies, parsePolicyPackConfig(fs.readFileSync(configFile, "utf8")));
      const request = new analyzer.ConfigureAnalyzerRequest();
      for (const [name, c] of Object.entries(reconciled)) {
        if (!LEVELS.includes(c.level)) throw new Error(`invalid enforcement level "${c.level ?? ""}" for ${name}`);
        const pc = new analyzer.PolicyConfig();
        pc.setEnforcementlevel(LEVELS.indexOf(c.level));
        pc.setProperties(struct.Struct.fromJavaScript(c.properties));
        request.getPolicyconfigMap().set(name, pc);
      }
      await call("configure", request);
      return reconciled;
    },
    async analyze(resources) {
      const result: Analysis = { diagnostics: [], notApplicable: [] };
      const collect = (response: any, urnOf: (d: any) => string) => { // eslint-disable-line @typescript-eslint/no-explicit-any
        for (const d of response.getDiagnosticsList()) {
          result.diagnostics.push({ policy: d.getPolicyname(), level: LEVELS[d.getEnforcementlevel()]!, urn: urnOf(d), message: d.getMessage(), description: d.getDescription() });
        }
        return response.getNotApplicableList() as any[]; // eslint-disable-line @typescript-eslint/no-explicit-any
      };
      const byUrn = new Map(resources.map((r) => [r.urn, r]));
      for (const r of resources) {
        const request = new analyzer.AnalyzeRequest();
        request.setUrn(r.urn);
        request.setType(r.type);
        request.setName(r.name);
        request.setProperties(struct.Struct.fromJavaScript(r.inputs));
        request.setOptions(optionsOf(r));
        const provider = r.provider ? byUrn.get(r.provider) : undefined;
        if (provider) request.setProvider(providerOf(provider));
        const na = collect(await call("analyze", request), () => r.urn);
        for (const n of na) result.notApplicable.push({ policy: n.getPolicyName(), urn: r.urn, reason: n.getReason() });
      }
      const stackRequest = new analyzer.AnalyzeStackRequest();
      stackRequest.setResourcesList(
        resources.map((r) => {
          const resource = new analyzer.AnalyzerResource();
          resource.setUrn(r.urn);
          resource.setType(r.type);
          resource.setName(r.name);
          resource.setProperties(struct.Struct.fromJavaScript(r.inputs));
          resource.setOptions(optionsOf(r));
          resource.setParent(r.parent ?? "");
          resource.setDependenciesList(r.dependencies ?? []);
          const provider = r.provider ? byUrn.get(r.provider) : undefined;
          if (provider) resource.setProvider(providerOf(provider));
          return resource;
        }),
      );
      collect(await call("analyzeStack", stackRequest), (d) => d.getUrn());
      return result;
    },
    stderr: () => stderr,
    async close() {
      client.close();
      child.kill("SIGTERM");
      await new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once("exit", resolve)));
      await engine.close();
    },
  };
}

function optionsOf(r: AnalyzedResource) {
  const options = new analyzer.AnalyzerResourceOptions();
  options.setProtect(r.protect ?? false);
  options.setIgnorechangesList(r.ignoreChanges ?? []);
  options.setAdditionalsecretoutputsList(r.additionalSecretOutputs ?? []);
  options.setParent(r.parent ?? "");
  const timeouts = new analyzer.AnalyzerResourceOptions.CustomTimeouts();
  options.setCustomtimeouts(timeouts);
  return options;
}

function providerOf(r: AnalyzedResource) {
  const provider = new analyzer.AnalyzerProviderResource();
  provider.setUrn(r.urn);
  provider.setType(r.type);
  provider.setName(r.name);
  provider.setProperties(struct.Struct.fromJavaScript(r.inputs));
  return provider;
}

/** The plugin handshake: the first line on stdout is the port; exiting before that is a failure. */
function firstLinePort(child: ChildProcess, stderr: () => string, timeoutMs = 180_000): Promise<number> {
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`policy pack printed no port in ${timeoutMs} ms:\n${stderr()}`)), timeoutMs);
    child.stdout!.on("data", (d) => {
      out += d;
      const line = out.split("\n");
      if (line.length > 1) {
        clearTimeout(timer);
        const port = Number(line[0]!.trim());
        if (Number.isInteger(port) && port > 0) resolve(port);
        else reject(new Error(`policy pack printed ${JSON.stringify(line[0])} instead of a port:\n${stderr()}`));
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`policy pack exited (${code}) before printing its port:\n${stderr()}`));
    });
  });
}

type GivenConfig = Record<string, { level?: Level; properties?: Record<string, unknown> }>;

/** The CLI's parsePolicyPackConfig: a level string, or an object whose enforcementLevel is split off. */
export function parsePolicyPackConfig(text: string): GivenConfig {
  if (text.trim() === "") return {};
  const result: GivenConfig = {};
  for (const [name, value] of Object.entries(JSON.parse(text) as Record<string, unknown>)) {
    if (typeof value === "string") {
      if (!LEVELS.includes(value as Level)) throw new Error(`parsing enforcement level for "${name}": "${value}" is not a valid enforcement level`);
      result[name] = { level: value as Level };
    } else if (value !== null && typeof value === "object" && !Array.isArray(value)) {
      const { enforcementLevel, ...properties } = value as Record<string, unknown>;
      if (enforcementLevel !== undefined && !LEVELS.includes(enforcementLevel as Level)) throw new Error(`parsing enforcement level for "${name}": ${JSON.stringify(enforcementLevel)} is not a valid enforcement level`);
      if (enforcementLevel === undefined && Object.keys(properties).length === 0) continue;
      result[name] = { ...(enforcementLevel ? { level: enforcementLevel as Level } : {}), ...(Object.keys(properties).length ? { properties } : {}) };
    } else {
      throw new Error(`parsing "${name}": ${JSON.stringify(value)} is not a valid value; must be a string or object`);
    }
  }
  return result;
}

/**
 * The CLI's ReconcilePolicyPackConfig: schema defaults and each policy's own level, then `all`,
 * then each named entry; the result validated against each policy's config schema (the CLI
 * refuses to run with any validation error).
 */
export function reconcile(policies: readonly PolicyInfo[], given: GivenConfig) {
  const result: Record<string, { level: Level; properties: Record<string, unknown> }> = {};
  for (const p of policies) {
    const defaults = Object.entries(p.configSchema?.properties ?? {}).filter(([, s]) => (s as { default?: unknown }).default !== undefined);
    result[p.name] = { level: p.level, properties: Object.fromEntries(defaults.map(([k, s]) => [k, (s as { default: unknown }).default])) };
  }
  const all = given.all?.level;
  if (all) for (const name of Object.keys(result)) result[name]!.level = all;
  for (const [name, c] of Object.entries(given)) {
    const current = result[name] ?? { level: undefined as unknown as Level, properties: {} };
    result[name] = { level: c.level ?? current.level, properties: { ...current.properties, ...(c.properties ?? {}) } };
  }
  const ajv = new Ajv({ allErrors: true, strict: false });
  const errors: string[] = [];
  for (const p of policies) {
    if (!p.configSchema) continue;
    const validate = ajv.compile({ type: "object", properties: p.configSchema.properties, ...(p.configSchema.required?.length ? { required: p.configSchema.required } : {}) });
    if (!validate(result[p.name]!.properties)) for (const e of validate.errors ?? []) errors.push(`${p.name}: ${e.instancePath || "(root)"} ${e.message}`);
  }
  if (errors.length) throw new Error(`policy pack configuration is invalid:\n${errors.join("\n")}`);
  return result;
}
