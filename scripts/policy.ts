// npm run policy -- <plan.json> [--config FILE] [--json]   |   npm run policy -- --table
// Runs every policy over a saved plan (synth's plan.json or a fixture). Without --config, the
// enforcement config of the plan's security level applies (the strictest, prod, when unknown).
// Exit 0: no mandatory violation; 1: mandatory violations; 64: bad arguments.
import { policyMain } from "./lib/policyCli.js";

process.exitCode = await policyMain(process.argv.slice(2));
