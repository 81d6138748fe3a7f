// NATS: a cluster of the queen and drones (JetStream on the odd peer set), the edge Pi a leaf node
// of the queen. This file is pure: what node.json carries (settings, users and their subject
// permissions), the JetStream streams of the stack, and the text of the secret files. The
// ComponentResource that generates the secrets and runs the gates is in ./natsService.ts.
import bcrypt from "bcryptjs";
import { createHash } from "node:crypto";
import { SECRETS_DIR } from "../bundle-paths.js";
import type { CollectiveSpec } from "../config/validate.js";
import type { ServiceContext } from "./context.js";
import { DEFAULT_DUPLICATE_WINDOW, durationNanos, isValidStreamName, isValidSubject, subjectsOverlap, type StreamSpec } from "./natsStreams.js";
import { port } from "./ports.js";

/** Account of every application user (JetStream on) and the system account (monitoring). */
export const NATS_APP_ACCOUNT = "CIM";
export const NATS_SYSTEM_ACCOUNT = "SYS";
/** Unauthenticated monitoring endpoint: loopback only (gates and guards run on the node). */
export const NATS_MONITOR_PORT = 8222;
/** systemd's LoadCredential directory of the nats unit: nats reads its secrets from here. */
export const NATS_CREDENTIALS_DIR = "/run/credentials/nats.service";
/** nixpkgs' services.nats dataDir; nats-server keeps its streams in <store_dir>/jetstream. */
export const NATS_STORE_DIR = "/var/lib/nats";
/** Secret files (under the secrets dir, root-owned, handed to nats through LoadCredential). */
export const NATS_FILES = {
  /** Password hashes and the route password: every change restarts nats (rotation). */
  auth: "nats-auth.conf",
  /** Route and leaf URLs with their credentials: changes with the topology, picked up by the (lane) restart. */
  links: "nats-links.conf",
  ca: "nats-ca.pem",
  cert: "nats-cert.pem",
  key: "nats-key.pem",
} as const;

/** Variable names the secret files define and the rendered nats.conf references (nix/lib/nats.nix). */
export const NATS_VARS = { routeHash: "NATS_ROUTE_HASH", leafHash: "NATS_LEAF_HASH", routes: "NATS_ROUTES", leafUrls: "NATS_LEAF_URLS" } as const;
export const ROUTE_USER = "route";
export const LEAF_USER = "leaf";
/** The user the stream provider connects as: JetStream API only, never a message subject. */
export const ADMIN_USER = "borg-admin";
export const SYSTEM_USER = "sys";

export interface NatsPermissions {
  publish: string[];
  subscribe: string[];
  allowResponses: boolean;
}

export interface NatsUser {
  name: string;
  account: string;
  /** nats.conf variable holding the bcrypt hash (defined in the auth secret file). */
  hashVariable: string;
  /** null: no restriction (only the system account's user). */
  permissions: NatsPermissions | null;
}

export interface NatsSettings {
  enable: boolean;
  serverName: string;
  clusterName: string;
  /** A JetStream peer (meta group member, stores streams). */
  jetstream: boolean;
  maxMemoryStore: string;
  maxFileStore: string;
  storeDir: string;
  /** The node's address: routes advertise it. */
  address: string;
  ports: { client: number; cluster: number | null; leafnodeHub: number | null; monitor: number };
  /** Other cluster servers (credentials live in the links secret file, never here). */
  routes: string[];
  leafnodeHub: boolean;
  /** The hub this leaf node connects to (credentials in the links secret file). */
  leafnodeRemotes: string[];
  tls: boolean;
  /** Every client logs in (users with bcrypt hashes, from the auth secret file). */
  authorization: { required: true };
  accounts: { app: string; system: string };
  users: NatsUser[];
  /** Secret files: installed under `sourceDir`, handed to nats through LoadCredential, read from `dir`. */
  credentials: {
    dir: string;
    sourceDir: string;
    auth: string;
    links: string;
    tls: { ca: string; cert: string; key: string } | null;
  };
}

/** Seed 003's roles: each publishes and subscribes its own subject tree (plus replies). */
export const NATS_ROLES: readonly { user: string; subjects: readonly string[] }[] = [
  { user: "cim-events", subjects: ["cim.events.>", "cim.snapshots.>"] },
  { user: "cim-commands", subjects: ["cim.commands.>"] },
  { user: "cim-queries", subjects: ["cim.queries.>"] },
  { user: "cim-sagas", subjects: ["cim.sagas.>"] },
];

export const hashVariable = (user: string) => `NATS_HASH_${user.toUpperCase().replace(/[^A-Z0-9]/g, "_")}`;

/** Every user name that gets a generated password. */
export const natsUserNames = () => [...NATS_ROLES.map((r) => r.user), ADMIN_USER, SYSTEM_USER];

/**
 * JetStream API a role needs for the streams it owns (every subject of the stream inside the
 * role's subjects): info, consumers (create, info, delete, fetch) and acks on those streams only.
 * Without these, a pull consumer's messages would reach a user whatever its subject permissions.
 */
function streamApi(stream: string): string[] {
  return [
    `$JS.API.STREAM.INFO.${stream}`,
    `$JS.API.CONSUMER.*.${stream}`,
    `$JS.API.CONSUMER.*.${stream}.>`,
    `$JS.API.CONSUMER.DURABLE.CREATE.${stream}.>`,
    `$JS.API.CONSUMER.MSG.NEXT.${stream}.>`,
    `$JS.ACK.${stream}.>`,
  ];
}

/** Subject `inner` lies inside pattern `outer` (every subject `inner` matches, `outer` matches). */
export function subjectWithin(inner: string, outer: string): boolean {
  const a = inner.split(".");
  const b = outer.split(".");
  for (let i = 0; i < b.length; i++) {
    if (b[i] === ">") return a.length > i;
    if (i >= a.length) return false;
    if (a[i] === ">") return false;
    if (b[i] !== "*" && b[i] !== a[i]) return false;
  }
  return a.length === b.length;
}

export function natsUsers(streams: readonly StreamSpec[]): NatsUser[] {
  const roles = NATS_ROLES.map(({ user, subjects }) => {
    const owned = streams.filter((s) => s.subjects.every((subj) => subjects.some((r) => subjectWithin(subj, r)))).map((s) => s.name);
    return {
      name: user,
      account: NATS_APP_ACCOUNT,
      hashVariable: hashVariable(user),
      permissions: {
        publish: [...subjects, ...(owned.length ? ["$JS.API.INFO"] : []), ...owned.flatMap(streamApi)],
        subscribe: [...subjects, "_INBOX.>"],
        allowResponses: true,
      },
    };
  });
  return [
    ...roles,
    // Manages streams (the Pulumi stream provider): the JetStream API, no message subject.
    { name: ADMIN_USER, account: NATS_APP_ACCOUNT, hashVariable: hashVariable(ADMIN_USER), permissions: { publish: ["$JS.API.>"], subscribe: ["_INBOX.>"], allowResponses: false } },
    // The system account's user: server monitoring ($SYS), sees no application message.
    { name: SYSTEM_USER, account: NATS_SYSTEM_ACCOUNT, hashVariable: hashVariable(SYSTEM_USER), permissions: null },
  ];
}

export function natsSettings({ spec, node, queen, cluster, isEdge }: ServiceContext): NatsSettings {
  const { nats } = spec.services;
  const tls = spec.security.tls;
  return {
    enable: nats.enabled,
    serverName: node.name,
    clusterName: nats.clusterName,
    // Every cluster member routes and serves clients; only the (odd) peer set stores streams.
    jetstream: nats.jetstream.peers.includes(node.name),
    maxMemoryStore: nats.jetstream.maxMemoryStore,
    maxFileStore: nats.jetstream.maxFileStore,
    storeDir: NATS_STORE_DIR,
    address: node.address,
    ports: {
      client: port("nats-client"),
      cluster: isEdge ? null : port("nats-route"),
      leafnodeHub: node.role === "queen" ? port("nats-leaf-hub") : null,
      monitor: NATS_MONITOR_PORT,
    },
    routes: isEdge ? [] : cluster.filter((n) => n.name !== node.name).map((n) => `nats-route://${n.address}:${port("nats-route")}`),
    leafnodeHub: node.role === "queen",
    leafnodeRemotes: isEdge ? [`nats-leaf://${queen.address}:${port("nats-leaf-hub")}`] : [],
    tls,
    authorization: { required: true },
    accounts: { app: NATS_APP_ACCOUNT, system: NATS_SYSTEM_ACCOUNT },
    users: natsUsers(natsStreams(nats)),
    credentials: {
      dir: NATS_CREDENTIALS_DIR,
      sourceDir: SECRETS_DIR,
      auth: NATS_FILES.auth,
      links: NATS_FILES.links,
      tls: tls ? { ca: NATS_FILES.ca, cert: NATS_FILES.cert, key: NATS_FILES.key } : null,
    },
  };
}

export function natsRoles(s: NatsSettings): string[] {
  if (!s.enable) return [];
  if (s.leafnodeRemotes.length > 0) return ["nats-leaf"];
  return ["nats-server", ...(s.leafnodeHub ? ["nats-leaf-hub"] : [])];
}

// ---------------------------------------------------------------------------------------------
// Streams: seed 003's CIM streams, then what the stack overrides or adds (borg:services.nats.streams).

type NatsConfig = CollectiveSpec["services"]["nats"];
type StreamOverride = NatsConfig["streams"][string];

/** R3 where the seed asks for it, capped at the JetStream peer count (dev runs one peer). */
function builtinStreams(eventsMaxAge: string, peers: number): StreamSpec[] {
  const r3 = Math.min(3, peers);
  const base = { duplicateWindow: DEFAULT_DUPLICATE_WINDOW, maxMsgs: -1, maxBytes: -1, maxMsgSize: -1, maxMsgsPerSubject: -1, replace: false } as const;
  return [
    // The source of truth: every event, deduplicated by Nats-Msg-Id within 2 minutes.
    { ...base, name: "CIM_EVENTS", subjects: ["cim.events.>"], storage: "file", retention: "limits", replicas: r3, maxAge: eventsMaxAge, discard: "old", maxMsgSize: 1024 * 1024 },
    // A transient work queue: each command is consumed once.
    { ...base, name: "CIM_COMMANDS", subjects: ["cim.commands.>"], storage: "memory", retention: "workqueue", replicas: 1, maxAge: "1h", discard: "new", maxMsgsPerSubject: 100 },
    { ...base, name: "CIM_QUERY_CACHE", subjects: ["cim.queries.results.>"], storage: "memory", retention: "limits", replicas: 1, maxAge: "5m", discard: "old" },
    { ...base, name: "CIM_SAGAS", subjects: ["cim.sagas.>"], storage: "file", retention: "limits", replicas: r3, maxAge: "7d", discard: "old" },
    { ...base, name: "CIM_SNAPSHOTS", subjects: ["cim.snapshots.>"], storage: "file", retention: "limits", replicas: r3, maxAge: "30d", discard: "old", maxMsgsPerSubject: 10 },
  ];
}

const BUILTIN_DEFAULTS: Omit<StreamSpec, "name" | "subjects"> = {
  storage: "file",
  retention: "limits",
  replicas: 1,
  maxAge: "0s",
  duplicateWindow: DEFAULT_DUPLICATE_WINDOW,
  discard: "old",
  maxMsgs: -1,
  maxBytes: -1,
  maxMsgSize: -1,
  maxMsgsPerSubject: -1,
  replace: false,
};

function applyOverride(base: StreamSpec, o: StreamOverride): StreamSpec {
  const out: StreamSpec = { ...base };
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as unknown as Record<string, unknown>)[k] = v;
  // A window longer than the retention is refused by JetStream: shorten the default one.
  if (o.duplicateWindow === undefined && durationNanos(out.maxAge) > 0 && durationNanos(out.duplicateWindow) > durationNanos(out.maxAge)) {
    out.duplicateWindow = out.maxAge;
  }
  return out;
}

/** The streams of a stack, built-ins first (in seed order), then the stack's own, by name. */
export function natsStreams(nats: NatsConfig): StreamSpec[] {
  const overrides = nats.streams;
  const builtins = builtinStreams("30d", nats.jetstream.peers.length);
  const names = new Set(builtins.map((s) => s.name));
  return [
    ...builtins.map((b) => (overrides[b.name] ? applyOverride(b, overrides[b.name]!) : b)),
    ...Object.keys(overrides)
      .filter((n) => !names.has(n))
      .sort()
      .map((n) => applyOverride({ ...BUILTIN_DEFAULTS, name: n, subjects: [] }, overrides[n]!)),
  ];
}

const BUILTIN_NAMES = new Set(builtinStreams("30d", 1).map((s) => s.name));

/**
 * Cross-field rules of borg:services.nats.streams, as `[path, message]` (validate.ts prefixes the
 * config path): a new stream names its subjects, subjects are valid and never overlap another
 * stream's (JetStream refuses that), replicas fit the JetStream peers, the dedupe window fits the
 * retention.
 */
export function checkNatsStreams(nats: NatsConfig): [ReadonlyArray<string | number>, string][] {
  const problems: [ReadonlyArray<string | number>, string][] = [];
  const at = (name: string, ...rest: (string | number)[]) => ["services", "nats", "streams", name, ...rest];
  for (const [name, o] of Object.entries(nats.streams)) {
    if (!isValidStreamName(name)) problems.push([at(name), "is not a valid stream name: letters, digits, '_' and '-' only (at most 64)"]);
    if (!BUILTIN_NAMES.has(name) && o.subjects === undefined) problems.push([at(name, "subjects"), "is required for a stream that is not one of the built-in CIM streams"]);
    o.subjects?.forEach((s, i) => {
      if (!isValidSubject(s)) problems.push([at(name, "subjects", i), `'${s}' is not a valid subject: dot-separated tokens, '*' for one token, '>' only last`]);
      else if (/^(\$|_INBOX\.)/.test(s)) problems.push([at(name, "subjects", i), `'${s}' is reserved by NATS ($-subjects and _INBOX)`]);
    });
  }
  if (problems.length) return problems;
  const streams = natsStreams(nats);
  const peers = nats.jetstream.peers.length;
  streams.forEach((s, i) => {
    const override = nats.streams[s.name];
    if (s.replicas > peers) {
      problems.push([at(s.name, "replicas"), `is ${s.replicas} but only ${peers} JetStream peer(s) exist (borg:services.nats.jetstream.peers)`]);
    }
    const age = durationNanos(s.maxAge);
    if (override && age > 0 && durationNanos(s.duplicateWindow) > age) {
      problems.push([at(s.name, "duplicateWindow"), `${s.duplicateWindow} is longer than maxAge ${s.maxAge}; JetStream refuses that`]);
    }
    for (const other of streams.slice(0, i)) {
      const clash = s.subjects.flatMap((a) => other.subjects.filter((b) => subjectsOverlap(a, b)).map((b) => `${a} overlaps ${b}`));
      if (clash.length) problems.push([at(s.name, "subjects"), `${clash.join(", ")} of stream ${other.name}: a message may belong to one stream only`]);
    }
  });
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Secret files: variables only. Their names never depend on the topology, so a nats restart with
// new secrets and the old nats.conf still parses (nats-server refuses an unused variable).

const confString = (s: string) => JSON.stringify(s);

/** Hashes of every user (and the route / leaf passwords where this node needs them). */
export function natsAuthFile(s: NatsSettings, hashes: Readonly<Record<string, string>>, routeHash: string, leafHash: string): string {
  const lines = ["# borg-collective: NATS password hashes (generated by Pulumi; do not edit)"];
  for (const u of s.users) {
    const hash = hashes[u.name];
    if (!hash) throw new Error(`no password hash for NATS user ${u.name}`);
    lines.push(`${u.hashVariable}: ${confString(hash)}`);
  }
  if (s.routes.length > 0) lines.push(`${NATS_VARS.routeHash}: ${confString(routeHash)}`);
  if (s.leafnodeHub) lines.push(`${NATS_VARS.leafHash}: ${confString(leafHash)}`);
  return `${lines.join("\n")}\n`;
}

/** `nats-route://10.0.0.1:6222` + credentials → `nats-route://user:pass@10.0.0.1:6222`. */
export function withCredentials(url: string, user: string, password: string): string {
  const m = /^([a-z-]+):\/\/(.+)$/.exec(url);
  if (!m) throw new Error(`not a NATS URL: ${url}`);
  return `${m[1]}://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${m[2]}`;
}

/** Route URLs (cluster servers) or the hub's URL (the leaf), with the plaintext credentials they send. */
export function natsLinksFile(s: NatsSettings, routePassword: string, leafPassword: string): string | undefined {
  const lines = ["# borg-collective: NATS route / leaf URLs with credentials (generated by Pulumi; do not edit)"];
  if (s.routes.length > 0) lines.push(`${NATS_VARS.routes}: [${s.routes.map((r) => confString(withCredentials(r, ROUTE_USER, routePassword))).join(", ")}]`);
  if (s.leafnodeRemotes.length > 0) lines.push(`${NATS_VARS.leafUrls}: [${s.leafnodeRemotes.map((r) => confString(withCredentials(r, LEAF_USER, leafPassword))).join(", ")}]`);
  return lines.length > 1 ? `${lines.join("\n")}\n` : undefined;
}

/** Client URL of a server; `tls://` tells clients to insist on TLS. */
export const clientUrl = (address: string, tls: boolean) => `${tls ? "tls" : "nats"}://${address}:${port("nats-client")}`;

/**
 * bcrypt cost of the hashes. The passwords are 32 random alphanumerics (~190 bits), so the work
 * factor adds nothing against guessing; it does cost CPU on every login (a reconnect storm on the
 * Pi) and on every synth. 8 keeps a login at a few milliseconds.
 */
export const BCRYPT_COST = 8;

/**
 * The bcrypt hash nats-server checks a password against. The salt is derived from the (generated)
 * password itself, so the same stack hashes to the same text on every run: the secret files do not
 * change and no nats restarts unless a password does.
 */
export function natsPasswordHash(password: string): string {
  const seed = createHash("sha256").update(`borg-collective nats salt\0${password}`).digest().subarray(0, 16);
  return bcrypt.hashSync(password, `$2a$${String(BCRYPT_COST).padStart(2, "0")}$${bcrypt.encodeBase64(seed, 16)}`);
}
