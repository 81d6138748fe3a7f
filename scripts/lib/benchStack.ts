// The stack `npm run bench` synthesizes: prod with N drones (addresses and VM ids follow the index).
import * as path from "node:path";
import { PROJECT_ROOT } from "../../components/bundle.js";
import { readStackFile, type StackConfig } from "./stackFile.js";

/** `maxParallel`: the rollout lanes; undefined removes the limit (every node in parallel). */
export function stackWithDrones(count: number, maxParallel?: number): StackConfig {
  const base = readStackFile(path.join(PROJECT_ROOT, "stacks", "Pulumi.prod.yaml"));
  const values = { ...base.values };
  // /22 gives room for 100+ nodes.
  values["borg:network"] = JSON.stringify({ cidr: "10.42.0.0/22", gateway: "10.42.0.1", dns: ["10.42.0.1"], domain: "bench.hive.lan", bridge: "vmbr0" });
  values["borg:drones"] = JSON.stringify(
    Array.from({ length: count }, (_, i) => ({
      name: `drone-${i + 1}`,
      vmId: 1000 + i,
      address: `10.42.${1 + Math.floor(i / 250)}.${(i % 250) + 1}`,
      osdDiskGb: 100,
    })),
  );
  const rollout = JSON.parse(values["borg:rollout"] ?? "{}") as Record<string, unknown>;
  if (maxParallel === undefined) delete rollout.maxParallel;
  else rollout.maxParallel = maxParallel;
  values["borg:rollout"] = JSON.stringify(rollout);
  return { ...base, stack: `bench${count}${maxParallel === undefined ? "" : `-lanes${maxParallel}`}`, values };
}
