// The policy CLI (see scripts/policy.ts), as a function: tests run it in-process.
import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { PROJECT_ROOT } from "../../components/bundle.js";
import { allPolicies } from "../../policy/policies.ts";
import { loadPolicyConfig, PolicyConfigError, renderReport, runPolicies, type EnforcementConfig, type PlanResource } from "./policyRunner.js";
import { podSecurityTable, policyTable } from "./policyTable.js";
import type { Output } from "./synthCli.js";
import { enforcementConfigFile } from "./synthesize.js";

const USAGE = [
  "usage: npm run policy -- <plan.json> [--config policy/config/<stack>.json] [--json]",
  "       npm run policy -- --check [CONFIG.json ...]   (only validate policy configs; default: policy/config/*.json)",
  "       npm run policy -- --table",
].join("\n");

/** Every committed per-stack policy config. */
export const committedPolicyConfigs = (): string[] =>
  fs
    .readdirSync(path.join(PROJECT_ROOT, "policy", "config"))
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => path.join(PROJECT_ROOT, "policy", "config", f));

/** A file as messages name it: relative to the working directory when inside it. */
function shownPath(file: string): string {
  const relative = path.relative(process.cwd(), file);
  return relative === "" || relative.startsWith("..") || path.isAbsolute(relative) ? file : relative;
}

/** The config, or its problems printed (one line each): undefined then means exit 2. */
function load(file: string, io: Output): EnforcementConfig | undefined {
  try {
    return loadPolicyConfig(file, shownPath(file));
  } catch (err) {
    if (!(err instanceof PolicyConfigError)) throw err;
    io.error(err.problems.join("\n"));
    return undefined;
  }
}

export async function policyMain(argv: string[], io: Output = console): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { config: { type: "string" }, json: { type: "boolean", default: false }, table: { type: "boolean", default: false }, check: { type: "boolean", default: false } },
    });
  } catch (err) {
    io.error(`${(err as Error).message}\n${USAGE}`);
    return 64;
  }
  if (parsed.values.table) {
    io.log(`${policyTable()}\n\n${podSecurityTable()}`); // the README's rule and Pod Security Standards tables
    return 0;
  }
  if (parsed.values.check) {
    const files = parsed.positionals.length > 0 ? parsed.positionals : committedPolicyConfigs();
    const bad = files.filter((file) => load(file, io) === undefined);
    for (const file of files.filter((f) => !bad.includes(f))) io.log(`${shownPath(file)}: ok`);
    return bad.length > 0 ? 2 : 0;
  }
  const [planFile, ...rest] = parsed.positionals;
  if (!planFile || rest.length > 0) {
    io.error(USAGE);
    return 64;
  }
  // An explicit config is checked before anything else is read.
  const explicit = parsed.values.config === undefined ? undefined : load(parsed.values.config, io);
  if (parsed.values.config !== undefined && explicit === undefined) return 2;
  let plan: { stack?: string; resources?: PlanResource[]; outputs?: { securityLevel?: unknown } };
  try {
    plan = JSON.parse(fs.readFileSync(planFile, "utf8"));
  } catch (err) {
    io.error(`${planFile}: cannot read a plan (${(err as Error).message})`);
    return 64;
  }
  if (!Array.isArray(plan.resources)) {
    io.error(`${planFile}: not a plan: no "resources" list`);
    return 64;
  }
  const configFile = parsed.values.config ?? enforcementConfigFile(plan.outputs?.securityLevel);
  const config = explicit ?? load(configFile, io);
  if (config === undefined) return 2;
  const report = await runPolicies(allPolicies, plan.resources, config);
  const shown = shownPath(configFile);
  if (parsed.values.json) io.log(JSON.stringify({ stack: plan.stack, config: shown, ...report }, null, 2));
  else io.log(`${plan.stack ?? planFile} (${shown}):\n${renderReport(report)}`);
  return report.violations.some((v) => v.level === "mandatory") ? 1 : 0;
}
