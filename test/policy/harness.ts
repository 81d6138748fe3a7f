// Shared by the per-area policy suites: mutated copies of plan resources and the violation check
// every rule's message must pass (resource, field, fix).
import * as path from "node:path";
import { expect } from "vitest";
import { PROJECT_ROOT } from "../../components/bundle.js";
import type { PlanResource, SingleRun } from "../../scripts/lib/policyRunner.js";

export type Obj = Record<string, any>;
export const INFRA_FIXTURE = path.join(PROJECT_ROOT, "test", "fixtures", "plans", "infra-insecure.json");

/** A mutated deep copy: the synthesized resources are never edited in place. */
export function mutate(r: PlanResource, change: (inputs: Obj, r: PlanResource) => void): PlanResource {
  const copy = structuredClone(r);
  change(copy.inputs as Obj, copy);
  return copy;
}

/** A violation naming `resource` and `field`, with a fix (and, optionally, matching `problem`). */
export function expectViolation(result: Pick<SingleRun, "violations">, resource: string, field: string, problem?: RegExp): void {
  const hit = result.violations.find((v) => v.startsWith(`${resource} (`) && v.includes(`): ${field}: `));
  expect(hit, `${resource} ${field} in ${JSON.stringify(result.violations, null, 1)}`).toBeDefined();
  expect(hit).toContain(". Fix: ");
  if (problem) expect(hit).toMatch(problem);
}
