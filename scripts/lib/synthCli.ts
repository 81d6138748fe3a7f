// The synth CLI (see scripts/synth.ts), as a function: tests run it in-process.
import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { formatProblems } from "../../components/config/load.js";
import { PROJECT_ROOT } from "../../components/bundle.js";
import { renderReport } from "./policyRunner.js";
import { readStackFile, StackFileError, stackNameFromFile } from "./stackFile.js";
import { countByType, renderTree, synthesize } from "./synthesize.js";

export interface Output {
  log: (text: string) => void;
  error: (text: string) => void;
}

const USAGE = "usage: npm run synth -- <stack> [--out DIR] [--json]\n       npm run synth -- --config PATH/Pulumi.<stack>.yaml [--out DIR] [--json]";
const STACKS_DIR = path.join(PROJECT_ROOT, "stacks");

/** The stacks that exist: stacks/Pulumi.<stack>.yaml. */
export function listStacks(dir = STACKS_DIR): string[] {
  let files: string[] = [];
  try {
    files = fs.readdirSync(dir);
  } catch {
    return [];
  }
  return files.flatMap((f) => /^Pulumi\.([A-Za-z0-9_.-]+)\.yaml$/.exec(f)?.[1] ?? []).sort();
}

export async function synthMain(argv: string[], io: Output = console): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { out: { type: "string", default: "out" }, json: { type: "boolean", default: false }, config: { type: "string" }, help: { type: "boolean", short: "h" } },
    });
  } catch (err) {
    io.error(`${(err as Error).message}\n${USAGE}`);
    return 64;
  }
  const { values, positionals } = args;
  if (values.help) {
    io.log(USAGE);
    return 0;
  }
  if ((positionals.length === 1) === Boolean(values.config) || positionals.length > 1) {
    io.error(`give exactly one stack name or --config FILE\n${USAGE}`);
    return 64;
  }
  // A stack that does not exist is a bad argument (64), like a --config path that does not.
  const stacks = listStacks();
  if (positionals.length === 1 && !stacks.includes(positionals[0]!)) {
    io.error(`no stack '${positionals[0]}': stacks/Pulumi.${positionals[0]}.yaml does not exist; stacks: ${stacks.join(", ") || "(none)"}\n${USAGE}`);
    return 64;
  }
  if (values.config) {
    if (!fs.existsSync(values.config)) {
      io.error(`--config ${values.config}: no such file\n${USAGE}`);
      return 64;
    }
    try {
      stackNameFromFile(values.config);
    } catch (err) {
      io.error(`--config ${(err as Error).message}\n${USAGE}`);
      return 64;
    }
  }
  const file = values.config ?? path.join(STACKS_DIR, `Pulumi.${positionals[0]}.yaml`);

  let stackConfig;
  try {
    stackConfig = readStackFile(file);
  } catch (err) {
    if (err instanceof StackFileError) {
      io.error(err.message);
      return 2;
    }
    throw err;
  }
  const started = performance.now();
  const result = await synthesize(stackConfig, values.out);
  if (!result.ok) {
    io.error(result.policyConfig ? result.problems.join("\n") : `${path.relative(process.cwd(), file) || file}: ${formatProblems(result.problems)}`);
    return 2;
  }
  for (const warning of result.warnings) io.error(`warning: ${warning}`);
  const { plan, policy } = result;
  const mandatory = policy.report.violations.filter((v) => v.level === "mandatory").length;
  const exitCode = mandatory > 0 ? 1 : 0;
  if (values.json) {
    io.log(JSON.stringify({ ...plan, policy }, null, 2));
    return exitCode;
  }
  const counts = countByType(plan.resources);
  io.log(`stack ${plan.stack}: ${plan.resources.length} resources in ${((performance.now() - started) / 1000).toFixed(1)}s (offline, fake provider outputs)\n`);
  io.log(renderTree(plan.resources));
  io.log("\ncounts:");
  for (const [type, n] of Object.entries(counts)) io.log(`  ${String(n).padStart(4)}  ${type}`);
  const remote = plan.resources.filter((r) => r.type.startsWith("command:remote:"));
  const pinned = remote.filter((r) => (r.inputs.connection as { hostKey?: unknown } | undefined)?.hostKey);
  io.log(`\nremote connections pinning a host key: ${pinned.length}/${remote.length}`);
  for (const r of remote.filter((r) => !pinned.includes(r))) io.log(`  UNPINNED: ${r.name}`);
  io.log("\nexports:");
  io.log(JSON.stringify(plan.outputs, null, 2).replace(/^/gm, "  "));
  if (result.missingSecrets.length > 0) io.log(`\nnot set (canaries used): ${result.missingSecrets.join(", ")}`);
  io.log(`\npolicies (${policy.config}):`);
  io.log(renderReport(policy.report).replace(/^/gm, "  "));
  io.log(`\nwrote ${path.join(result.outDir, "plan.json")}, policy.json and ${path.join(result.outDir, "nodes")}/<node>/`);
  return exitCode;
}

