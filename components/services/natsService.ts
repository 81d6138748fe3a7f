// Nats: the collective's NATS service as one ComponentResource. It generates every password (bcrypt
// hashes only reach the servers) and, outside dev, a CA with a certificate per server; hands each
// node its secret files and each JetStream peer its rollout guard; then gates the cluster, manages
// the JetStream streams (a dynamic provider over the NATS client library) and exports endpoints.
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import type { CollectiveSpec, NodeSpec } from "../config/validate.js";
import { serviceContext } from "./context.js";
import {
  ADMIN_USER,
  clientUrl,
  LEAF_USER,
  NATS_APP_ACCOUNT,
  NATS_FILES,
  NATS_MONITOR_PORT,
  NATS_SYSTEM_ACCOUNT,
  natsAuthFile,
  natsLinksFile,
  natsPasswordHash,
  natsSettings,
  natsStreams,
  natsUserNames,
  ROUTE_USER,
  SYSTEM_USER,
  type NatsSettings,
} from "./nats.js";
import { NatsStreamProvider, type StreamConnection, type StreamSpec } from "./natsStreams.js";
import { ServiceCa } from "./pki.js";
import { port } from "./ports.js";
import { remoteStep } from "./remoteStep.js";
import type { CollectiveService, NodeHandle, RolloutGuard, SecretFile } from "./types.js";

/** Bound of every NATS gate and guard wait, in seconds. */
export const NATS_WAIT_SECONDS = 300;
const RESTART = ["nats.service"];

// One provider instance: Pulumi serializes it once per program run, not once per stream (the
// daemon test loads this very instance's serialization).
export const STREAM_PROVIDER = new NatsStreamProvider();

export type NatsStreamArgs = { [K in keyof StreamSpec]: pulumi.Input<StreamSpec[K]> } & { connection: pulumi.Input<StreamConnection> };

/** One JetStream stream (type pulumi-nodejs:dynamic/nats:Stream): create-or-update, per-field diff. */
export class NatsStream extends pulumi.dynamic.Resource {
  constructor(name: string, args: NatsStreamArgs, opts?: pulumi.CustomResourceOptions) {
    super(STREAM_PROVIDER, name, { ...args }, { ...opts, additionalSecretOutputs: ["connection"] }, "nats", "Stream");
  }
}

export interface NatsArgs {
  readonly spec: CollectiveSpec;
  readonly stack: string;
}

export interface NatsEndpoints {
  /** Client URL of each cluster server (tls:// outside dev). */
  clientUrls: Record<string, string>;
  /** The edge Pi's own server (local clients keep working while the link is down). */
  edgeUrl: string | null;
  /** Where leaf nodes connect (the queen's hub). */
  leafUrl: string;
  /** Monitoring is loopback-only on each server: open a tunnel, then browse the URL. */
  monitoring: Record<string, { tunnel: string; url: string }>;
  account: string;
  systemAccount: string;
  streams: string[];
  /** The CA clients verify the servers with (null without TLS). */
  caCert: string | null;
}

export interface NatsCredential {
  user: string;
  password: string;
  account: string;
}

export class Nats extends pulumi.ComponentResource implements CollectiveService {
  /** Set by bootstrap(). */
  endpoints!: pulumi.Output<NatsEndpoints>;
  /** Secret: every user's password (and account). */
  credentials!: pulumi.Output<Record<string, NatsCredential>>;
  readonly streams: NatsStream[] = [];

  private readonly spec: CollectiveSpec;
  private readonly passwords = new Map<string, pulumi.Output<string>>();
  private readonly hashes = new Map<string, pulumi.Output<string>>();
  private readonly caCert?: pulumi.Output<string>;
  private readonly serverTls = new Map<string, { cert: pulumi.Output<string>; key: pulumi.Output<string> }>();
  private readonly child: pulumi.ComponentResourceOptions;

  constructor(private readonly name: string, args: NatsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("borg:index:Nats", name, {}, opts);
    this.spec = args.spec;
    this.child = { parent: this };

    for (const user of [...natsUserNames(), ROUTE_USER, LEAF_USER]) {
      const password = new random.RandomPassword(`${name}-${user}-password`, { length: 32, special: false }, this.child);
      this.passwords.set(user, pulumi.secret(password.result));
      this.hashes.set(user, pulumi.secret(password.result.apply(natsPasswordHash)));
    }

    if (args.spec.security.tls) {
      const ca = new ServiceCa(name, `borg-collective ${args.stack} NATS CA`, this.child);
      this.caCert = ca.certPem;
      for (const node of args.spec.nodes) {
        // Clients dial addresses; routes and the leaf link verify certificates both ways.
        const cert = ca.issue(node.name, {
          commonName: node.name,
          dnsNames: [node.name, `${node.name}.${args.spec.network.domain}`, "localhost"],
          ipAddresses: [node.address, "127.0.0.1"],
          usage: "server+client",
        });
        this.serverTls.set(node.name, { cert: cert.certPem, key: cert.keyPem });
      }
    }
  }

  private settings(node: NodeSpec): NatsSettings {
    return natsSettings(serviceContext(this.spec, node));
  }

  private password(user: string): pulumi.Output<string> {
    return this.passwords.get(user)!;
  }

  secretFiles(node: NodeSpec): SecretFile[] {
    const s = this.settings(node);
    if (!s.enable) return [];
    const users = s.users.map((u) => u.name);
    const auth = pulumi
      .all([pulumi.all(users.map((u) => this.hashes.get(u)!)), this.hashes.get(ROUTE_USER)!, this.hashes.get(LEAF_USER)!])
      .apply(([hashes, route, leaf]) => natsAuthFile(s, Object.fromEntries(users.map((u, i) => [u, hashes[i]!])), route, leaf));
    const links = pulumi.all([this.password(ROUTE_USER), this.password(LEAF_USER)]).apply(([r, l]) => natsLinksFile(s, r, l) ?? "");
    const files: SecretFile[] = [
      { name: NATS_FILES.auth, owner: "root", group: "root", value: pulumi.secret(auth), restartUnits: RESTART },
      // No restart: the links change with the topology, and node.json with them (the switch restarts nats in its lane).
      { name: NATS_FILES.links, owner: "root", group: "root", value: pulumi.secret(links) },
    ];
    const pki = this.serverTls.get(node.name);
    if (s.credentials.tls && pki && this.caCert) {
      files.push(
        { name: NATS_FILES.ca, owner: "root", group: "root", value: this.caCert, restartUnits: RESTART },
        { name: NATS_FILES.cert, owner: "root", group: "root", value: pki.cert, restartUnits: RESTART },
        { name: NATS_FILES.key, owner: "root", group: "root", value: pki.key, restartUnits: RESTART },
      );
    }
    return files;
  }

  /**
   * A JetStream peer switches only while the meta group is healthy, and the lane goes on only when
   * it is healthy again. `before` runs on the previous peer, so peers switch one at a time even in
   * different rollout lanes.
   */
  guards(node: NodeSpec, earlier: ReadonlyMap<string, NodeHandle>): RolloutGuard[] {
    const s = this.settings(node);
    if (!s.enable || !s.jetstream) return [];
    const cluster = this.spec.nodes.filter((n) => n.quorum);
    const peers = this.spec.services.nats.jetstream.peers;
    const before = cluster.slice(0, cluster.indexOf(node)).filter((n) => peers.includes(n.name)).pop();
    const args = (phase: string) => [phase, String(NATS_WAIT_SECONDS), String(cluster.length - 1), String(peers.length), String(cluster.length - peers.length)];
    const beforeOn = before ? earlier.get(before.name) : undefined;
    return [
      {
        service: "nats",
        before: { on: beforeOn ?? "self", script: "services/nats-guard.sh", args: args("before") },
        after: { on: "self", script: "services/nats-guard.sh", args: args("after") },
        leftInPlace: `nothing to undo (the NATS guard only waits); see the JetStream meta group with: curl -s http://127.0.0.1:${NATS_MONITOR_PORT}/jsz on ${node.name}`,
      },
    ];
  }

  bootstrap(nodes: ReadonlyMap<string, NodeHandle>): void {
    const spec = this.spec;
    const { name, child } = this;
    const tlsOn = spec.security.tls;
    const cluster = spec.nodes.filter((n) => n.quorum);
    const peers = spec.services.nats.jetstream.peers;
    const edge = spec.nodes.find((n) => n.role === "edge");
    const handle = (n: NodeSpec) => nodes.get(n.name)!;
    const clusterDeployed = cluster.map((n) => handle(n).deployed);

    // Every server: healthy, routed to all the others, and (peers) the meta group has its leader.
    const serverGates = cluster.map((n) =>
      remoteStep(
        `${name}-${n.name}-gate`,
        {
          node: handle(n),
          script: "services/nats-gate.sh",
          args: ["server", String(NATS_WAIT_SECONDS), String(cluster.length - 1), String(peers.includes(n.name) ? peers.length : 0)],
          // Re-runs with this node's bundle (remoteStep): a change elsewhere is checked by that node's gate.
          dependsOn: clusterDeployed,
        },
        child,
      ),
    );
    // The queen's hub has the Pi's leaf connection (waits only for the queen and the Pi).
    const queen = cluster.find((n) => n.role === "queen")!;
    if (edge) {
      remoteStep(
        `${name}-leaf-gate`,
        {
          node: handle(queen),
          script: "services/nats-gate.sh",
          args: ["leaf", String(NATS_WAIT_SECONDS), "1"],
          triggers: [handle(edge).bundleHash, handle(edge).machineId],
          dependsOn: [handle(edge).deployed],
        },
        child,
      );
    }

    // Streams, through the client port of every cluster server as the stream admin. Each create or
    // update returns only when its stream has a leader and every follower is current (the leader's
    // own view, through the JetStream API): that is the streams' gate.
    const connection: pulumi.Input<StreamConnection> = pulumi.all([this.password(ADMIN_USER), this.caCert ?? ""]).apply(([password, ca]) => ({
      servers: cluster.map((n) => `${n.address}:${port("nats-client")}`),
      user: ADMIN_USER,
      password,
      ca,
    }));
    const peerGates = serverGates.filter((_, i) => peers.includes(cluster[i]!.name));
    const streams = natsStreams(spec.services.nats);
    for (const stream of streams) {
      this.streams.push(new NatsStream(`${name}-stream-${stream.name}`, { ...stream, connection: pulumi.secret(connection) }, { ...child, dependsOn: peerGates }));
    }
    const sshUser = (n: NodeSpec) => n.sshUser;
    this.endpoints = pulumi.output(this.caCert ?? null).apply((caCert) => ({
      clientUrls: Object.fromEntries(cluster.map((n) => [n.name, clientUrl(n.address, tlsOn)])),
      edgeUrl: edge ? clientUrl(edge.address, tlsOn) : null,
      leafUrl: `nats-leaf://${queen.address}:${port("nats-leaf-hub")}`,
      monitoring: Object.fromEntries(
        spec.nodes.map((n, i) => {
          const local = NATS_MONITOR_PORT + i;
          return [n.name, { tunnel: `ssh -N -L ${local}:127.0.0.1:${NATS_MONITOR_PORT} ${sshUser(n)}@${n.address}`, url: `http://127.0.0.1:${local}/` }];
        }),
      ),
      account: NATS_APP_ACCOUNT,
      systemAccount: NATS_SYSTEM_ACCOUNT,
      streams: streams.map((s) => s.name),
      caCert,
    }));
    const users = natsUserNames();
    this.credentials = pulumi.secret(
      pulumi.all(users.map((u) => this.password(u))).apply((passwords) =>
        Object.fromEntries(users.map((u, i) => [u, { user: u, password: passwords[i]!, account: u === SYSTEM_USER ? NATS_SYSTEM_ACCOUNT : NATS_APP_ACCOUNT }])),
      ),
    );
    this.registerOutputs({ endpoints: this.endpoints, credentials: this.credentials });
  }
}
