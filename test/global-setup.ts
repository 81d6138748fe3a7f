// Synthesizes the committed stacks once per test run; suites that only read a committed stack's
// plan or bundles share it (see synth() in helpers.ts) instead of loading the SDK again.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { TestProject } from "vitest/node";
import { readStackFile } from "../scripts/lib/stackFile.js";
import { synthesize } from "../scripts/lib/synthesize.js";

declare module "vitest" {
  export interface ProvidedContext {
    synthRoot: string;
  }
}

export default async function setup(project: TestProject): Promise<() => void> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "borg-synth-"));
  for (const stack of ["dev", "staging", "prod"]) {
    const result = await synthesize(readStackFile(path.join(import.meta.dirname, "..", "stacks", `Pulumi.${stack}.yaml`)), root);
    if (!result.ok) throw new Error(`committed stack ${stack} is invalid:\n${result.problems.join("\n")}`);
  }
  project.provide("synthRoot", root);
  return () => fs.rmSync(root, { recursive: true, force: true });
}
