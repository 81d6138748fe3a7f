// npm run synth -- <stack> [--out DIR] [--json]
// npm run synth -- --config PATH/Pulumi.<name>.yaml [--out DIR] [--json]
// Exit 0 on success, 1 when a mandatory policy is violated, 2 on an invalid stack, 64 on bad arguments.
import * as path from "node:path";
import { parseArgs } from "node:util";
import { formatProblems } from "../components/config/load.js";
import { PROJECT_ROOT } from "../components/bundle.js";
import { readStackFile, StackFileError } from "./lib/stackFile.js";
import { renderReport } from "./lib/policyRunner.js";
import { countByType, renderTree, synthesize } from "./lib/synthesize.js";

const USAGE = "usage: npm run synth -- <stack> [--out DIR] [--json]\n       npm run synth -- --config PATH/Pulumi.<stack>.yaml [--out DIR] [--json]";

async function main(): Promise<number> {
  let args;
  try {
    args = parseArgs({
      allowPositionals: true,
      options: { out: { type: "string", default: "out" }, json: { type: "boolean", default: false }, config: { type: "string" }, help: { type: "boolean", short: "h" } },
    });
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    return 64;
  }
  const { values, positionals } = args;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if ((positionals.length === 1) === Boolean(values.config) || positionals.length > 1) {
    console.error(`give exactly one stack name or --config FILE\n${USAGE}`);
    return 64;
  }
  const file = values.config ?? path.join(PROJECT_ROOT, "stacks", `Pulumi.${positionals[0]}.yaml`);

  let stackConfig;
  try {
    stackConfig = readStackFile(file);
  } catch (err) {
    if (err instanceof StackFileError) {
      console.error(err.message);
      return 2;
    }
    throw err;
  }
  const started = performance.now();
  const result = await synthesize(stackConfig, values.out);
  if (!result.ok) {
    console.error(`${path.relative(process.cwd(), file) || file}: ${formatProblems(result.problems)}`);
    return 2;
  }
  const { plan, policy } = result;
  const mandatory = policy.report.violations.filter((v) => v.level === "mandatory").length;
  const exitCode = mandatory > 0 ? 1 : 0;
  if (values.json) {
    console.log(JSON.stringify({ ...plan, policy }, null, 2));
    return exitCode;
  }
  const counts = countByType(plan.resources);
  console.log(`stack ${plan.stack}: ${plan.resources.length} resources in ${((performance.now() - started) / 1000).toFixed(1)}s (offline, fake provider outputs)\n`);
  console.log(renderTree(plan.resources));
  console.log("\ncounts:");
  for (const [type, n] of Object.entries(counts)) console.log(`  ${String(n).padStart(4)}  ${type}`);
  const remote = plan.resources.filter((r) => r.type.startsWith("command:remote:"));
  const pinned = remote.filter((r) => (r.inputs.connection as { hostKey?: unknown } | undefined)?.hostKey);
  console.log(`\nremote connections pinning a host key: ${pinned.length}/${remote.length}`);
  for (const r of remote.filter((r) => !pinned.includes(r))) console.log(`  UNPINNED: ${r.name}`);
  console.log("\nexports:");
  console.log(JSON.stringify(plan.outputs, null, 2).replace(/^/gm, "  "));
  if (result.missingSecrets.length > 0) console.log(`\nnot set (canaries used): ${result.missingSecrets.join(", ")}`);
  console.log(`\npolicies (${policy.config}):`);
  console.log(renderReport(policy.report).replace(/^/gm, "  "));
  console.log(`\nwrote ${path.join(result.outDir, "plan.json")}, policy.json and ${path.join(result.outDir, "nodes")}/<node>/`);
  return exitCode;
}

process.exitCode = await main();
