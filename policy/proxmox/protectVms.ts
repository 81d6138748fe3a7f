// Stateful VMs are protected twice: in Proxmox (protection) and in Pulumi (protect).
import { resourceRule, type Finding } from "../lib/define";
import { isOn } from "../lib/infraProps";
import { PROXMOX_VM } from "../lib/infraTypes";

export const proxmoxProtectVms = resourceRule({
  name: "proxmox-protect-vms",
  description: "A VM must have Proxmox `protection: true` and the Pulumi `protect` option, so neither a click nor a `pulumi destroy` deletes it (enforced in prod via config).",
  appliesTo: (type) => type === PROXMOX_VM,
  check: ({ props, opts }) => {
    const findings: Finding[] = [];
    if (!isOn(props.protection)) {
      findings.push({
        field: "protection",
        problem: "is not true: the VM and its disks can be removed from the Proxmox UI or API",
        fix: "set protection: true on the VM (prod stacks)",
      });
    }
    if (opts?.protect !== true) {
      findings.push({
        field: "opts.protect",
        problem: "is not set: `pulumi destroy` or a replacing change deletes the VM and its data",
        fix: "pass { protect: true } in the VM's resource options (prod stacks)",
      });
    }
    return findings;
  },
});
