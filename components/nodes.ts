// The collective's machines: Queen, Drone and EdgePi share one shape (an optional VM, then NixOS
// on top); their type tokens and roles differ, and the role decides what node.json carries.
import type * as proxmoxve from "@muhlba91/pulumi-proxmoxve";
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import * as path from "node:path";
import { buildBundle, HOST_KEY_SECRET, renderNodeJson, writeBundle } from "./bundle.js";
import type { CollectiveSpec, NodeSpec } from "./config/validate.js";
import { NixosHost, type SecretFile } from "./nixosHost.js";
import { ProxmoxVm } from "./proxmoxVm.js";
import type { CollectiveService, NodeHandle } from "./services/types.js";

export interface CollectiveNodeArgs {
  readonly spec: CollectiveSpec;
  readonly node: NodeSpec;
  readonly stack: string;
  readonly sshPrivateKey: pulumi.Input<string>;
  /** Bundles are written to `<bundleRoot>/<stack>/nodes/<node>/`. */
  readonly bundleRoot: string;
  readonly proxmoxProvider?: proxmoxve.Provider;
  /** Rollout lane predecessor: this node's activation waits for it. */
  readonly after?: NixosHost;
  /** The services whose secrets and switch guards this node gets. */
  readonly services?: readonly CollectiveService[];
  /** Nodes constructed before this one (guards may run on them, e.g. on the queen). */
  readonly earlier?: ReadonlyMap<string, NodeHandle>;
}

export abstract class CollectiveNode extends pulumi.ComponentResource {
  readonly role: NodeSpec["role"];
  readonly address: string;
  /** The pinned SSH host key every connection to this node verifies. */
  readonly hostKey: pulumi.Output<string>;
  readonly vm?: ProxmoxVm;
  readonly nixos: NixosHost;
  /** What the service layer connects to and waits for. */
  readonly handle: NodeHandle;

  protected constructor(type: string, name: string, args: CollectiveNodeArgs, opts?: pulumi.ComponentResourceOptions) {
    super(type, name, {}, opts);
    const { spec, node } = args;
    const child = { parent: this };
    this.role = node.role;
    this.address = node.address;

    // Values of the secret files this node receives (which files: secretFilesFor, in bundle.ts).
    const secretValues = new Map<string, pulumi.Input<string>>();
    let machineId: pulumi.Input<string>;
    if (node.platform === "proxmox-vm") {
      if (!spec.proxmox || !args.proxmoxProvider) throw new Error(`${node.configPath}: a Proxmox VM needs borg:proxmox`);
      const key = new tls.PrivateKey(`${name}-host-key`, { algorithm: "ED25519" }, child);
      const privateKeyOpenssh = pulumi.secret(key.privateKeyOpenssh);
      this.hostKey = key.publicKeyOpenssh.apply((k) => k.trim());
      this.vm = new ProxmoxVm(
        `${name}-vm`,
        {
          node,
          stack: args.stack,
          proxmox: spec.proxmox,
          network: spec.network,
          authorizedKeys: spec.ssh.authorizedKeys,
          hostKey: { privateKeyOpenssh, publicKeyOpenssh: key.publicKeyOpenssh },
          protect: spec.security.level === "prod",
        },
        { ...child, providers: { proxmoxve: args.proxmoxProvider } },
      );
      machineId = this.vm.machineId;
      // NixOS keeps serving the same key from the secrets dir once cloud-init is off.
      secretValues.set(HOST_KEY_SECRET, privateKeyOpenssh);
    } else {
      // The schema requires a pinned key for every host Pulumi does not create.
      if (node.hostKey === undefined) throw new Error(`${node.configPath}.hostKey: a host Pulumi does not create needs a pinned host key`);
      this.hostKey = pulumi.output(node.hostKey);
      machineId = `existing:${node.address}:${node.hostKey}`;
    }

    const services = args.services ?? [];
    const serviceSecrets = services.flatMap((s) => s.secretFiles(node));
    const guards = services.flatMap((s) => s.guards(node, args.earlier ?? new Map()));
    const nodeJson = renderNodeJson(spec, node, args.stack, serviceSecrets);
    const secrets: SecretFile[] = [
      ...nodeJson.secrets.files.filter((file) => !serviceSecrets.some((s) => s.name === file.name)).map((file) => {
        const value = secretValues.get(file.name);
        if (value === undefined) throw new Error(`${node.configPath}: no value for secret file ${file.name}`);
        return { ...file, value };
      }),
      ...serviceSecrets,
    ];
    const bundle = buildBundle(nodeJson);
    const bundleDir = path.join(args.bundleRoot, args.stack, "nodes", node.name);
    writeBundle(bundle, bundleDir);

    this.nixos = new NixosHost(
      `${name}-nixos`,
      {
        nodeName: node.name,
        ssh: { host: node.address, user: node.sshUser, privateKey: args.sshPrivateKey, hostKey: this.hostKey },
        nodeJson,
        bundle,
        bundleDir,
        secrets,
        machineId,
        ...(this.vm ? { machine: [this.vm] } : {}),
        ...(args.after ? { activateAfter: [args.after.deployed] } : {}),
        confirmTimeoutSeconds: spec.rollout.confirmTimeoutSeconds,
        guards,
      },
      child,
    );
    this.handle = {
      spec: node,
      connection: this.nixos.connection,
      deployed: this.nixos.deployed,
      installedBundle: this.nixos.installedBundle,
      bundleHash: bundle.hash,
      machineId,
    };
    this.registerOutputs({ address: this.address, hostKey: this.hostKey, bundleHash: bundle.hash });
  }
}

/** Ceph mon + mgr, K3s server, Consul server, NATS leaf hub, the MQTT broker. */
export class Queen extends CollectiveNode {
  constructor(name: string, args: CollectiveNodeArgs, opts?: pulumi.ComponentResourceOptions) {
    super("borg:index:Queen", name, args, opts);
  }
}

/** K3s agent, Ceph OSD on its extra disk, NATS cluster member, Consul client or server. */
export class Drone extends CollectiveNode {
  constructor(name: string, args: CollectiveNodeArgs, opts?: pulumi.ComponentResourceOptions) {
    super("borg:index:Drone", name, args, opts);
  }
}

/** The Raspberry Pi 4 at the edge: an existing NixOS host reached over SSH, never a VM. */
export class EdgePi extends CollectiveNode {
  constructor(name: string, args: CollectiveNodeArgs, opts?: pulumi.ComponentResourceOptions) {
    super("borg:index:EdgePi", name, args, opts);
  }
}
