// Offline synth: stack file → validation → the real program under mocks → out/<stack>/.
import * as fs from "node:fs";
import * as path from "node:path";
import { checkConfig } from "../../components/config/load.js";
import { SECRET_KEYS } from "../../components/config/schema.js";
import { PROJECT_ROOT } from "../../components/bundle.js";
import { allPolicies } from "../../policy/policies.ts";
import { canary, runProgram, type CapturedResource } from "./mockedProgram.js";
import { loadPolicyConfig, PolicyConfigError, runPolicies, type EnforcementConfig, type PolicyReport } from "./policyRunner.js";
import type { StackConfig } from "./stackFile.js";

export interface Plan {
  stack: string;
  /** What in this plan is fake: read before trusting any id or key in it. */
  fakes: string;
  resources: CapturedResource[];
  outputs: Record<string, unknown>;
}

export interface PolicyCheck {
  /** The enforcement config applied (policy/config/<security level>.json). */
  config: string;
  report: PolicyReport;
}

export type SynthResult =
  | { ok: true; plan: Plan; outDir: string; missingSecrets: string[]; policy: PolicyCheck; warnings: string[] }
  /** `policyConfig`: the problems are the policy config's, each line naming its file. */
  | { ok: false; problems: string[]; policyConfig?: true };

/** The per-stack enforcement config for a security level; the strictest when the level is unknown. */
export function enforcementConfigFile(level: unknown): string {
  const known = ["dev", "staging", "prod"].includes(String(level)) ? String(level) : "prod";
  return path.join(PROJECT_ROOT, "policy", "config", `${known}.json`);
}

export interface SynthOptions {
  /** The policy config to apply instead of policy/config/<security level>.json. */
  policyConfig?: string;
}

const FAKES =
  "Offline synth under Pulumi mocks: ids starting with 'fake-', SSH host public keys and VM addresses reported by providers are fake; " +
  "secrets the run could not read appear as canaries (secret:NAME in angle brackets) and are redacted as [secret] wherever they are marked secret.";

export async function synthesize(stackConfig: StackConfig, outRoot: string, options: SynthOptions = {}): Promise<SynthResult> {
  // User secrets cannot be decrypted offline: canaries stand in for them (and must never leak).
  const config = { ...stackConfig.values };
  const secretKeys = [...stackConfig.encrypted];
  const missingSecrets: string[] = [];
  for (const key of SECRET_KEYS.map((k) => `borg:${k}`)) {
    if (config[key] === undefined) {
      config[key] = canary(key);
      missingSecrets.push(key);
    }
    if (!secretKeys.includes(key)) secretKeys.push(key);
  }
  for (const key of stackConfig.encrypted) config[key] = canary(key);

  // The check the program itself runs first (loadSpec), here before anything is written.
  const validation = checkConfig(config, (key) => secretKeys.includes(key));
  if (!validation.ok) return { ok: false, problems: validation.problems };
  // The policy config is checked before anything runs or is written, like the stack file.
  const configFile = options.policyConfig ?? enforcementConfigFile(validation.spec.security.level);
  const configName = path.relative(PROJECT_ROOT, configFile).startsWith("..") ? configFile : path.relative(PROJECT_ROOT, configFile);
  let enforcement: EnforcementConfig;
  try {
    enforcement = loadPolicyConfig(configFile, configName);
  } catch (err) {
    if (err instanceof PolicyConfigError) return { ok: false, problems: [...err.problems], policyConfig: true };
    throw err;
  }

  const outDir = path.join(outRoot, stackConfig.stack);
  fs.rmSync(outDir, { recursive: true, force: true });
  fs.mkdirSync(outDir, { recursive: true });
  const run = await runProgram({ stack: stackConfig.stack, config, secretKeys, bundleRoot: outRoot });
  const plan: Plan = { stack: stackConfig.stack, fakes: FAKES, resources: run.resources, outputs: run.outputs };
  fs.writeFileSync(path.join(outDir, "plan.json"), `${JSON.stringify(plan, null, 2)}\n`);
  const policy: PolicyCheck = { config: configName, report: await runPolicies(allPolicies, plan.resources, enforcement) };
  fs.writeFileSync(path.join(outDir, "policy.json"), `${JSON.stringify(policy, null, 2)}\n`);
  return { ok: true, plan, outDir, missingSecrets, policy, warnings: run.warnings };
}

/** `type name` lines indented under their parents. */
export function renderTree(resources: readonly CapturedResource[]): string {
  const children = new Map<string | null, CapturedResource[]>();
  for (const r of resources) {
    const siblings = children.get(r.parent) ?? [];
    siblings.push(r);
    children.set(r.parent, siblings);
  }
  const known = new Set(resources.map((r) => r.urn));
  const lines: string[] = [];
  const walk = (parent: string | null, depth: number) => {
    for (const r of children.get(parent) ?? []) {
      lines.push(`${"  ".repeat(depth)}${r.type}  ${r.name}`);
      walk(r.urn, depth + 1);
    }
  };
  for (const [parent] of children) if (parent === null || !known.has(parent)) walk(parent, 0);
  return lines.join("\n");
}

export function countByType(resources: readonly CapturedResource[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of resources) counts[r.type] = (counts[r.type] ?? 0) + 1;
  return Object.fromEntries(Object.entries(counts).sort(([a], [b]) => a.localeCompare(b)));
}
