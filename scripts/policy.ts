// npm run policy -- <plan.json> [--config FILE] [--json]
// Runs every policy over a saved plan (synth's plan.json or a fixture). Without --config, the
// enforcement config of the plan's security level applies (the strictest, prod, when unknown).
// Exit 0: no mandatory violation; 1: mandatory violations; 64: bad arguments.
import * as fs from "node:fs";
import { parseArgs } from "node:util";
import { allPolicies } from "../policy/policies.ts";
import { readEnforcementConfig, renderReport, runPolicies, type PlanResource } from "./lib/policyRunner.js";
import { enforcementConfigFile } from "./lib/synthesize.js";
import { policyTable } from "./lib/policyTable.js";

const USAGE = "usage: npm run policy -- <plan.json> [--config policy/config/<stack>.json] [--json]\n       npm run policy -- --table";

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ allowPositionals: true, options: { config: { type: "string" }, json: { type: "boolean", default: false }, table: { type: "boolean", default: false } } });
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    return 64;
  }
  if (parsed.values.table) {
    console.log(policyTable()); // the README's rule table
    return 0;
  }
  const [planFile, ...rest] = parsed.positionals;
  if (!planFile || rest.length > 0) {
    console.error(USAGE);
    return 64;
  }
  let plan: { stack?: string; resources?: PlanResource[]; outputs?: { securityLevel?: unknown } };
  try {
    plan = JSON.parse(fs.readFileSync(planFile, "utf8"));
  } catch (err) {
    console.error(`${planFile}: cannot read a plan (${(err as Error).message})`);
    return 64;
  }
  if (!Array.isArray(plan.resources)) {
    console.error(`${planFile}: not a plan: no "resources" list`);
    return 64;
  }
  const configFile = parsed.values.config ?? enforcementConfigFile(plan.outputs?.securityLevel);
  const report = await runPolicies(allPolicies, plan.resources, readEnforcementConfig(configFile));
  if (parsed.values.json) console.log(JSON.stringify({ stack: plan.stack, config: configFile, ...report }, null, 2));
  else console.log(`${plan.stack ?? planFile} (${configFile}):\n${renderReport(report)}`);
  return report.violations.some((v) => v.level === "mandatory") ? 1 : 0;
}

process.exitCode = await main();
