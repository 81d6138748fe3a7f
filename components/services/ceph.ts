// Ceph: monitors from borg:services.ceph.monitors, the active manager on the queen and a standby on
// another monitor host, one bluestore OSD per drone disk, an RBD pool for Kubernetes.
//   - node.json (cephSettings) says who runs what; nix/modules/services/ceph.nix renders ceph.conf
//     through nix/lib/ceph.nix and runs the node-local oneshots (node-scripts/services/ceph-{mon,mgr,osd}.sh);
//   - the Ceph component generates the fsid, the OSD uuids and every cephx key once per stack,
//     hands each node its secret files, guards each monitor/OSD host's switch with noout, and runs
//     the cross-node steps: register on the queen (quorum, keys, OSDs) → each OSD host's osd-up →
//     pool → gate on the queen.
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { createHash } from "node:crypto";
import { OSD_DEVICE } from "../bundle-paths.js";
import type { CollectiveSpec, NodeSpec } from "../config/validate.js";
import { cephxKey, keyringSection } from "./cephx.js";
import type { ServiceContext } from "./context.js";
import { port } from "./ports.js";
import { remoteStep } from "./remoteStep.js";
import type { CollectiveService, NodeHandle, RolloutGuard, SecretFile } from "./types.js";

/** The RBD pool Ceph CSI provisions volumes in, and its client (`client.kubernetes`). */
export const CEPH_POOL = "kubernetes";
export const CEPH_CLIENT = "kubernetes";

/** Secret files under the secrets dir (all root 0400; the oneshots copy keyrings to the daemons). */
export const CEPH_SECRET = {
  fsid: "ceph-fsid",
  monKeyring: "ceph-mon-keyring",
  adminKeyring: "ceph-admin-keyring",
  mgrKeyring: "ceph-mgr-keyring",
  osdKeyring: "ceph-osd-keyring",
  osdUuid: "ceph-osd-uuid",
} as const;

/** Capabilities per entity (sorted by daemon, as `ceph auth get` prints them). */
export const CEPH_CAPS = {
  mon: { mon: "allow *" },
  admin: { mds: "allow *", mgr: "allow *", mon: "allow *", osd: "allow *" },
  bootstrapOsd: { mgr: "allow r", mon: "profile bootstrap-osd" },
  mgr: { mds: "allow *", mon: "allow profile mgr", osd: "allow *" },
  osd: { mgr: "allow profile osd", mon: "allow profile osd", osd: "allow *" },
  client: (pool: string) => ({ mgr: `profile rbd pool=${pool}`, mon: "profile rbd", osd: `profile rbd pool=${pool}` }),
} as const;

export interface CephSettings {
  enable: boolean;
  monitor: boolean;
  manager: boolean;
  /** Holds client.admin: runs the cross-node steps, the gate and the rolling guards (the queen). */
  admin: boolean;
  osdDevice: string | null;
  /** Pinned OSD id (the drone's position among the OSD drones), or null. */
  osdId: number | null;
  monitors: { name: string; address: string }[];
  publicNetwork: string;
  pool: string;
  poolSize: number;
  poolMinSize: number;
  /** CRUSH failure domain: replicas on different hosts once there are 3 OSD hosts, else OSDs. */
  failureDomain: "host" | "osd";
  /** cephx everywhere (the ceph-auth-required policy checks these). */
  auth: { cluster: "cephx" | "none"; service: "cephx" | "none"; client: "cephx" | "none" };
}

/** Who runs what in the stack's Ceph cluster. Pure: from the validated spec. */
export interface CephPlan {
  readonly monitors: readonly NodeSpec[];
  /** The active manager first (the queen), then a standby on another monitor host if there is one. */
  readonly managers: readonly NodeSpec[];
  /** Holds client.admin and runs the cross-node steps and guards. */
  readonly admin: NodeSpec;
  readonly osds: readonly { node: NodeSpec; id: number }[];
  readonly poolSize: number;
  readonly poolMinSize: number;
  readonly failureDomain: "host" | "osd";
  /** Health checks the gate accepts (named in the README): none, or POOL_NO_REDUNDANCY for one replica. */
  readonly acceptedWarnings: readonly string[];
}

export function cephPlan(spec: CollectiveSpec): CephPlan {
  const { ceph } = spec.services;
  const byName = (name: string) => spec.nodes.find((n) => n.name === name)!;
  const queen = spec.nodes.find((n) => n.role === "queen")!;
  const monitors = ceph.monitors.map(byName);
  const standby = monitors.find((m) => m.name !== queen.name);
  // OSD ids follow the drones' order in the stack: append drones, never reorder them.
  const osds = spec.nodes.filter((n) => n.osdDiskGb !== undefined).map((node, id) => ({ node, id }));
  const poolSize = ceph.osdPoolSize ?? Math.max(1, Math.min(3, osds.length));
  return {
    monitors,
    managers: standby ? [queen, standby] : [queen],
    admin: queen,
    osds,
    poolSize,
    // Ceph's own default: a majority of the replicas must be up to serve I/O.
    poolMinSize: poolSize - Math.floor(poolSize / 2),
    failureDomain: osds.length >= 3 ? "host" : "osd",
    acceptedWarnings: poolSize === 1 ? ["POOL_NO_REDUNDANCY"] : [],
  };
}

export function cephSettings({ spec, node, isEdge, addressOf }: ServiceContext): CephSettings {
  const plan = cephPlan(spec);
  const osd = plan.osds.find((o) => o.node.name === node.name);
  return {
    enable: spec.services.ceph.enabled && !isEdge,
    monitor: plan.monitors.some((m) => m.name === node.name),
    manager: plan.managers.some((m) => m.name === node.name),
    admin: plan.admin.name === node.name,
    osdDevice: osd ? OSD_DEVICE : null,
    osdId: osd ? osd.id : null,
    monitors: plan.monitors.map((m) => ({ name: m.name, address: addressOf(m.name) })),
    publicNetwork: spec.network.cidr,
    pool: CEPH_POOL,
    poolSize: plan.poolSize,
    poolMinSize: plan.poolMinSize,
    failureDomain: plan.failureDomain,
    auth: { cluster: "cephx", service: "cephx", client: "cephx" },
  };
}

export function cephRoles(s: CephSettings): string[] {
  if (!s.enable) return [];
  return [...(s.monitor ? ["ceph-mon"] : []), ...(s.manager ? ["ceph-mgr"] : []), ...(s.osdDevice ? ["ceph-osd"] : [])];
}

// --- the secret texts, as pure functions of the generated values (the real-daemon test uses them too)

export interface CephValues {
  fsid: string;
  keys: { mon: string; admin: string; bootstrapOsd: string; client: string; mgr: Record<string, string>; osd: Record<number, string> };
  osdUuids: Record<number, string>;
}

/** What the monitors' mkfs imports: mon., client.admin, client.bootstrap-osd and every manager. */
export function monKeyring(plan: CephPlan, v: CephValues): string {
  return [
    keyringSection("mon.", v.keys.mon, CEPH_CAPS.mon),
    keyringSection("client.admin", v.keys.admin, CEPH_CAPS.admin),
    keyringSection("client.bootstrap-osd", v.keys.bootstrapOsd, CEPH_CAPS.bootstrapOsd),
    ...plan.managers.map((m) => keyringSection(`mgr.${m.name}`, v.keys.mgr[m.name]!, CEPH_CAPS.mgr)),
  ].join("");
}

export const adminKeyring = (v: CephValues) => keyringSection("client.admin", v.keys.admin, CEPH_CAPS.admin);
export const mgrKeyring = (name: string, v: CephValues) => keyringSection(`mgr.${name}`, v.keys.mgr[name]!, CEPH_CAPS.mgr);
export const osdKeyring = (id: number, v: CephValues) => keyringSection(`osd.${id}`, v.keys.osd[id]!);
export const clientKeyring = (v: CephValues) => keyringSection(`client.${CEPH_CLIENT}`, v.keys.client, CEPH_CAPS.client(CEPH_POOL));

/** stdin of ceph-register.sh: the managers' keys and every OSD's id, uuid and key, with their caps. */
export function registerInput(plan: CephPlan, v: CephValues): string {
  return JSON.stringify({
    keys: plan.managers.map((m) => ({ entity: `mgr.${m.name}`, key: v.keys.mgr[m.name]!, caps: CEPH_CAPS.mgr })),
    osds: plan.osds.map((o) => ({ id: o.id, uuid: v.osdUuids[o.id]!, key: v.keys.osd[o.id]!, caps: CEPH_CAPS.osd })),
  });
}

/** `name=[v2:ip:3300,v1:ip:6789]` for every monitor: the initial monmap the oneshots build. */
export function monmapMembers(monitors: readonly { name: string; address: string }[], ports = { msgr2: port("ceph-mon-msgr2"), msgr1: port("ceph-mon-msgr1") }): string[] {
  return monitors.map((m) => `${m.name}=[v2:${m.address}:${ports.msgr2},v1:${m.address}:${ports.msgr1}]`);
}

// --- the component -----------------------------------------------------------------------------

export interface CephArgs {
  readonly spec: CollectiveSpec;
}

/** What the platform's Ceph CSI driver needs (platform.md: clusterID, monitors, pool, user). */
export interface CephExports {
  fsid: pulumi.Output<string>;
  /** msgr1 addresses (`ip:6789`): what ceph-csi and the kernel RBD client dial. */
  monitors: string[];
  pool: string;
  userId: string;
  userKey: pulumi.Output<string>;
}

export class Ceph extends pulumi.ComponentResource implements CollectiveService {
  readonly plan: CephPlan;
  readonly exports: CephExports;
  /** The health gate: exists once the cluster is healthy and the pool and client are in place. */
  ready?: pulumi.Resource;
  private readonly values: pulumi.Output<CephValues>;
  private readonly name: string;

  constructor(name: string, args: CephArgs, opts?: pulumi.ComponentResourceOptions) {
    super("borg:index:Ceph", name, {}, opts);
    this.name = name;
    const child = { parent: this };
    this.plan = cephPlan(args.spec);
    const plan = this.plan;

    // Generated once per stack and kept in state; RandomBytes' outputs are secret already.
    const fsid = new random.RandomUuid(`${name}-fsid`, {}, child).result;
    const key = (id: string) => new random.RandomBytes(`${name}-key-${id}`, { length: 16 }, child).base64.apply((b) => cephxKey(b));
    const mgrNames = plan.managers.map((m) => m.name);
    const osdIds = plan.osds.map((o) => o.id);
    const osdUuids = osdIds.map((id) => new random.RandomUuid(`${name}-osd-${id}-uuid`, {}, child).result);
    const byName = <K extends string | number>(ids: readonly K[], values: string[]) => Object.fromEntries(ids.map((id, i) => [id, values[i]!]));
    this.values = pulumi.secret(
      pulumi
        .all([
          fsid,
          pulumi.all([key("mon"), key("client-admin"), key("client-bootstrap-osd"), key(`client-${CEPH_CLIENT}`)]),
          pulumi.all(mgrNames.map((n) => key(`mgr-${n}`))),
          pulumi.all(osdIds.map((id) => key(`osd-${id}`))),
          pulumi.all(osdUuids),
        ])
        .apply(([fsid, [mon, admin, bootstrapOsd, client], mgr, osd, uuids]): CephValues => ({
          fsid,
          keys: { mon, admin, bootstrapOsd, client, mgr: byName(mgrNames, mgr), osd: byName(osdIds, osd) },
          osdUuids: byName(osdIds, uuids),
        })),
    );

    this.exports = {
      fsid,
      monitors: plan.monitors.map((m) => `${m.address}:${port("ceph-mon-msgr1")}`),
      pool: CEPH_POOL,
      userId: CEPH_CLIENT,
      userKey: pulumi.secret(this.values.apply((v) => v.keys.client)),
    };
  }

  secretFiles(node: NodeSpec): SecretFile[] {
    const plan = this.plan;
    const is = (list: readonly NodeSpec[]) => list.some((n) => n.name === node.name);
    const osd = plan.osds.find((o) => o.node.name === node.name);
    if (!is(plan.monitors) && !is(plan.managers) && !osd && plan.admin.name !== node.name) return [];
    const file = (name: string, value: (v: CephValues) => string, restartUnits?: string[]): SecretFile => ({
      name,
      owner: "root",
      group: "root",
      value: this.values.apply(value),
      ...(restartUnits ? { restartUnits } : {}),
    });
    return [
      file(CEPH_SECRET.fsid, (v) => v.fsid),
      ...(is(plan.monitors) ? [file(CEPH_SECRET.monKeyring, (v) => monKeyring(plan, v))] : []),
      ...(plan.admin.name === node.name ? [file(CEPH_SECRET.adminKeyring, adminKeyring)] : []),
      ...(is(plan.managers) ? [file(CEPH_SECRET.mgrKeyring, (v) => mgrKeyring(node.name, v), [`borg-ceph-mgr-${node.name}.service`, `ceph-mgr-${node.name}.service`])] : []),
      ...(osd
        ? [
            file(CEPH_SECRET.osdKeyring, (v) => osdKeyring(osd.id, v), [`borg-ceph-osd-${osd.id}.service`, `ceph-osd-${osd.id}.service`]),
            file(CEPH_SECRET.osdUuid, (v) => v.osdUuids[osd.id]!),
          ]
        : []),
    ];
  }

  guards(node: NodeSpec, earlier: ReadonlyMap<string, NodeHandle>): RolloutGuard[] {
    const plan = this.plan;
    const holdsData = plan.monitors.some((m) => m.name === node.name) || plan.osds.some((o) => o.node.name === node.name);
    if (!holdsData) return [];
    const admin = plan.admin.name;
    const on = node.name === admin ? ("self" as const) : earlier.get(admin);
    if (on === undefined) throw new Error(`ceph: the admin host ${admin} must be deployed before ${node.name}`);
    return [
      {
        service: "ceph",
        before: { on, script: "services/ceph-guard.sh", args: ["before"] },
        after: { on, script: "services/ceph-guard.sh", args: ["after"] },
        leftInPlace: `the cluster keeps noout set (the OSDs of ${node.name} are not rebalanced away); once ${node.name} is healthy, run on ${admin}: sudo ceph osd unset noout`,
      },
    ];
  }

  bootstrap(nodes: ReadonlyMap<string, NodeHandle>): void {
    const plan = this.plan;
    const child = { parent: this };
    const handle = (n: NodeSpec) => nodes.get(n.name)!;
    const admin = handle(plan.admin);
    // Secret inputs re-run their step when they change, without putting the value in plain state.
    const digest = (text: pulumi.Output<string>) => pulumi.secret(text.apply((t) => createHash("sha256").update(t).digest("hex")));

    const registerStdin = this.values.apply((v) => registerInput(plan, v));
    const register = remoteStep(
      `${this.name}-register`,
      {
        node: admin,
        script: "services/ceph-register.sh",
        args: [String(plan.monitors.length)],
        stdin: registerStdin,
        triggers: [digest(registerStdin)],
        dependsOn: plan.monitors.map((m) => handle(m).deployed),
      },
      child,
    );
    // Each OSD host: its daemon (restarting until its key was known) active on its own admin socket.
    const osdsUp = plan.osds.map((o) =>
      remoteStep(`${this.name}-osd-${o.id}-up`, { node: handle(o.node), script: "services/ceph-osd-up.sh", args: [String(o.id)], dependsOn: [register] }, child),
    );
    const clientStdin = this.values.apply(clientKeyring);
    const pool = remoteStep(
      `${this.name}-pool`,
      {
        node: admin,
        script: "services/ceph-pool.sh",
        args: [CEPH_POOL, String(plan.poolSize), String(plan.poolMinSize), plan.failureDomain, String(plan.osds.length)],
        stdin: clientStdin,
        triggers: [digest(clientStdin)],
        dependsOn: [register, ...osdsUp],
      },
      child,
    );
    this.ready = remoteStep(
      `${this.name}-gate`,
      {
        node: admin,
        script: "services/ceph-gate.sh",
        args: [String(plan.monitors.length), String(plan.osds.length), plan.acceptedWarnings.join(",") || "-"],
        dependsOn: [pool],
      },
      child,
    );
    this.registerOutputs({ fsid: this.exports.fsid, monitors: this.exports.monitors, pool: CEPH_POOL, userId: CEPH_CLIENT, userKey: this.exports.userKey });
  }
}

