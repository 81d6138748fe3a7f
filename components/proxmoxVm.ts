// ProxmoxVm: one NixOS VM cloned from the template, with cloud-init carrying the deploy user, the
// operator keys, the static address and a pinned SSH host key (no trust on first use).
import * as proxmoxve from "@muhlba91/pulumi-proxmoxve";
import * as pulumi from "@pulumi/pulumi";
import { stringify } from "yaml";
import type { Network, Proxmox } from "./config/schema.js";
import type { NodeSpec } from "./config/validate.js";
import { parseCidr } from "./config/ipv4.js";

export interface ProxmoxVmArgs {
  readonly node: NodeSpec;
  readonly stack: string;
  readonly proxmox: Proxmox;
  readonly network: Network;
  readonly authorizedKeys: readonly string[];
  /** The host key pair cloud-init installs as the VM's SSH host key. */
  readonly hostKey: { readonly privateKeyOpenssh: pulumi.Input<string>; readonly publicKeyOpenssh: pulumi.Input<string> };
  /** Proxmox `protection` and Pulumi `protect` (prod): deleting the VM needs two deliberate steps. */
  readonly protect: boolean;
}

export class ProxmoxVm extends pulumi.ComponentResource {
  readonly vm: proxmoxve.VmLegacy;
  /** Provider id of the VM: changes only when the VM is replaced. */
  readonly machineId: pulumi.Output<string>;

  constructor(name: string, args: ProxmoxVmArgs, opts?: pulumi.ComponentResourceOptions) {
    super("borg:index:ProxmoxVm", name, {}, opts);
    const { node, proxmox, network } = args;
    const child = { parent: this };

    // Vendor data is merged under the user data Proxmox generates from `userAccount`, so the
    // user account stays visible (and policy-checked) while the host key travels in a snippet.
    const vendorData = pulumi.secret(
      pulumi.all([args.hostKey.privateKeyOpenssh, args.hostKey.publicKeyOpenssh]).apply(
        ([privateKey, publicKey]) =>
          `#cloud-config\n${stringify({
            ssh_deletekeys: true,
            ssh_genkeytypes: [],
            ssh_keys: { ed25519_private: privateKey, ed25519_public: publicKey.trim() },
          }, { lineWidth: 0 })}`,
      ),
    );
    const snippet = new proxmoxve.FileLegacy(
      `${name}-vendor-data`,
      {
        nodeName: proxmox.node,
        datastoreId: proxmox.snippetsDatastore,
        contentType: "snippets",
        sourceRaw: { fileName: `borg-${args.stack}-${node.name}-vendor.yaml`, data: vendorData },
      },
      child,
    );

    const disks: proxmoxve.types.input.VmLegacyDisk[] = [
      { interface: "virtio0", datastoreId: proxmox.datastore, size: node.diskGb, discard: "on", iothread: true },
    ];
    if (node.osdDiskGb !== undefined) {
      // Raw, unformatted: ceph-volume takes the whole device for the OSD.
      disks.push({ interface: "virtio1", datastoreId: proxmox.datastore, size: node.osdDiskGb, discard: "on", iothread: true, fileFormat: "raw" });
    }

    this.vm = new proxmoxve.VmLegacy(
      `${name}-qemu`,
      {
        nodeName: proxmox.node,
        vmId: node.vmId!,
        name: node.name,
        description: `borg-collective ${args.stack}: ${node.role} ${node.name} (managed by Pulumi; changes here are overwritten)`,
        tags: ["borg", node.role, args.stack],
        clone: { vmId: proxmox.templateVmId, full: true, datastoreId: proxmox.datastore, nodeName: proxmox.node, retries: 3 },
        cpu: { cores: node.cores, sockets: 1, type: "host" },
        memory: { dedicated: node.memoryMb },
        disks,
        scsiHardware: "virtio-scsi-single",
        networkDevices: [{ bridge: network.bridge, model: "virtio", firewall: true, ...(network.vlanId !== undefined ? { vlanId: network.vlanId } : {}) }],
        operatingSystem: { type: "l26" },
        // The template image runs qemu-guest-agent (nix/images/proxmox-template.nix); without it this would hang.
        agent: { enabled: true, trim: true, timeout: "5m" },
        initialization: {
          interface: "ide2",
          datastoreId: proxmox.datastore,
          ipConfigs: [{ ipv4: { address: `${node.address}/${parseCidr(network.cidr)!.prefixLength}`, gateway: network.gateway } }],
          dns: { servers: [...network.dns], domain: network.domain },
          userAccount: { username: node.sshUser, keys: [...args.authorizedKeys] },
          vendorDataFileId: snippet.id,
        },
        onBoot: true,
        started: true,
        protection: args.protect,
      },
      {
        ...child,
        protect: args.protect,
        // After the first deploy NixOS owns users and keys (node.json); a key rotation must not
        // replace the VM (cloud-init key changes force a replacement in this provider).
        ignoreChanges: ["initialization.userAccount"],
      },
    );
    this.machineId = this.vm.id;
    this.registerOutputs({ vmId: this.vm.vmId, machineId: this.machineId });
  }
}
