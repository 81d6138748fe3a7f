// The policy CLI (see scripts/policy.ts), as a function: tests run it in-process.
import * as fs from "node:fs";
import { parseArgs } from "node:util";
import { allPolicies } from "../../policy/policies.ts";
import { readEnforcementConfig, renderReport, runPolicies, type PlanResource } from "./policyRunner.js";
import { podSecurityTable, policyTable } from "./policyTable.js";
import type { Output } from "./synthCli.js";
import { enforcementConfigFile } from "./synthesize.js";

const USAGE = "usage: npm run policy -- <plan.json> [--config policy/config/<stack>.json] [--json]\n       npm run policy -- --table";

export async function policyMain(argv: string[], io: Output = console): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { config: { type: "string" }, json: { type: "boolean", default: false }, table: { type: "boolean", default: false } } });
  } catch (err) {
    io.error(`${(err as Error).message}\n${USAGE}`);
    return 64;
  }
  if (parsed.values.table) {
    io.log(`${policyTable()}\n\n${podSecurityTable()}`); // the README's rule and Pod Security Standards tables
    return 0;
  }
  const [planFile, ...rest] = parsed.positionals;
  if (!planFile || rest.length > 0) {
    io.error(USAGE);
    return 64;
  }
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
  const report = await runPolicies(allPolicies, plan.resources, readEnforcementConfig(configFile));
  if (parsed.values.json) io.log(JSON.stringify({ stack: plan.stack, config: configFile, ...report }, null, 2));
  else io.log(`${plan.stack ?? planFile} (${configFile}):\n${renderReport(report)}`);
  return report.violations.some((v) => v.level === "mandatory") ? 1 : 0;
}

