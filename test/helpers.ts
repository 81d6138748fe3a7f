// Shared test helpers: run a stack through the real offline synth (the program under mocks).
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import { PROJECT_ROOT } from "../components/bundle.js";
import { validateConfig, type CollectiveSpec } from "../components/config/validate.js";
import type { CapturedResource } from "../scripts/lib/mockedProgram.js";
import { readStackFile, type StackConfig } from "../scripts/lib/stackFile.js";
import type { Plan } from "../scripts/lib/synthesize.js";
import { inject } from "vitest";

export const STACKS = ["dev", "staging", "prod"] as const;
export const stackFile = (stack: string) => path.join(PROJECT_ROOT, "stacks", `Pulumi.${stack}.yaml`);

/** The `borg:*` values of a committed stack file, decoded (for building variants). */
export function stackValues(stack: string): Record<string, any> {
  const doc = parse(fs.readFileSync(stackFile(stack), "utf8")) as { config: Record<string, unknown> };
  return Object.fromEntries(Object.entries(doc.config).filter(([k]) => k.startsWith("borg:")).map(([k, v]) => [k.slice(5), structuredClone(v)]));
}

/** A committed stack's spec, edited first (values as in the stack file, without the `borg:` prefix). */
export function specOf(stack: string, edit: (c: Record<string, any>) => void = () => {}): CollectiveSpec {
  const raw: Record<string, any> = { ...stackValues(stack), sshPrivateKey: "<set>", proxmoxApiToken: "<set>" };
  edit(raw);
  const result = validateConfig(raw);
  if (!result.ok) throw new Error(result.problems.join("\n"));
  return result.spec;
}

export function toStackConfig(stack: string, values: Record<string, unknown>): StackConfig {
  return {
    stack,
    file: `<test ${stack}>`,
    values: Object.fromEntries(Object.entries(values).map(([k, v]) => [`borg:${k}`, typeof v === "string" ? v : JSON.stringify(v)])),
    encrypted: [],
  };
}

export interface Synth {
  plan: Plan;
  outDir: string;
  byName: (name: string) => CapturedResource;
  byType: (type: string) => CapturedResource[];
  nameOf: (urn: string) => string;
}

export function tempDir(prefix = "borg-test-"): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/**
 * A committed stack's synth, run once for the whole test run by test/global-setup.ts: read-only.
 * Suites that only read plans never load the Pulumi SDK.
 */
export async function synth(stack: string): Promise<Synth> {
  const outDir = path.join(inject("synthRoot"), stack);
  return view(JSON.parse(fs.readFileSync(path.join(outDir, "plan.json"), "utf8")) as Plan, outDir);
}

/** A fresh in-process synth (the real program under mocks) of a stack name or a stack variant. */
export async function synthFresh(config: StackConfig | string, outRoot = tempDir()): Promise<Synth> {
  const { synthesize } = await import("../scripts/lib/synthesize.js");
  const stackConfig = typeof config === "string" ? readStackFile(stackFile(config)) : config;
  const result = await synthesize(stackConfig, outRoot);
  if (!result.ok) throw new Error(`synth failed:\n${result.problems.join("\n")}`);
  return view(result.plan, result.outDir);
}

function view(plan: Plan, outDir: string): Synth {
  const byUrn = new Map(plan.resources.map((r) => [r.urn, r]));
  return {
    plan,
    outDir,
    byName: (name) => {
      const found = plan.resources.filter((r) => r.name === name);
      if (found.length !== 1) throw new Error(`expected one resource named ${name}, found ${found.length}`);
      return found[0]!;
    },
    byType: (type) => plan.resources.filter((r) => r.type === type),
    nameOf: (urn) => byUrn.get(urn)?.name ?? urn,
  };
}

/** Every urn `urn` depends on, directly or through dependencies of dependencies. */
export function transitiveDependencies(resources: readonly CapturedResource[], urn: string): Set<string> {
  const byUrn = new Map(resources.map((r) => [r.urn, r]));
  const seen = new Set<string>();
  const stack = [...(byUrn.get(urn)?.dependencies ?? [])];
  while (stack.length) {
    const next = stack.pop()!;
    if (seen.has(next)) continue;
    seen.add(next);
    stack.push(...(byUrn.get(next)?.dependencies ?? []));
  }
  return seen;
}

export function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listFiles(full));
    else out.push(full);
  }
  return out.sort();
}

export interface CliRun {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs a CLI's main function in-process, capturing what it prints. */
export async function runCli(main: (argv: string[], io: { log: (t: string) => void; error: (t: string) => void }) => Promise<number>, ...argv: string[]): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const status = await main(argv, { log: (t) => out.push(t), error: (t) => err.push(t) });
  return { status, stdout: out.join("\n"), stderr: err.join("\n") };
}
