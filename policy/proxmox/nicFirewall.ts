// Every VM NIC has the Proxmox firewall on and sits on an allowed bridge (and VLAN).
import { resourceRule, type Finding } from "../lib/define";
import { asArray, asNumber, asRecord, configList, isOn, isPresent } from "../lib/infraProps";
import { PROXMOX_VM } from "../lib/infraTypes";

/** The bridge the provider uses when a NIC names none. */
const DEFAULT_BRIDGE = "vmbr0";

export const proxmoxNicFirewall = resourceRule({
  name: "proxmox-nic-firewall",
  description: "Every VM network device must have the Proxmox firewall on and use an allowed bridge (config allowedBridges) and, when config allowedVlans is set, an allowed VLAN.",
  appliesTo: (type) => type === PROXMOX_VM,
  configProperties: {
    allowedBridges: { type: "array", items: { type: "string" }, default: [DEFAULT_BRIDGE] },
    allowedVlans: { type: "array", items: { type: "integer" }, default: [] },
  },
  check: ({ props }, config) => {
    const findings: Finding[] = [];
    const bridges = configList<string>(config, "allowedBridges", [DEFAULT_BRIDGE]);
    const vlans = configList<number>(config, "allowedVlans", []).map(Number);
    const devices = asArray(props.networkDevices);
    if (devices.length === 0 && isPresent(props.clone)) {
      findings.push({
        field: "networkDevices",
        problem: "is empty on a cloned VM: it keeps the template's NICs, whose firewall and bridge no one checks",
        fix: `declare every NIC in networkDevices with firewall: true on ${bridges.join(" or ")}`,
      });
    }
    devices.forEach((raw, i) => {
      const nic = asRecord(raw) ?? {};
      if (!isOn(nic.firewall)) {
        findings.push({
          field: `networkDevices[${i}].firewall`,
          problem: "is not true: the Proxmox firewall does not filter this NIC, so the VM is open to the whole bridge",
          fix: `set networkDevices[${i}].firewall: true`,
        });
      }
      const bridge = typeof nic.bridge === "string" && nic.bridge !== "" ? nic.bridge : DEFAULT_BRIDGE;
      if (!bridges.includes(bridge)) {
        findings.push({
          field: `networkDevices[${i}].bridge`,
          problem: `is ${bridge}, not one of the allowed bridges (${bridges.join(", ") || "none"})`,
          fix: `attach the NIC to ${bridges.join(" or ") || "an allowed bridge"} (borg:network.bridge), or add ${bridge} to this policy's allowedBridges`,
        });
      }
      if (vlans.length > 0) {
        const vlan = asNumber(nic.vlanId);
        if (vlan === undefined || !vlans.includes(vlan)) {
          findings.push({
            field: `networkDevices[${i}].vlanId`,
            problem: `is ${vlan ?? "not set (untagged)"}, not one of the allowed VLANs (${vlans.join(", ")})`,
            fix: `set networkDevices[${i}].vlanId to one of ${vlans.join(", ")}`,
          });
        }
        const trunks = typeof nic.trunks === "string" ? nic.trunks.split(/[;,]/).map((t) => t.trim()).filter(Boolean) : [];
        const outside = trunks.filter((t) => !vlans.includes(Number(t)));
        if (outside.length > 0) {
          findings.push({
            field: `networkDevices[${i}].trunks`,
            problem: `carries VLANs ${outside.join(", ")} outside the allowed ones (${vlans.join(", ")})`,
            fix: `remove those VLANs from networkDevices[${i}].trunks`,
          });
        }
      }
    });
    return findings;
  },
});
