// Ceph: monitors from borg:services.ceph.monitors, the manager on the queen, one OSD per drone disk.
import { OSD_DEVICE } from "../bundle-paths.js";
import type { ServiceContext } from "./context.js";

export interface CephSettings {
  enable: boolean;
  monitor: boolean;
  manager: boolean;
  osdDevice: string | null;
  monitors: { name: string; address: string }[];
  publicNetwork: string;
  poolSize: number;
}

export function cephSettings({ spec, node, isEdge, addressOf }: ServiceContext): CephSettings {
  const { ceph } = spec.services;
  const osdHosts = spec.nodes.filter((n) => n.osdDiskGb !== undefined).length;
  return {
    enable: ceph.enabled && !isEdge,
    monitor: ceph.monitors.includes(node.name),
    manager: node.role === "queen",
    osdDevice: node.osdDiskGb !== undefined ? OSD_DEVICE : null,
    monitors: ceph.monitors.map((name) => ({ name, address: addressOf(name) })),
    publicNetwork: spec.network.cidr,
    poolSize: ceph.osdPoolSize ?? Math.max(1, Math.min(3, osdHosts)),
  };
}

export function cephRoles(s: CephSettings): string[] {
  if (!s.enable) return [];
  return [...(s.monitor ? ["ceph-mon"] : []), ...(s.manager ? ["ceph-mgr"] : []), ...(s.osdDevice ? ["ceph-osd"] : [])];
}
