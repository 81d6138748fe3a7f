// Validates the raw `borg:*` config into one typed CollectiveSpec, or returns every problem at once,
// one line each, starting with its config path. Pure: no Pulumi, no I/O.
import type { z } from "zod";
import { configPath, explainIssue, PARSE_OPTIONS } from "./issues.js";
import { checkNatsStreams } from "../services/nats.js";
import { cidrContains, cidrsOverlap, isReservedInCidr, parseCidr, parseIpv4, type Cidr } from "./ipv4.js";
import { aclAllows, COLLECTIVE_STATUS_TOPIC, RESERVED_MQTT_USERS } from "./mqtt.js";
import { closest } from "./suggest.js";
import {
  SECRET_KEYS,
  SECTION_SCHEMAS,
  type Drone,
  type EdgePi,
  type Network,
  type Proxmox,
  type Queen,
  type Rollout,
  type SecurityLevel,
  type Services,
  type Ssh,
} from "./schema.js";

export type NodeRole = "queen" | "drone" | "edge";
export type Platform = "proxmox-vm" | "raspberry-pi-4" | "generic";

export interface NodeSpec {
  readonly name: string;
  readonly role: NodeRole;
  readonly platform: Platform;
  /** Where this node is declared, e.g. `borg:drones[1]`: used in every error about it. */
  readonly configPath: string;
  readonly address: string;
  readonly vmId?: number;
  /** Pinned host key of an existing host; VMs get a generated one. */
  readonly hostKey?: string;
  readonly sshUser: string;
  readonly cores: number;
  readonly memoryMb: number;
  readonly diskGb: number;
  /** Size of the extra Ceph OSD disk (drones on Proxmox only). */
  readonly osdDiskGb?: number;
  readonly capabilities: readonly string[];
  /** Carries quorum (Ceph mon, Consul server, NATS JetStream peer): updated within rollout lanes. */
  readonly quorum: boolean;
}

export interface CollectiveSpec {
  readonly network: Network;
  readonly proxmox?: Proxmox;
  readonly ssh: Ssh;
  readonly services: Services & {
    readonly ceph: Services["ceph"] & { readonly monitors: string[] };
    readonly k3s: Services["k3s"] & { readonly servers: string[] };
    readonly consul: Services["consul"] & { readonly servers: string[] };
    readonly nats: Services["nats"] & { readonly jetstream: Services["nats"]["jetstream"] & { readonly peers: string[] } };
  };
  readonly rollout: Rollout;
  readonly security: { readonly level: SecurityLevel; readonly tls: boolean };
  /** Queen first, then drones in config order, then the edge Pi. */
  readonly nodes: readonly NodeSpec[];
}

export type ValidationResult = { ok: true; spec: CollectiveSpec } | { ok: false; problems: string[] };

type Path = ReadonlyArray<PropertyKey>;

export { configPath };

class Problems {
  readonly lines: string[] = [];
  readonly #paths = new Set<string>();
  add(path: Path, message: string): void {
    const at = configPath(path);
    this.#paths.add(at);
    this.lines.push(`${at}: ${message}`);
  }
  /** A cross-field rule stays quiet where the field itself is already reported. */
  has(path: Path): boolean {
    return this.#paths.has(configPath(path));
  }
  addZod(prefix: Path, schema: z.ZodType, error: z.ZodError, secret: boolean): void {
    for (const issue of error.issues) for (const p of explainIssue(issue, prefix, schema, secret)) this.add(p.path, p.message);
  }
}

export interface ValidateOptions {
  /** Sections whose value is a secret (set with --secret): their values are never shown in a problem. */
  readonly secretSections?: Iterable<string>;
}

/**
 * @param raw every `borg:*` key without its namespace, values already JSON-decoded.
 *        Secret keys only need to be present; their values are never read here.
 */
export function validateConfig(raw: Readonly<Record<string, unknown>>, options: ValidateOptions = {}): ValidationResult {
  const problems = new Problems();
  const known = [...Object.keys(SECTION_SCHEMAS), ...SECRET_KEYS];
  for (const key of Object.keys(raw)) {
    if (known.includes(key)) continue;
    const guess = closest(key, known);
    problems.add([key], `unknown key; ${guess ? `did you mean ${configPath([guess])}?` : `known keys: ${known.join(", ")}`}`);
  }

  // Each section on its own, so one bad section does not hide the others' problems.
  const secret = new Set(options.secretSections ?? []);
  const parse = <S extends z.ZodType>(key: keyof typeof SECTION_SCHEMAS, schema: S): z.output<S> | undefined => {
    const result = schema.safeParse(raw[key], PARSE_OPTIONS);
    if (result.success) return result.data;
    problems.addZod([key], schema, result.error, secret.has(key));
    return undefined;
  };
  const network = parse("network", SECTION_SCHEMAS.network);
  const proxmox = parse("proxmox", SECTION_SCHEMAS.proxmox);
  const ssh = parse("ssh", SECTION_SCHEMAS.ssh);
  const queen = parse("queen", SECTION_SCHEMAS.queen);
  const drones = parse("drones", SECTION_SCHEMAS.drones);
  const edgePi = parse("edgePi", SECTION_SCHEMAS.edgePi);
  const services = parse("services", SECTION_SCHEMAS.services);
  const rollout = parse("rollout", SECTION_SCHEMAS.rollout);
  const security = parse("security", SECTION_SCHEMAS.security);

  const level = security?.level;
  const tls = security ? (security.tls ?? security.level !== "dev") : undefined;
  const nodes = collectNodes(queen, drones, edgePi, ssh);

  checkNetwork(network, nodes, problems);
  checkIdentities(nodes, proxmox, raw, problems);
  // Membership checks need every node: a node that failed to parse is already reported.
  const allNodesParsed = queen !== undefined && drones !== undefined && (raw.edgePi === undefined || edgePi !== undefined);
  if (services) checkServices(services, network, allNodesParsed ? nodes : undefined, drones, problems);
  if (level === "prod" && tls === false) problems.add(["security", "tls"], "must be true at security level prod");
  for (const key of SECRET_KEYS) {
    const needed = key === "sshPrivateKey" || nodes.some((n) => n.spec.platform === "proxmox-vm");
    if (needed && (raw[key] === undefined || raw[key] === "")) {
      problems.add([key], `is not set; run: pulumi config set --secret borg:${key} ${key === "sshPrivateKey" ? "< ~/.ssh/id_ed25519" : "'user@pve!token=uuid'"}`);
    }
  }

  if (problems.lines.length > 0 || !network || !ssh || !queen || !drones || !services || !rollout || !security) {
    return { ok: false, problems: problems.lines };
  }
  const monitors = services.ceph.monitors ?? [queen.name];
  const servers = services.consul.servers ?? [queen.name];
  const k3sServers = services.k3s.servers ?? [queen.name];
  const quorumNames = nodes.filter((n) => n.spec.quorum).map((n) => n.spec.name);
  const peers = services.nats.jetstream.peers ?? defaultJetStreamPeers(quorumNames);
  return {
    ok: true,
    spec: {
      network,
      ...(proxmox ? { proxmox } : {}),
      ssh,
      services: {
        ...services,
        ceph: { ...services.ceph, monitors },
        k3s: { ...services.k3s, servers: k3sServers },
        consul: { ...services.consul, servers },
        nats: { ...services.nats, jetstream: { ...services.nats.jetstream, peers } },
      },
      rollout,
      security: { level: security.level, tls: tls ?? false },
      nodes: nodes.map((n) => n.spec),
    },
  };
}

/**
 * The first three of the queen and drones (the queen alone with fewer): an odd peer set, and no
 * bigger than R3 streams need. Every peer is another member of the meta group that each switch in
 * a rollout lane waits for.
 */
const defaultJetStreamPeers = (quorum: string[]) => quorum.slice(0, quorum.length >= 3 ? 3 : 1);

interface LocatedNode {
  spec: NodeSpec;
  path: Path;
  kind: "proxmox" | "existing";
}

function collectNodes(queen: Queen | undefined, drones: Drone[] | undefined, edgePi: EdgePi | undefined, ssh: Ssh | undefined): LocatedNode[] {
  const sshUser = ssh?.user ?? "borg";
  const out: LocatedNode[] = [];
  const vmNode = (n: Queen | Drone, role: "queen" | "drone", path: Path): LocatedNode => ({
    path,
    kind: n.kind,
    spec: {
      name: n.name,
      role,
      platform: n.kind === "proxmox" ? "proxmox-vm" : "generic",
      configPath: configPath(path),
      address: n.address,
      ...(n.vmId !== undefined ? { vmId: n.vmId } : {}),
      ...(n.hostKey !== undefined ? { hostKey: n.hostKey } : {}),
      sshUser,
      cores: n.cores,
      memoryMb: n.memoryMb,
      diskGb: n.diskGb,
      ...("osdDiskGb" in n && n.kind === "proxmox" ? { osdDiskGb: n.osdDiskGb } : {}),
      capabilities: "capabilities" in n ? n.capabilities : [],
      quorum: true,
    },
  });
  if (queen) out.push(vmNode(queen, "queen", ["queen"]));
  drones?.forEach((d, i) => out.push(vmNode(d, "drone", ["drones", i])));
  if (edgePi) {
    out.push({
      path: ["edgePi"],
      kind: "existing",
      spec: {
        name: edgePi.name,
        role: "edge",
        platform: "raspberry-pi-4",
        configPath: "borg:edgePi",
        address: edgePi.address,
        ...(edgePi.hostKey !== undefined ? { hostKey: edgePi.hostKey } : {}),
        sshUser: edgePi.user ?? sshUser,
        cores: 4,
        memoryMb: 4096,
        diskGb: 0,
        capabilities: [],
        quorum: false,
      },
    });
  }
  return out;
}

function checkNetwork(network: Network | undefined, nodes: LocatedNode[], problems: Problems): void {
  const block = network ? parseCidr(network.cidr) : undefined;
  if (network && block) {
    const gateway = parseIpv4(network.gateway)!;
    if (!cidrContains(block, gateway)) problems.add(["network", "gateway"], `${network.gateway} is outside borg:network.cidr ${network.cidr}`);
    else if (isReservedInCidr(block, gateway)) problems.add(["network", "gateway"], `${network.gateway} is the network or broadcast address of ${network.cidr}`);
  }
  const seen = new Map<string, string>();
  for (const n of nodes) {
    const path = [...n.path, "address"];
    const address = parseIpv4(n.spec.address)!;
    const previous = seen.get(n.spec.address);
    if (previous) problems.add(path, `${n.spec.address} is already used by ${previous}`);
    seen.set(n.spec.address, configPath(path));
    if (!network || !block) continue;
    if (!cidrContains(block, address)) problems.add(path, `${n.spec.address} is outside borg:network.cidr ${network.cidr}`);
    else if (isReservedInCidr(block, address)) problems.add(path, `${n.spec.address} is the network or broadcast address of ${network.cidr}`);
    else if (n.spec.address === network.gateway) problems.add(path, `${n.spec.address} is borg:network.gateway`);
  }
}

function checkIdentities(nodes: LocatedNode[], proxmox: Proxmox | undefined, raw: Readonly<Record<string, unknown>>, problems: Problems): void {
  const names = new Map<string, string>();
  const vmIds = new Map<number, string>();
  for (const n of nodes) {
    const namePath = [...n.path, "name"];
    const previous = names.get(n.spec.name);
    if (previous) problems.add(namePath, `'${n.spec.name}' is already the name of ${previous}`);
    names.set(n.spec.name, n.spec.configPath);
    if (n.spec.vmId === undefined) continue;
    const idPath = [...n.path, "vmId"];
    const other = vmIds.get(n.spec.vmId);
    if (other) problems.add(idPath, `${n.spec.vmId} is already the vmId of ${other}`);
    vmIds.set(n.spec.vmId, n.spec.configPath);
    if (proxmox && n.spec.vmId === proxmox.templateVmId) problems.add(idPath, `${n.spec.vmId} is borg:proxmox.templateVmId; a clone needs its own id`);
  }
  const firstVm = nodes.find((n) => n.kind === "proxmox");
  if (firstVm && raw.proxmox === undefined) {
    problems.add(["proxmox"], `is required because ${firstVm.spec.configPath} is a Proxmox VM (kind: proxmox)`);
  }
}

function checkServices(services: Services, network: Network | undefined, nodes: LocatedNode[] | undefined, drones: Drone[] | undefined, problems: Problems): void {
  const nodeBlock = network ? parseCidr(network.cidr) : undefined;
  const pods = parseCidr(services.k3s.podCidr);
  const svcs = parseCidr(services.k3s.serviceCidr);
  const overlap = (path: Path, a: Cidr | undefined, aText: string, b: Cidr | undefined, bPath: string, bText: string) => {
    if (a && b && cidrsOverlap(a, b)) problems.add(path, `${aText} overlaps ${bPath} ${bText}`);
  };
  if (services.k3s.enabled && network) {
    overlap(["services", "k3s", "podCidr"], pods, services.k3s.podCidr, nodeBlock, "borg:network.cidr", network.cidr);
    overlap(["services", "k3s", "serviceCidr"], svcs, services.k3s.serviceCidr, nodeBlock, "borg:network.cidr", network.cidr);
  }
  if (services.k3s.enabled) overlap(["services", "k3s", "serviceCidr"], svcs, services.k3s.serviceCidr, pods, "borg:services.k3s.podCidr", services.k3s.podCidr);

  const quorumNodes = new Set((nodes ?? []).filter((n) => n.spec.quorum).map((n) => n.spec.name));
  const memberList = (path: Path, members: string[] | undefined, what: string) => {
    if (!members || problems.has(path)) return;
    const seen = new Set<string>();
    members.forEach((m, i) => {
      if (seen.has(m)) problems.add([...path, i], `'${m}' is listed twice`);
      seen.add(m);
      if (nodes && !quorumNodes.has(m)) problems.add([...path, i], `'${m}' is not the queen or a drone; ${what} must run on one of: ${[...quorumNodes].join(", ")}`);
    });
  };
  if (services.ceph.enabled) {
    memberList(["services", "ceph", "monitors"], services.ceph.monitors, "a Ceph monitor");
    const count = services.ceph.monitors?.length;
    if (count !== undefined && count % 2 === 0) problems.add(["services", "ceph", "monitors"], `has ${count} monitors; Ceph needs an odd number (1, 3, 5) to keep quorum`);
    const osdHosts = drones?.filter((d) => d.kind === "proxmox").length;
    if (osdHosts === 0) problems.add(["services", "ceph"], "is enabled, but no drone carries an OSD disk (osdDiskGb on a Proxmox drone); add one or set enabled: false");
    if (services.ceph.osdPoolSize !== undefined && osdHosts !== undefined && services.ceph.osdPoolSize > osdHosts) {
      problems.add(["services", "ceph", "osdPoolSize"], `is ${services.ceph.osdPoolSize} but only ${osdHosts} drone(s) carry an OSD disk`);
    }
  }
  if (services.k3s.enabled) {
    // Flannel gives every K3s node a /24 of the pod network; CoreDNS takes the 10th service address.
    const k3sNodes = (nodes ?? []).filter((n) => n.spec.quorum).length;
    if (pods && !problems.has(["services", "k3s", "podCidr"]) && (pods.prefixLength > 24 || 2 ** (24 - pods.prefixLength) < k3sNodes)) {
      problems.add(["services", "k3s", "podCidr"], `${services.k3s.podCidr} holds ${pods.prefixLength > 24 ? 0 : 2 ** (24 - pods.prefixLength)} node subnets (/24 each) but ${k3sNodes} nodes run K3s`);
    }
    if (svcs && !problems.has(["services", "k3s", "serviceCidr"]) && (svcs.prefixLength < 12 || svcs.prefixLength > 24)) {
      problems.add(["services", "k3s", "serviceCidr"], `${services.k3s.serviceCidr} must be a /12 to /24 network (Kubernetes allows at most /12; CoreDNS takes its 10th address)`);
    }
    const path = ["services", "k3s", "servers"];
    memberList(path, services.k3s.servers, "a K3s server");
    const count = services.k3s.servers?.length;
    if (count !== undefined && count % 2 === 0) problems.add(path, `has ${count} servers; embedded etcd needs an odd number (1, 3, 5) to keep quorum`);
    // The first server initialises the cluster and the others join it: that must be the queen,
    // which is deployed first and whose address the kubeconfig uses.
    const queen = nodes?.find((n) => n.spec.role === "queen")?.spec.name;
    const first = services.k3s.servers?.[0];
    if (queen && first !== undefined && first !== queen && !problems.has([...path, 0])) {
      problems.add([...path, 0], `is '${first}'; list the queen ('${queen}') first: it initialises the cluster and the others join it`);
    }
  }
  if (services.consul.enabled) {
    memberList(["services", "consul", "servers"], services.consul.servers, "a Consul server");
    const count = services.consul.servers?.length;
    if (count !== undefined && count % 2 === 0) problems.add(["services", "consul", "servers"], `has ${count} servers; Consul needs an odd number (1, 3, 5) to keep quorum`);
  }
  if (services.nats.enabled) {
    const path = ["services", "nats", "jetstream", "peers"];
    memberList(path, services.nats.jetstream.peers, "a JetStream peer");
    const count = services.nats.jetstream.peers?.length;
    if (count !== undefined && count % 2 === 0) problems.add(path, `has ${count} peers; JetStream needs an odd number (1, 3, 5) to keep quorum`);
    if (nodes && !problems.has(path)) {
      const peers = services.nats.jetstream.peers ?? defaultJetStreamPeers([...quorumNodes]);
      for (const [at, message] of checkNatsStreams({ ...services.nats, jetstream: { ...services.nats.jetstream, peers } })) problems.add(at, message);
    }
  }
  const users = new Set<string>();
  services.mqtt.users.forEach((u, i) => {
    if (users.has(u.name)) problems.add(["services", "mqtt", "users", i, "name"], `'${u.name}' is listed twice`);
    if ((RESERVED_MQTT_USERS as readonly string[]).includes(u.name)) {
      problems.add(["services", "mqtt", "users", i, "name"], `'${u.name}' is reserved for a user the collective generates itself (${RESERVED_MQTT_USERS.join(", ")})`);
    }
    users.add(u.name);
  });
  if (nodes?.some((n) => n.spec.role === "edge")) checkHomeAssistant(services, problems);
}

/** Home Assistant runs on the edge Pi and logs in to the Pi's broker as its own MQTT user. */
function checkHomeAssistant(services: Services, problems: Problems): void {
  const ha = services.homeAssistant;
  if (!ha.enabled) return;
  const seen = new Set<string>();
  ha.extraComponents.forEach((c, i) => {
    if (seen.has(c)) problems.add(["services", "homeAssistant", "extraComponents", i], `'${c}' is listed twice`);
    seen.add(c);
  });
  if (!services.mqtt.enabled) {
    problems.add(["services", "homeAssistant", "enabled"], "Home Assistant connects to the edge Pi's MQTT broker: enable borg:services.mqtt, or set this to false");
    return;
  }
  const path = ["services", "homeAssistant", "mqttUser"];
  if (problems.has(path)) return;
  const index = services.mqtt.users.findIndex((u) => u.name === ha.mqttUser);
  if (index < 0) {
    problems.add(path, `'${ha.mqttUser}' is not a user of borg:services.mqtt.users (${services.mqtt.users.map((u) => u.name).join(", ") || "none"}); add it there with the topics Home Assistant needs`);
  } else if (!aclAllows(services.mqtt.users[index]!.acl, "read", COLLECTIVE_STATUS_TOPIC)) {
    problems.add(
      path,
      `'${ha.mqttUser}' cannot read ${COLLECTIVE_STATUS_TOPIC} (the collective-status sensor): add 'read borg/collective/#' to borg:services.mqtt.users[${index}].acl`,
    );
  }
}
