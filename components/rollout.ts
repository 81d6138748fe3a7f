import type { NodeSpec } from "./config/validate.js";

/**
 * Rollout lanes: with `maxParallel: k`, quorum-bearing nodes are dealt round-robin into k lanes and
 * each waits for the confirm of the node before it in its lane, so at most k quorum members are
 * switching at once. Without a limit (or for other nodes) nothing waits.
 * @returns node name → name of the node whose confirm it waits for.
 */
export function rolloutPredecessors(nodes: readonly NodeSpec[], maxParallel: number | undefined): Map<string, string> {
  const waits = new Map<string, string>();
  if (maxParallel === undefined) return waits;
  const quorum = nodes.filter((n) => n.quorum);
  quorum.forEach((node, i) => {
    if (i >= maxParallel) waits.set(node.name, quorum[i - maxParallel]!.name);
  });
  return waits;
}
