// npm run policy -- <plan.json> [--config FILE] [--json]  |  --check [FILE...]  |  --table
// Runs every policy over a saved plan (synth's plan.json or a fixture). Without --config, the
// enforcement config of the plan's security level applies (the strictest, prod, when unknown).
// The config is validated first, as a whole. Exit 0: no mandatory violation (or, with --check,
// every config valid); 1: mandatory violations; 2: an invalid policy config (one line per
// problem); 64: bad arguments.
import { policyMain } from "./lib/policyCli.js";

process.exitCode = await policyMain(process.argv.slice(2));
