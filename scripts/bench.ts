// npm run bench: offline synth of generated stacks with 3, 30 and 100 drones.
// Prints resources, wall time, time per resource and the critical path (the longest chain of remote
// steps) for each, with prod's rollout lanes and without a limit, in one process: the first size
// also pays the program's module warm-up, so per-resource cost is read off the larger sizes.
// Without a limit the critical path must not grow with the drone count; with k lanes it grows by
// one node's steps per k quorum nodes (test/bench.test.ts holds the property).
import * as fs from "node:fs";
import * as os from "node:os";
import { stackWithDrones } from "./lib/benchStack.js";
import { criticalPath } from "./lib/criticalPath.js";
import { synthesize } from "./lib/synthesize.js";

const SIZES = [3, 30, 100];

const out = fs.mkdtempSync(`${os.tmpdir()}/borg-bench-`);
console.log("drones  lanes      resources  wall(ms)  per-resource(ms)  critical path (remote steps)");
for (const lanes of [1, undefined]) {
  for (const drones of SIZES) {
    const started = performance.now();
    const result = await synthesize(stackWithDrones(drones, lanes), out);
    const wall = performance.now() - started;
    if (!result.ok) throw new Error(result.problems.join("\n"));
    const n = result.plan.resources.length;
    const path = criticalPath(result.plan.resources);
    const laneText = lanes === undefined ? "unlimited" : `max ${lanes}`;
    console.log(
      `${String(drones).padStart(6)}  ${laneText.padEnd(9)}  ${String(n).padStart(9)}  ${wall.toFixed(0).padStart(8)}  ${(wall / n).toFixed(2).padStart(16)}  ${String(path.length).padStart(28)}`,
    );
    if (lanes === undefined && drones === SIZES[0]) console.log(`        chain: ${path.chain.join(" → ")}`);
  }
}
fs.rmSync(out, { recursive: true, force: true });
