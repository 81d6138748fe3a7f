// npm run bench: offline synth of generated stacks with 3, 30 and 100 drones.
// Prints resources, wall time and time per resource for each, in one process: the first size
// also pays the program's module warm-up, so per-resource cost is read off the larger sizes.
import { readStackFile } from "./lib/stackFile.js";
import { synthesize } from "./lib/synthesize.js";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { PROJECT_ROOT } from "../components/bundle.js";

const SIZES = [3, 30, 100];

function stackWithDrones(count: number) {
  const base = readStackFile(path.join(PROJECT_ROOT, "stacks", "Pulumi.prod.yaml"));
  const values = { ...base.values };
  // /22 gives room for 100+ nodes; VM ids and addresses follow the drone index.
  values["borg:network"] = JSON.stringify({ cidr: "10.42.0.0/22", gateway: "10.42.0.1", dns: ["10.42.0.1"], domain: "bench.hive.lan", bridge: "vmbr0" });
  values["borg:drones"] = JSON.stringify(
    Array.from({ length: count }, (_, i) => ({
      name: `drone-${i + 1}`,
      vmId: 1000 + i,
      address: `10.42.${1 + Math.floor(i / 250)}.${(i % 250) + 1}`,
      osdDiskGb: 100,
    })),
  );
  return { ...base, stack: `bench${count}`, values };
}

const out = fs.mkdtempSync(path.join(os.tmpdir(), "borg-bench-"));
console.log("drones  resources  wall(ms)  per-resource(ms)");
for (const drones of SIZES) {
  const started = performance.now();
  const result = await synthesize(stackWithDrones(drones), out);
  const wall = performance.now() - started;
  if (!result.ok) throw new Error(result.problems.join("\n"));
  const n = result.plan.resources.length;
  console.log(`${String(drones).padStart(6)}  ${String(n).padStart(9)}  ${wall.toFixed(0).padStart(8)}  ${(wall / n).toFixed(2).padStart(16)}`);
}
fs.rmSync(out, { recursive: true, force: true });
