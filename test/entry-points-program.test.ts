// The program through its real entry point: started the way the nodejs language host starts it for
// `pulumi preview` (node --import tsx @pulumi/pulumi/cmd/run … index.ts, config in PULUMI_CONFIG),
// with this test playing the engine over gRPC (test/engine). Every registration is compared with
// what synth (the same program under the SDK's mocks) planned in this test run.
//
// Not reproduced here (README "What is verified offline"): the language host's monitor proxy and
// sync-invoke FIFOs, decrypting `secure:` config, real providers (diffs, creates, state), default
// provider resources (the engine adds them; programs never register them), and a preview's unknown
// outputs (the fake providers answer every output, as synth's mocks do).
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { PROJECT_ROOT } from "../components/bundle.js";
import { SECRET_KEYS } from "../components/config/schema.js";
import { canary, decodeWire, type CapturedResource } from "../scripts/lib/mockedProgram.js";
import { readStackFile, type StackConfig } from "../scripts/lib/stackFile.js";
import { synthMain } from "../scripts/lib/synthCli.js";
import { runUnderEngine, type ProgramRun } from "./engine/languageHost.js";
import { runCli, STACKS, synth, tempDir } from "./helpers.js";

const SECRET_CONFIG = SECRET_KEYS.map((k) => `borg:${k}`);
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
const SIG = "4dabf18193072939515e22adb298388d";

/** The config the CLI would hand the program: values as strings, secrets decrypted (canaries here, as in synth). */
function cliConfig(stackConfig: StackConfig) {
  const config = { ...stackConfig.values };
  for (const key of [...SECRET_CONFIG, ...stackConfig.encrypted]) config[key] ??= canary(key);
  return { config, secretKeys: [...new Set([...SECRET_CONFIG, ...stackConfig.encrypted])] };
}

const run = (stackConfig: StackConfig, bundleRoot = tempDir("borg-engine-")) =>
  runUnderEngine({ stack: stackConfig.stack, ...cliConfig(stackConfig), bundleRoot }).then((r) => ({ ...r, bundleRoot }));

/** Plan entries in a comparable form: sorted by urn, the bundle directory named alike. */
function normalized(resources: readonly CapturedResource[], bundleRoot: string) {
  const text = JSON.stringify([...resources].sort((a, b) => a.urn.localeCompare(b.urn)));
  return JSON.parse(text.split(bundleRoot).join("<bundles>")) as CapturedResource[];
}

/** Every string leaf of a wire value containing `needle`, and whether a secret wrapper encloses it. */
function occurrences(value: unknown, needle: string, secret = false, at = "", found: { at: string; secret: boolean }[] = []) {
  if (typeof value === "string" && value.includes(needle)) found.push({ at, secret });
  else if (Array.isArray(value)) value.forEach((v, i) => occurrences(v, needle, secret, `${at}[${i}]`, found));
  else if (value !== null && typeof value === "object") {
    const obj = value as Record<string, unknown>;
    if (obj[SIG] === SECRET_SIG) occurrences(obj.value, needle, true, at, found);
    else for (const [k, v] of Object.entries(obj)) occurrences(v, needle, secret, `${at}.${k}`, found);
  }
  return found;
}

const BROKEN = path.join(PROJECT_ROOT, "test", "fixtures", "Pulumi.broken.yaml");
type EngineRun = ProgramRun & { bundleRoot: string };
const runs = new Map<string, EngineRun>();

// One program process per stack, all at once: each spends seconds loading the SDK and providers.
beforeAll(async () => {
  const files = [...STACKS.map((stack) => path.join(PROJECT_ROOT, "stacks", `Pulumi.${stack}.yaml`)), BROKEN];
  const done = await Promise.all(files.map((file) => run(readStackFile(file))));
  files.forEach((file, i) => runs.set(file, done[i]!));
}, 300_000);

afterAll(() => {
  for (const run of runs.values()) fs.rmSync(run.bundleRoot, { recursive: true, force: true });
});

describe.each(STACKS)("%s through the language host's entry point", (stack) => {
  let engine: EngineRun;
  let planned: Awaited<ReturnType<typeof synth>>["plan"];

  beforeAll(async () => {
    engine = runs.get(path.join(PROJECT_ROOT, "stacks", `Pulumi.${stack}.yaml`))!;
    planned = (await synth(stack)).plan;
  });

  it("is launched as the host launches it: Pulumi.yaml's nodeargs, cmd/run, --dry-run, the program's main", () => {
    expect(engine.argv.slice(0, 2)).toEqual(["--import", "tsx"]);
    expect(engine.argv[2]).toMatch(/\/node_modules\/@pulumi\/pulumi\/cmd\/run\/index\.js$/);
    expect(engine.argv).toContain("--dry-run");
    expect(engine.argv.at(-1)).toBe("index.ts");
    expect(engine.env).not.toHaveProperty("PULUMI_NODEJS_TYPESCRIPT"); // typescript: false — tsx, not ts-node
    expect(Object.keys(JSON.parse(engine.env.PULUMI_CONFIG!))).toContain("borg:config:network");
  });

  it("exits 0, answered by the engine on every call, with no warning or error logged", () => {
    expect(engine.exitCode, engine.stderr).toBe(0);
    expect(engine.refused).toEqual([]);
    expect(engine.logs.filter((l) => l.severity === "warning" || l.severity === "error")).toEqual([]);
    expect(engine.stderr).toBe("");
  });

  it("registers the stack resource as the root, and every resource synth plans — no more, no less", () => {
    const stackUrn = `urn:pulumi:${stack}::borg-collective::pulumi:pulumi:Stack::borg-collective-${stack}`;
    expect(engine.root).toBe(stackUrn);
    const [root, ...rest] = engine.registrations;
    expect(root).toMatchObject({ urn: stackUrn, type: "pulumi:pulumi:Stack", parent: null });
    // Under the engine, unparented resources are the stack's children; synth has no stack resource.
    const asSynth = rest.map((r) => ({ ...r, parent: r.parent === stackUrn ? null : r.parent }));
    expect(asSynth.length).toBe(planned.resources.length);
    expect(normalized(asSynth, engine.bundleRoot)).toEqual(normalized(planned.resources, inject("synthRoot")));
  });

  it("registers the stack exports synth reports, secrets still secret", () => {
    expect(decodeWire(engine.outputs.get(engine.root))).toEqual(planned.outputs);
  });

  it("every component registers its outputs (registerOutputs), as the engine expects to close it", () => {
    const components = engine.registrations.filter((r) => !r.custom).map((r) => r.urn);
    expect(components.filter((urn) => !engine.outputs.has(urn))).toEqual([]);
  });

  it.each(SECRET_CONFIG)("secret config %s arrives through PULUMI_CONFIG and stays inside secret values", (key) => {
    expect(JSON.parse(engine.env.PULUMI_CONFIG_SECRET_KEYS!)).toContain(key);
    const found = [...engine.wireInputs].flatMap(([urn, inputs]) => occurrences(inputs, canary(key)).map((o) => ({ ...o, urn })));
    const outputs = [...engine.outputs.values()].flatMap((o) => occurrences(o, canary(key)));
    if (key === "borg:proxmoxApiToken" && !planned.resources.some((r) => r.type === "pulumi:providers:proxmoxve")) return;
    expect(found.length, `${key} reaches no resource`).toBeGreaterThan(0);
    expect(found.filter((o) => !o.secret)).toEqual([]);
    expect(outputs.filter((o) => !o.secret)).toEqual([]);
    // What the CLI shows without --debug. The SDK's debug messages print whole RPC answers, secret
    // values included (README: never share `pulumi … --debug` output).
    const shown = engine.logs.filter((l) => l.severity !== "debug");
    expect(engine.stdout + engine.stderr + JSON.stringify(shown)).not.toContain(canary(key));
  });
});

describe("an invalid stack through the language host's entry point", () => {
  it("exits non-zero, logs synth's one-line-per-problem message as one error, registers nothing but the stack", async () => {
    const engine = runs.get(BROKEN)!;
    const out = tempDir();
    const synthRun = await runCli(synthMain, "--config", BROKEN, "--out", out);
    fs.rmSync(out, { recursive: true, force: true });
    expect(synthRun.status).toBe(2);
    const synthMessage = synthRun.stderr.slice(synthRun.stderr.indexOf(": ") + 2);
    expect(synthMessage).toMatch(/^invalid stack configuration \(\d+ problems\):\n(  - \S+: .+\n?)+$/);
    // 32: the SDK logged a user-actionable message; the host bails without adding its own.
    expect(engine.exitCode).toBe(32);
    expect(engine.logs.filter((l) => l.severity === "error").map((l) => l.message)).toEqual([synthMessage]);
    expect(engine.registrations.map((r) => r.type)).toEqual(["pulumi:pulumi:Stack"]);
    expect(fs.readdirSync(engine.bundleRoot)).toEqual([]);
  });
});
