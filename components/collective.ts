// Collective: the whole home lab of one stack — the Proxmox provider, the queen, the drones and the
// edge Pi, wired into rollout lanes.
import * as proxmoxve from "@muhlba91/pulumi-proxmoxve";
import * as pulumi from "@pulumi/pulumi";
import type { CollectiveSpec } from "./config/validate.js";
import { CollectiveNode, Drone, EdgePi, Queen } from "./nodes.js";
import { rolloutPredecessors } from "./rollout.js";
import { createServices } from "./services/registry.js";
import type { CollectiveService, NodeHandle } from "./services/types.js";

export interface CollectiveArgs {
  readonly spec: CollectiveSpec;
  readonly stack: string;
  readonly sshPrivateKey: pulumi.Input<string>;
  /** Required when any node is a Proxmox VM. */
  readonly proxmoxApiToken?: pulumi.Input<string>;
  readonly bundleRoot: string;
}

export interface NodeSummary {
  role: string;
  address: string;
  hostKey: pulumi.Output<string>;
}

export class Collective extends pulumi.ComponentResource {
  readonly nodes: Record<string, CollectiveNode> = {};
  /** The services of the stack, in bootstrap order (see components/services/). */
  readonly services: readonly CollectiveService[];
  /** `known_hosts` lines for every node: operators can `ssh` without trusting on first use too. */
  readonly knownHosts: pulumi.Output<string>;

  constructor(name: string, args: CollectiveArgs, opts?: pulumi.ComponentResourceOptions) {
    super("borg:index:Collective", name, {}, opts);
    const { spec } = args;
    const child = { parent: this };

    let provider: proxmoxve.Provider | undefined;
    if (spec.proxmox && spec.nodes.some((n) => n.platform === "proxmox-vm")) {
      provider = new proxmoxve.Provider(
        `${name}-proxmox`,
        {
          endpoint: spec.proxmox.endpoint,
          apiToken: args.proxmoxApiToken,
          insecure: spec.proxmox.insecure,
          // Snippet uploads go over SSH to the PVE node.
          ssh: { username: spec.proxmox.sshUser, privateKey: args.sshPrivateKey, agent: false },
        },
        child,
      );
    }

    // Services first: their generated secrets and switch guards go into every node's deploy.
    this.services = createServices({ spec, stack: args.stack }, child);
    const handles = new Map<string, NodeHandle>();
    const waitsFor = rolloutPredecessors(spec.nodes, spec.rollout.maxParallel);
    for (const node of spec.nodes) {
      const predecessor = waitsFor.get(node.name);
      const nodeArgs = {
        spec,
        node,
        stack: args.stack,
        sshPrivateKey: args.sshPrivateKey,
        bundleRoot: args.bundleRoot,
        ...(provider ? { proxmoxProvider: provider } : {}),
        ...(predecessor ? { after: this.nodes[predecessor]!.nixos } : {}),
        services: this.services,
        earlier: new Map(handles),
      };
      const Kind = node.role === "queen" ? Queen : node.role === "drone" ? Drone : EdgePi;
      this.nodes[node.name] = new Kind(node.name, nodeArgs, child);
      handles.set(node.name, this.nodes[node.name]!.handle);
    }
    for (const service of this.services) service.bootstrap(handles);

    this.knownHosts = pulumi
      .all(spec.nodes.map((n) => this.nodes[n.name]!.hostKey))
      .apply((keys) => spec.nodes.map((n, i) => `${n.address} ${keys[i]}`).join("\n"));
    this.registerOutputs({ knownHosts: this.knownHosts });
  }

  summary(): Record<string, NodeSummary> {
    return Object.fromEntries(
      Object.entries(this.nodes).map(([name, n]) => [name, { role: n.role, address: n.address, hostKey: n.hostKey }]),
    );
  }
}
