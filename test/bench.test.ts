// The critical path (the longest chain of remote steps) must not grow with the drone count beyond
// what the rollout lanes require: without a lane limit, 3 and 30 drones give the same chain. The
// control: with one lane it does grow, so the measure can see growth. Timing is not asserted.
import { describe, expect, it } from "vitest";
import { stackWithDrones } from "../scripts/lib/benchStack.js";
import { criticalPath } from "../scripts/lib/criticalPath.js";
import type { CapturedResource } from "../scripts/lib/mockedProgram.js";
import { synthFresh } from "./helpers.js";

const res = (name: string, type: string, deps: string[] = [], parent: string | null = null, custom = true): CapturedResource => ({
  urn: `urn:${name}`,
  type,
  name,
  custom,
  parent: parent ? `urn:${parent}` : null,
  dependencies: deps.map((d) => `urn:${d}`),
  provider: null,
  protect: false,
  ignoreChanges: [],
  additionalSecretOutputs: [],
  replaceOnChanges: [],
  inputs: {},
});
const CMD = "command:remote:Command";

describe("criticalPath", () => {
  it("counts remote steps only, and waiting on a component waits on everything under it", () => {
    const plan = [
      res("vm", "proxmoxve:index/vmLegacy:VmLegacy"),
      res("a", CMD, ["vm"]),
      res("host", "borg:index:NixosHost", [], null, false),
      res("b", "command:remote:CopyToRemote", ["a"], "host"),
      res("c", CMD, ["b"], "host"),
      res("d", CMD, ["host"]),
      res("e", CMD, ["a"]),
    ];
    expect(criticalPath(plan)).toEqual({ length: 4, chain: ["a", "b", "c", "d"] });
  });

  it("refuses a cycle", () => {
    expect(() => criticalPath([res("a", CMD, ["b"]), res("b", CMD, ["a"])])).toThrow(/cycle/);
  });
});

describe("the critical path of generated stacks", () => {
  it("without a lane limit: the same for 3 and 30 drones; with one lane it grows with every quorum node", async () => {
    const [small, large, laned] = [
      await synthFresh(stackWithDrones(3)),
      await synthFresh(stackWithDrones(30)),
      await synthFresh(stackWithDrones(30, 1)),
    ].map((s) => criticalPath(s.plan.resources));
    expect(small!.length).toBeGreaterThan(5);
    expect(large!.length).toBe(small!.length);
    // one lane: each of the 30 drones adds its switch (activate, confirm) to the chain
    expect(laned!.length).toBeGreaterThanOrEqual(large!.length + 2 * 28);
  }, 180_000);
});
