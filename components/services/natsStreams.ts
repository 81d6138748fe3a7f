// JetStream streams as Pulumi resources: the pure stream logic (durations, subjects, the field
// diff and what JetStream cannot change) and the dynamic provider that applies it.
//
// This module has NO runtime import on purpose. Pulumi serializes the provider object with every
// function it references into the dynamic-provider host (a plain CommonJS process); a value imported
// into this ESM module would be serialized by value and fail. The provider loads the NATS client
// with `require` inside its methods, which the host resolves from the project's node_modules.
import type * as pulumi from "@pulumi/pulumi";

export type Storage = "file" | "memory";
export type Retention = "limits" | "workqueue" | "interest";
export type Discard = "old" | "new";

/** One stream as the stack describes it (sizes in bytes, -1 = unlimited; durations like "30d", "0s" = none). */
export interface StreamSpec {
  name: string;
  subjects: string[];
  storage: Storage;
  retention: Retention;
  replicas: number;
  maxAge: string;
  duplicateWindow: string;
  discard: Discard;
  maxMsgs: number;
  maxBytes: number;
  maxMsgSize: number;
  maxMsgsPerSubject: number;
  /** Allow a change of a field JetStream cannot change by deleting and recreating the stream (its messages are lost). */
  replace: boolean;
}

export const DEFAULT_DUPLICATE_WINDOW = "2m";

/** The fields a stream resource owns; everything else of a live stream is left as it is. */
export const STREAM_FIELDS = ["subjects", "storage", "retention", "replicas", "maxAge", "duplicateWindow", "discard", "maxMsgs", "maxBytes", "maxMsgSize", "maxMsgsPerSubject"] as const;
export type StreamField = (typeof STREAM_FIELDS)[number];

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800, y: 31_536_000 };

/** "2m" → nanoseconds (what the JetStream API speaks); throws on anything else. */
export function durationNanos(text: string): number {
  const m = /^(\d+)([smhdwy])$/.exec(text);
  if (!m) throw new Error(`'${text}' is not a duration such as 30s, 2m, 1h, 7d`);
  return Number(m[1]) * UNITS[m[2]!]! * 1e9;
}

/** Nanoseconds → the shortest exact duration text ("0s" for none). */
export function durationText(nanos: number): string {
  if (!nanos || nanos < 1e9) return "0s";
  const seconds = Math.round(nanos / 1e9);
  for (const unit of ["y", "w", "d", "h", "m"]) if (seconds % UNITS[unit]! === 0) return `${seconds / UNITS[unit]!}${unit}`;
  return `${seconds}s`;
}

const SIZE_UNITS: Record<string, number> = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/** 1048576, "1M", -1 → bytes (binary units). */
export function sizeBytes(value: number | string): number {
  if (typeof value === "number") return value;
  const m = /^(\d+)([KMGT]?)$/.exec(value);
  if (!m) throw new Error(`'${value}' is not a size such as 512K, 1M or 10G`);
  return Number(m[1]) * SIZE_UNITS[m[2]!]!;
}

export const isValidStreamName = (name: string) => /^[A-Za-z0-9_-]{1,64}$/.test(name);

/** A NATS subject a stream may capture: tokens of printable characters, `*` alone, `>` only last. */
export function isValidSubject(subject: string): boolean {
  const tokens = subject.split(".");
  return tokens.every((t, i) => t !== "" && !/[\s]/.test(t) && (t === "*" || t === ">" || !/[*>]/.test(t)) && (t !== ">" || i === tokens.length - 1));
}

/** Some subject matches both patterns. */
export function subjectsOverlap(a: string, b: string): boolean {
  const x = a.split(".");
  const y = b.split(".");
  for (let i = 0; ; i++) {
    if (x[i] === ">" || y[i] === ">") return i < x.length && i < y.length;
    if (i >= x.length || i >= y.length) return x.length === y.length;
    if (x[i] !== "*" && y[i] !== "*" && x[i] !== y[i]) return false;
  }
}

/** The JetStream API's stream config for a spec (fields it does not own stay at the server's values). */
export function toJetStreamConfig(s: StreamSpec): Record<string, unknown> {
  return {
    name: s.name,
    subjects: [...s.subjects],
    storage: s.storage,
    retention: s.retention,
    num_replicas: s.replicas,
    max_age: durationNanos(s.maxAge),
    duplicate_window: durationNanos(s.duplicateWindow),
    discard: s.discard,
    max_msgs: s.maxMsgs,
    max_bytes: s.maxBytes,
    max_msg_size: s.maxMsgSize,
    max_msgs_per_subject: s.maxMsgsPerSubject,
  };
}

/** A live stream config (JetStream API) → the owned fields, in spec form. */
export function fromJetStreamConfig(c: Record<string, any>): Omit<StreamSpec, "replace"> {
  return {
    name: String(c.name),
    subjects: [...(c.subjects ?? [])],
    storage: c.storage,
    retention: c.retention,
    replicas: Number(c.num_replicas ?? 1),
    maxAge: durationText(Number(c.max_age ?? 0)),
    duplicateWindow: durationText(Number(c.duplicate_window ?? 0)),
    discard: c.discard ?? "old",
    maxMsgs: Number(c.max_msgs ?? -1),
    maxBytes: Number(c.max_bytes ?? -1),
    maxMsgSize: Number(c.max_msg_size ?? -1),
    maxMsgsPerSubject: Number(c.max_msgs_per_subject ?? -1),
  };
}

/** Comparable form of one field (durations by value: "60m" equals "1h"). */
function fieldValue(s: Partial<StreamSpec>, f: StreamField): string {
  const v = s[f];
  if (f === "maxAge" || f === "duplicateWindow") return v === undefined ? "" : durationText(durationNanos(String(v)));
  return JSON.stringify(v ?? null);
}

export interface FieldChange {
  field: StreamField;
  from: unknown;
  to: unknown;
}

/** Owned fields whose value differs, with old and new values (what a preview shows). */
export function streamChanges(olds: Partial<StreamSpec>, news: Partial<StreamSpec>): FieldChange[] {
  return STREAM_FIELDS.filter((f) => fieldValue(olds, f) !== fieldValue(news, f)).map((f) => ({ field: f, from: olds[f], to: news[f] }));
}

/**
 * Changes JetStream refuses on an existing stream (server/stream.go configUpdateCheck): the
 * storage type, and a retention change to or from a work queue. (The name is the resource's
 * identity: another name is another stream.)
 */
export function immutableChanges(olds: Partial<StreamSpec>, news: Partial<StreamSpec>): FieldChange[] {
  return streamChanges(olds, news).filter(
    (c) => c.field === "storage" || (c.field === "retention" && (c.from === "workqueue" || c.to === "workqueue")),
  );
}

export function immutableMessage(name: string, changes: readonly FieldChange[]): string {
  const what = changes.map((c) => `${c.field} from ${String(c.from)} to ${String(c.to)}`).join(" and ");
  return (
    `stream ${name}: JetStream cannot change ${what} on an existing stream. To delete and recreate it ` +
    `(its messages are lost), set borg:services.nats.streams.${name}.replace: true; or keep the old value`
  );
}

/** Where the provider connects: the cluster's client endpoints and the stream-admin user. */
export interface StreamConnection {
  /** host:port of each server (the client port). */
  servers: string[];
  user: string;
  password: string;
  /** PEM of the CA that signed the servers' certificates; empty without TLS. */
  ca: string;
}

export interface StreamInputs extends StreamSpec {
  connection: StreamConnection;
}

/** How long create/update waits for the stream to have a leader and every replica current. */
export const LEADER_WAIT_MS = 60_000;

declare const require: (id: string) => any;

/**
 * Create-or-update of one stream over the NATS client library (nats.js): `info` → `add` when
 * missing, else `update` of the owned fields (the server merges them over the live config), then
 * wait until the stream has a leader and current replicas. Idempotent: an identical stream is
 * left untouched.
 */
export class NatsStreamProvider implements pulumi.dynamic.ResourceProvider {
  async check(olds: any, news: any): Promise<pulumi.dynamic.CheckResult> {
    const failures: pulumi.dynamic.CheckFailure[] = [];
    if (olds && olds.name === news.name && !news.replace) {
      const fixed = immutableChanges(olds, news);
      if (fixed.length) failures.push({ property: fixed[0]!.field, reason: immutableMessage(news.name, fixed) });
    }
    return { inputs: news, failures };
  }

  async diff(_id: string, olds: any, news: any): Promise<pulumi.dynamic.DiffResult> {
    const fields = streamChanges(olds, news);
    const replaces = news.replace ? immutableChanges(olds, news).map((c) => c.field) : [];
    // Connection changes (a rotated password, a new server) refresh the state without touching the stream.
    const other = JSON.stringify([olds.connection, olds.replace]) !== JSON.stringify([news.connection, news.replace]);
    return { changes: fields.length > 0 || other, replaces, deleteBeforeReplace: replaces.length > 0 };
  }

  async create(inputs: any): Promise<pulumi.dynamic.CreateResult> {
    await withStreams(inputs.connection, (jsm) => applyStream(jsm, inputs));
    return { id: inputs.name, outs: inputs };
  }

  async update(_id: string, _olds: any, news: any): Promise<pulumi.dynamic.UpdateResult> {
    await withStreams(news.connection, (jsm) => applyStream(jsm, news));
    return { outs: news };
  }

  async delete(_id: string, props: any): Promise<void> {
    await withStreams(props.connection, async (jsm) => {
      try {
        await jsm.streams.delete(props.name);
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    });
  }

  async read(id: string, props: any): Promise<pulumi.dynamic.ReadResult> {
    return withStreams(props.connection, async (jsm) => {
      try {
        const info = await jsm.streams.info(props.name);
        return { id, props: { ...props, ...fromJetStreamConfig(info.config) } };
      } catch (e) {
        if (isNotFound(e)) return {};
        throw e;
      }
    });
  }
}

function isNotFound(e: unknown): boolean {
  // nats.js: JetStreamApiError.code is the API's err_code; 10059 = stream not found.
  const err = e as { code?: unknown; message?: unknown };
  return err?.code === 10059 || /stream not found/i.test(String(err?.message ?? ""));
}

/** Connects as the stream admin, runs `fn` with a JetStream manager, always closes. */
export async function withStreams<T>(connection: StreamConnection, fn: (jsm: any) => Promise<T>): Promise<T> {
  const { connect } = require("@nats-io/transport-node");
  const { jetstreamManager } = require("@nats-io/jetstream");
  const nc = await connect({
    servers: connection.servers,
    user: connection.user,
    pass: connection.password,
    ...(connection.ca ? { tls: { ca: connection.ca } } : {}),
    timeout: 10_000,
    maxReconnectAttempts: 5,
  });
  try {
    return await fn(await jetstreamManager(nc, { timeout: 10_000 }));
  } finally {
    await nc.close();
  }
}

/** Create-or-update against a JetStream manager (the provider's create and update). */
export async function applyStream(jsm: any, spec: StreamSpec, waitMs = LEADER_WAIT_MS): Promise<"created" | "updated" | "unchanged"> {
  let live: Record<string, any> | undefined;
  try {
    live = (await jsm.streams.info(spec.name)).config;
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
  let result: "created" | "updated" | "unchanged";
  if (!live) {
    await jsm.streams.add(toJetStreamConfig(spec));
    result = "created";
  } else {
    const current = fromJetStreamConfig(live);
    const fixed = immutableChanges(current, spec);
    if (fixed.length) throw new Error(`${immutableMessage(spec.name, fixed)} (the live stream differs from the stack)`);
    if (streamChanges(current, spec).length === 0) result = "unchanged";
    else {
      const { name: _name, ...fields } = toJetStreamConfig(spec);
      await jsm.streams.update(spec.name, fields);
      result = "updated";
    }
  }
  await waitForReplicas(jsm, spec, waitMs);
  return result;
}

/** Until the stream reports a leader and `replicas - 1` current followers, or fail naming what is missing. */
export async function waitForReplicas(jsm: any, spec: StreamSpec, waitMs: number): Promise<void> {
  const deadline = Date.now() + waitMs;
  let last = "";
  for (;;) {
    const info = await jsm.streams.info(spec.name);
    const cluster = info.cluster ?? {};
    const current = (cluster.replicas ?? []).filter((r: any) => r.current && !r.offline).length;
    if (info.config.num_replicas === spec.replicas && cluster.leader && current >= spec.replicas - 1) return;
    last = `leader ${cluster.leader || "none"}, ${current}/${spec.replicas - 1} followers current, ${info.config.num_replicas} replicas configured`;
    if (Date.now() >= deadline) throw new Error(`stream ${spec.name}: not ready after ${Math.round(waitMs / 1000)}s: ${last}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}
