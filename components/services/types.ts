// The contract between the Collective and each service (Ceph, K3s, Consul, NATS, MQTT, Home
// Assistant). A service is one ComponentResource that
//   1. generates its secrets once per stack in its constructor (random/tls, kept encrypted in state),
//   2. hands each node its secret files (delivered on stdin to /var/lib/borg/secrets, never in
//      node.json, the Nix store or a command line) and the guards around that node's switch,
//   3. once every node exists, adds its cross-node steps and readiness gates (remote commands that
//      wait only for the nodes they need) and registers its exports.
import type * as command from "@pulumi/command";
import type * as pulumi from "@pulumi/pulumi";
import type { NodeSpec } from "../config/validate.js";

/** A file under /var/lib/borg/secrets on one node; root-owned until its owner exists (see base.nix). */
export interface SecretFile {
  readonly name: string;
  readonly owner: string;
  readonly group: string;
  readonly value: pulumi.Input<string>;
  /** Units restarted (try-restart) when the file's content changes: rotation without a redeploy. */
  readonly restartUnits?: readonly string[];
}

/** A node as the service layer sees it once its deploy resources exist. */
export interface NodeHandle {
  readonly spec: NodeSpec;
  /** Pinned host key, key auth, bounded dials: every service step connects with this. */
  readonly connection: command.types.input.remote.ConnectionArgs;
  /** Exists once the node runs (and boots) its new configuration, guards included. */
  readonly deployed: pulumi.Resource;
  /** Root-owned, verified copy of the node's bundle: service scripts run from here. */
  readonly installedBundle: string;
  readonly bundleHash: string;
  /** Identity of the machine: a new machine re-runs every step. */
  readonly machineId: pulumi.Input<string>;
}

/** One half of a guard: a script of node-scripts/services/ run on this node or on an earlier one. */
export interface GuardStep {
  /** "self", or the handle of a node constructed before this one (the queen comes first). */
  readonly on: "self" | NodeHandle;
  /** Path under node-scripts/ (e.g. "services/ceph-guard.sh") and its non-secret arguments. */
  readonly script: string;
  readonly args: readonly string[];
}

/**
 * Service-aware safety around one node's switch, in its rollout lane: `before` runs before the
 * activation (e.g. `ceph osd set noout`, `kubectl cordon`), `after` once the confirm succeeded and
 * must return only when the service is back to its pre-deploy health. A failed confirm skips
 * `after`, leaving the guard in place; `leftInPlace` tells the operator what and how to undo.
 */
export interface RolloutGuard {
  readonly service: string;
  readonly before: GuardStep;
  readonly after: GuardStep;
  readonly leftInPlace: string;
}

export interface CollectiveService {
  /** Secret files (with values) this node receives for the service. */
  secretFiles(node: NodeSpec): SecretFile[];
  /** Guards around this node's switch; `earlier` holds the nodes already constructed. */
  guards(node: NodeSpec, earlier: ReadonlyMap<string, NodeHandle>): RolloutGuard[];
  /** Cross-node steps, gates and exports, once every node exists. */
  bootstrap(nodes: ReadonlyMap<string, NodeHandle>): void;
}
