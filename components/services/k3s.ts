// K3s: servers from borg:services.k3s.servers (default the queen; 3 or 5 means embedded etcd, the
// queen initialising it), agents on the other drones, never on the edge Pi. This file holds the
// per-node settings (node.json's services.k3s, pure) and the K3s component: generated tokens,
// rollout guards (cordon / one server at a time), readiness gates and the kubeconfig export.
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { SECRETS_DIR } from "../bundle-paths.js";
import { formatIpv4, parseCidr } from "../config/ipv4.js";
import type { CollectiveSpec, NodeSpec } from "../config/validate.js";
import type { ServiceContext } from "./context.js";
import { rewriteKubeconfig } from "./kubeconfig.js";
import { port } from "./ports.js";
import { remoteStep } from "./remoteStep.js";
import type { CollectiveService, NodeHandle, RolloutGuard, SecretFile } from "./types.js";

export const K3S_TOKEN = "k3s-token";
export const K3S_AGENT_TOKEN = "k3s-agent-token";

/**
 * Bundled components the platform replaces, so K3s never installs them:
 * - local-storage: Ceph RBD (ceph-csi) is the default StorageClass; a second default would win
 *   arbitrarily and put volumes on one node's disk;
 * - servicelb: klipper-lb publishes every LoadBalancer service on host ports of every node, past
 *   the node firewall allowlist; LoadBalancer services are allowlisted by policy instead;
 * - traefik: installed from a HelmChart the policy pack cannot see (like helm.v3.Release);
 *   ingress is part of the platform, declared through the Kubernetes provider.
 * CoreDNS and metrics-server stay: nothing in the platform replaces them.
 */
export const K3S_DISABLED = ["local-storage", "servicelb", "traefik"] as const;

export interface K3sSettings {
  enable: boolean;
  role: "server" | "agent" | null;
  version: string;
  /** The server this node joins; null on the first server (it starts the cluster). */
  serverAddr: string | null;
  /** First server of an HA (embedded etcd) cluster. */
  clusterInit: boolean;
  /** Servers hold embedded etcd members (3 or 5 servers); false: one server on SQLite. */
  etcd: boolean;
  nodeName: string;
  nodeIp: string;
  podCidr: string;
  serviceCidr: string;
  /** CoreDNS' service address: the 10th address of the service CIDR, as K3s' own default. */
  clusterDns: string;
  clusterDomain: string;
  /** `borg.io/<capability>=true`; never node-role.kubernetes.io/* (kubelet refuses those). */
  nodeLabels: string[];
  /** Extra names in the API certificate (servers only): the configured API address. */
  tlsSans: string[];
  disable: string[];
  secretsEncryption: boolean;
  /** Servers: the cluster token; agents: the agent token (never the server token). */
  tokenFile: string | null;
  /** Servers only: the token agents join with. */
  agentTokenFile: string | null;
  /** Ceph CSI maps RBD images on every K3s node; NixOS has no /lib/modules for the pod to load it. */
  kernelModules: string[];
}

/** The K3s servers in deploy order (queen first), from the validated spec. */
export function k3sServers(spec: CollectiveSpec): NodeSpec[] {
  return spec.nodes.filter((n) => spec.services.k3s.servers.includes(n.name));
}

/** The address the exported kubeconfig and the platform reach the API at. */
export function k3sApiUrl(spec: CollectiveSpec): string {
  const host = spec.services.k3s.apiAddress ?? k3sServers(spec)[0]!.address;
  return `https://${host}:${port("k3s-api")}`;
}

export function k3sSettings({ spec, node }: ServiceContext): K3sSettings {
  return k3sSettingsFor(spec, node);
}

export function k3sSettingsFor(spec: CollectiveSpec, node: NodeSpec): K3sSettings {
  const { k3s } = spec.services;
  const servers = k3sServers(spec);
  const first = servers[0]!;
  const isServer = servers.some((s) => s.name === node.name);
  const enable = k3s.enabled && node.role !== "edge";
  const ha = servers.length >= 3;
  const svc = parseCidr(k3s.serviceCidr)!;
  return {
    enable,
    role: !enable ? null : isServer ? "server" : "agent",
    version: k3s.version,
    serverAddr: enable && node.name !== first.name ? `https://${first.address}:${port("k3s-api")}` : null,
    clusterInit: enable && ha && node.name === first.name,
    etcd: enable && ha && isServer,
    nodeName: node.name,
    nodeIp: node.address,
    podCidr: k3s.podCidr,
    serviceCidr: k3s.serviceCidr,
    clusterDns: formatIpv4(svc.network + 10),
    clusterDomain: k3s.clusterDomain,
    nodeLabels: node.capabilities.map((c) => `borg.io/${c}=true`),
    tlsSans: isServer && k3s.apiAddress ? [k3s.apiAddress] : [],
    disable: isServer ? [...K3S_DISABLED] : [],
    secretsEncryption: isServer,
    tokenFile: enable ? `${SECRETS_DIR}/${isServer ? K3S_TOKEN : K3S_AGENT_TOKEN}` : null,
    agentTokenFile: enable && isServer ? `${SECRETS_DIR}/${K3S_AGENT_TOKEN}` : null,
    kernelModules: enable ? ["rbd"] : [],
  };
}

export function k3sRoles(s: K3sSettings): string[] {
  if (!s.enable || s.role === null) return [];
  if (s.role === "agent") return ["k3s-agent"];
  return s.etcd ? ["k3s-server", "k3s-etcd"] : ["k3s-server"];
}

export interface K3sArgs {
  readonly spec: CollectiveSpec;
  readonly stack: string;
}

/**
 * K3s on the collective. Secrets: the cluster token (servers) and the agent token (everyone),
 * generated once per stack; K3s encrypts its bootstrap data with the cluster token, so it must
 * never change after the first start (see README "K3s": rotation).
 */
export class K3s extends pulumi.ComponentResource implements CollectiveService {
  readonly apiUrl: string;
  readonly #spec: CollectiveSpec;
  readonly #name: string;
  readonly #stack: string;
  readonly #token: random.RandomPassword;
  readonly #agentToken: random.RandomPassword;
  readonly #servers: NodeSpec[];
  #kubeconfig?: pulumi.Output<string>;

  constructor(name: string, args: K3sArgs, opts?: pulumi.ComponentResourceOptions) {
    super("borg:index:K3s", name, {}, opts);
    this.#spec = args.spec;
    this.#name = name;
    this.#stack = args.stack;
    this.#servers = k3sServers(args.spec);
    this.apiUrl = k3sApiUrl(args.spec);
    const child = { parent: this };
    // Letters and digits only: the token file is read verbatim, and K3s splits tokens on ':'.
    this.#token = new random.RandomPassword(`${name}-token`, { length: 48, special: false }, child);
    this.#agentToken = new random.RandomPassword(`${name}-agent-token`, { length: 48, special: false }, child);
  }

  /** Admin kubeconfig for the platform and operators (secret; API URL rewritten, CA included). */
  get kubeconfig(): pulumi.Output<string> {
    if (!this.#kubeconfig) throw new Error("K3s.kubeconfig is known once bootstrap() ran");
    return this.#kubeconfig;
  }

  secretFiles(node: NodeSpec): SecretFile[] {
    const s = k3sSettingsFor(this.#spec, node);
    if (!s.enable) return [];
    // No restartUnits: a changed cluster token must never reach a running server (its bootstrap
    // data stays encrypted with the old one); rotation is a manual procedure (README).
    const agent: SecretFile = { name: K3S_AGENT_TOKEN, owner: "root", group: "root", value: this.#agentToken.result };
    if (s.role === "agent") return [agent];
    return [{ name: K3S_TOKEN, owner: "root", group: "root", value: this.#token.result }, agent];
  }

  guards(node: NodeSpec, earlier: ReadonlyMap<string, NodeHandle>): RolloutGuard[] {
    const s = k3sSettingsFor(this.#spec, node);
    if (!s.enable) return [];
    const labels = s.nodeLabels;
    const index = this.#servers.findIndex((n) => n.name === node.name);
    if (s.role === "agent") {
      // Cordon and uncordon run on the first server (the queen, deployed before any drone).
      const first = earlier.get(this.#servers[0]!.name);
      if (!first) throw new Error(`${node.configPath}: the K3s server ${this.#servers[0]!.name} must be deployed before agent ${node.name}`);
      return [
        {
          service: "k3s",
          before: { on: first, script: "services/k3s-guard.sh", args: ["cordon"] },
          after: { on: first, script: "services/k3s-guard.sh", args: ["uncordon", ...labels] },
          leftInPlace: `node ${node.name} stays cordoned; once it is healthy run on ${first.spec.name}: sudo k3s kubectl uncordon ${node.name}`,
        },
      ];
    }
    // Servers switch one at a time: each later server's guard runs on the server before it, so it
    // starts only once that server's deploy (confirm, then back to Ready) has finished.
    const previous = index > 0 ? earlier.get(this.#servers[index - 1]!.name) : undefined;
    if (index > 0 && !previous) throw new Error(`${node.configPath}: K3s server ${this.#servers[index - 1]!.name} must be deployed before ${node.name}`);
    return [
      {
        service: "k3s",
        before: previous
          ? { on: previous, script: "services/k3s-guard.sh", args: ["cordon"] }
          : { on: "self", script: "services/k3s-guard.sh", args: ["cordon-self"] },
        after: { on: "self", script: "services/k3s-guard.sh", args: ["uncordon", ...labels] },
        leftInPlace: `server ${node.name} stays cordoned; once it is healthy run on ${node.name}: sudo k3s kubectl uncordon ${node.name}`,
      },
    ];
  }

  bootstrap(nodes: ReadonlyMap<string, NodeHandle>): void {
    const child = { parent: this };
    const k3sNodes = [...nodes.values()].filter((h) => k3sSettingsFor(this.#spec, h.spec).enable);
    const servers = this.#servers.map((s) => nodes.get(s.name)!);
    const first = servers[0]!;
    // /readyz on every server, checked on that server: each waits only for its own deploy.
    const ready = servers.map((server) =>
      remoteStep(`${this.#name}-ready-${server.spec.name}`, { node: server, script: "services/k3s-gate.sh", args: ["readyz"] }, child),
    );
    // Every expected node Ready with exactly its borg.io labels, judged on the first server.
    const expected = k3sNodes.map((h) => [h.spec.name, ...k3sSettingsFor(this.#spec, h.spec).nodeLabels].join(","));
    const gate = remoteStep(
      `${this.#name}-nodes-ready`,
      {
        node: first,
        script: "services/k3s-gate.sh",
        args: ["nodes", ...expected],
        // A node's new bundle or machine may change what it registers: check again.
        triggers: k3sNodes.flatMap((h) => [h.machineId, h.bundleHash]),
        dependsOn: [...ready, ...k3sNodes.map((h) => h.deployed)],
      },
      child,
    );
    const raw = remoteStep(`${this.#name}-kubeconfig`, { node: first, script: "services/k3s-kubeconfig.sh", secretOutput: true, dependsOn: [gate] }, child);
    this.#kubeconfig = pulumi.secret(raw.stdout.apply((text) => rewriteKubeconfig(text, { server: this.apiUrl, name: `borg-${this.#stack}` })));
    this.registerOutputs({ apiUrl: this.apiUrl, kubeconfig: this.#kubeconfig });
  }
}
