// What every service's settings function gets: the validated spec, the node being rendered and a
// few lookups they all need.
import type { CollectiveSpec, NodeSpec } from "../config/validate.js";

export interface ServiceContext {
  readonly spec: CollectiveSpec;
  readonly node: NodeSpec;
  readonly queen: NodeSpec;
  /** Queen and drones: the nodes that hold quorum and data (never the edge Pi). */
  readonly cluster: readonly NodeSpec[];
  readonly isEdge: boolean;
  addressOf(name: string): string;
}

export function serviceContext(spec: CollectiveSpec, node: NodeSpec): ServiceContext {
  return {
    spec,
    node,
    queen: spec.nodes.find((n) => n.role === "queen")!,
    cluster: spec.nodes.filter((n) => n.quorum),
    isEdge: node.role === "edge",
    addressOf: (name) => spec.nodes.find((n) => n.name === name)!.address,
  };
}
