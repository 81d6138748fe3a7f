// The critical path of a plan: the longest chain of remote steps (SSH commands and copies) through
// the dependency graph. Each remote step is a round trip to a node that may wait (a build, a gate),
// so this chain, not the resource count, bounds how long a `pulumi up` takes.
import type { CapturedResource } from "./mockedProgram.js";

const REMOTE = new Set(["command:remote:Command", "command:remote:CopyToRemote"]);

export interface CriticalPath {
  /** Remote steps on the longest chain. */
  readonly length: number;
  /** Their names, first to last. */
  readonly chain: readonly string[];
}

export function criticalPath(resources: readonly CapturedResource[]): CriticalPath {
  const byUrn = new Map(resources.map((r) => [r.urn, r]));
  const children = new Map<string, string[]>();
  for (const r of resources) if (r.parent) children.set(r.parent, [...(children.get(r.parent) ?? []), r.urn]);
  // Waiting on a component waits on everything under it (the SDK expands such dependencies).
  const expand = (urn: string, out: Set<string>) => {
    const r = byUrn.get(urn);
    if (!r) return;
    if (r.custom) out.add(urn);
    else for (const c of children.get(urn) ?? []) expand(c, out);
  };
  const waitsOn = (r: CapturedResource) => {
    const out = new Set<string>();
    for (const d of r.dependencies) expand(d, out);
    return out;
  };
  const memo = new Map<string, { length: number; chain: string[] }>();
  const visiting = new Set<string>();
  const longest = (urn: string): { length: number; chain: string[] } => {
    const known = memo.get(urn);
    if (known) return known;
    if (visiting.has(urn)) throw new Error(`dependency cycle through ${urn}`);
    visiting.add(urn);
    const r = byUrn.get(urn)!;
    let best = { length: 0, chain: [] as string[] };
    for (const d of waitsOn(r)) {
      const p = longest(d);
      if (p.length > best.length) best = p;
    }
    visiting.delete(urn);
    const self = REMOTE.has(r.type) ? { length: best.length + 1, chain: [...best.chain, r.name] } : best;
    memo.set(urn, self);
    return self;
  };
  let result = { length: 0, chain: [] as string[] };
  for (const r of resources) {
    const p = longest(r.urn);
    if (p.length > result.length) result = p;
  }
  return result;
}
