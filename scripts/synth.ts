// npm run synth -- <stack> [--out DIR] [--json]
// npm run synth -- --config PATH/Pulumi.<name>.yaml [--out DIR] [--json]
// Exit 0 on success, 1 when a mandatory policy is violated, 2 on an invalid stack, 64 on bad arguments.
import { synthMain } from "./lib/synthCli.js";

process.exitCode = await synthMain(process.argv.slice(2));
