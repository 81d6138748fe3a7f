// The `borg:*` configuration schema: one zod schema per config key (section), so each section can be
// validated on its own and every problem in a stack file is reported in one pass (see validate.ts).
import { z } from "zod";
import { sizeBytes } from "../services/natsStreams.js";
import { parseCidr, parseIpv4 } from "./ipv4.js";

export const SECURITY_LEVELS = ["dev", "staging", "prod"] as const;
export type SecurityLevel = (typeof SECURITY_LEVELS)[number];

const hostLabel = z
  .string()
  .regex(/^[a-z](?:[a-z0-9-]{0,30}[a-z0-9])?$/, "must be a lowercase hostname label: a-z, 0-9 and '-', 1-32 characters, starting with a letter");
const posixUser = z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/, "must be a POSIX user name (lowercase, up to 32 characters)");
/** A string field whose type error says what kind of string it wants (`address: 42`). */
const text = (what: string) => z.string({ error: (iss) => (iss.code === "invalid_type" && iss.input !== undefined ? `expected ${what}` : undefined) });
const ipv4 = text("an IPv4 address such as 10.42.0.10").refine((v) => parseIpv4(v) !== undefined, { message: "must be an IPv4 address such as 10.42.0.10" });
const cidr = text("an IPv4 network such as 10.42.0.0/24")
  .refine((v) => parseCidr(v) !== undefined, { message: "must be an IPv4 network in CIDR form with host bits zero, such as 10.42.0.0/24" });
const KEY_TYPES = "ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp256|ecdsa-sha2-nistp384|ecdsa-sha2-nistp521|sk-ssh-ed25519@openssh\\.com|sk-ecdsa-sha2-nistp256@openssh\\.com";
const sshPublicKey = z
  .string()
  .regex(new RegExp(`^(?:${KEY_TYPES}) [A-Za-z0-9+/]+={0,3}(?: [^\\r\\n]*)?$`), "must be one OpenSSH public key line: '<type> <base64> [comment]'");
const HOST_KEY_TYPES = ["ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-rsa"];
const KEYSCAN = (address: string) => `ssh-keyscan -t ed25519 ${address} | cut -d' ' -f2-`;

/** An SSH wire-format string (uint32 length + bytes) at `offset` of a key blob. */
function readSshString(blob: Buffer, offset: number): { bytes: Buffer; end: number } | undefined {
  if (offset + 4 > blob.length) return undefined;
  const end = offset + 4 + blob.readUInt32BE(offset);
  return end <= blob.length ? { bytes: blob.subarray(offset + 4, end), end } : undefined;
}

/** Why `line` is not a host public key as `ssh-keyscan <host> | cut -d' ' -f2-` prints it, or undefined. */
export function hostKeyProblem(line: string): string | undefined {
  const fields = line.split(" ");
  if (fields.length === 3 && HOST_KEY_TYPES.includes(fields[1]!)) return "starts with a host name: keep only '<type> <base64>' (what `ssh-keyscan … | cut -d' ' -f2-` prints)";
  if (fields.length === 3 && HOST_KEY_TYPES.includes(fields[0]!)) return "ends with a comment: keep only '<type> <base64>'";
  const [type, base64] = fields;
  if (fields.length !== 2 || !HOST_KEY_TYPES.includes(type!) || !/^[A-Za-z0-9+/]+={0,2}$/.test(base64!)) {
    return `must be a host public key '<type> <base64>' such as 'ssh-ed25519 AAAAC3Nz…' (types: ${HOST_KEY_TYPES.join(", ")})`;
  }
  // The blob names its own type (RFC 4253 6.6): a truncated paste or a mismatched type shows here.
  const blob = Buffer.from(base64!, "base64");
  const name = readSshString(blob, 0);
  if (!name || name.bytes.toString("latin1") !== type) return `the base64 part is not a ${type} key`;
  if (type === "ssh-ed25519") {
    const key = readSshString(blob, name.end);
    if (key?.bytes.length !== 32 || key.end !== blob.length) return "the base64 part is not a complete ssh-ed25519 key (a 32-byte key)";
  } else if (type!.startsWith("ecdsa-")) {
    if (readSshString(blob, name.end)?.bytes.toString("latin1") !== type!.slice("ecdsa-sha2-".length)) return `the base64 part is not a complete ${type} key`;
  } else if (!readSshString(blob, name.end)) {
    return `the base64 part is not a complete ${type} key`;
  }
  return undefined;
}

const hostKey = text("a host public key '<type> <base64>'").superRefine((value, ctx) => {
  const problem = hostKeyProblem(value);
  if (problem) ctx.addIssue({ code: "custom", message: problem, input: value });
});
const vmId = z.number().int().min(100, "must be a Proxmox VM id >= 100").max(999_999_999);
const size = (min: number, max: number, def: number) => z.number().int().min(min).max(max).default(def);
const capability = z.string().regex(/^[a-z0-9](?:[a-z0-9.-]{0,61}[a-z0-9])?$/, "must be a Kubernetes label value: lowercase a-z, 0-9, '.', '-'");
const datastore = z.string().regex(/^[A-Za-z][A-Za-z0-9_.-]*$/, "must be a Proxmox storage id such as local-lvm");
const quantity = z.string().regex(/^\d+[KMGT]?$/, "must be a size such as 512M or 10G");
const duration = z.string().regex(/^\d+[smhdwy]$/, "must be a duration such as 15d");
/** Bytes, or a size such as 1M (binary units); -1 = unlimited. */
const byteSize = z.union([z.number().int().min(-1), quantity]).transform(sizeBytes);

/** A JetStream stream: a built-in CIM stream's overrides, or (with subjects) a stream of the stack's own. */
const NatsStreamSchema = z.strictObject({
  subjects: z.array(z.string()).min(1).optional(),
  storage: z.enum(["file", "memory"]).optional(),
  retention: z.enum(["limits", "workqueue", "interest"]).optional(),
  replicas: z.number().int().min(1).max(5).optional(),
  /** Retention by age ("0s": none). */
  maxAge: duration.optional(),
  /** Window in which a repeated Nats-Msg-Id is dropped (default 2m, at most maxAge). */
  duplicateWindow: duration.optional(),
  discard: z.enum(["old", "new"]).optional(),
  maxMsgs: z.number().int().min(-1).optional(),
  maxBytes: byteSize.optional(),
  maxMsgSize: byteSize.optional(),
  maxMsgsPerSubject: z.number().int().min(-1).optional(),
  /** Allows a change JetStream cannot apply in place (storage, retention to/from workqueue): the stream is deleted and recreated, losing its messages. */
  replace: z.boolean().optional(),
});

export const NetworkSchema = z.strictObject({
  cidr,
  gateway: ipv4,
  dns: z.array(ipv4).min(1, "needs at least one DNS server"),
  domain: z.string().regex(/^[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?$/, "must be a DNS domain such as hive.lan").default("hive.lan"),
  bridge: z.string().regex(/^[A-Za-z][A-Za-z0-9_.-]{0,15}$/, "must be a Proxmox bridge or SDN vnet name such as vmbr0").default("vmbr0"),
  vlanId: z.number().int().min(1).max(4094).optional(),
});

export const ProxmoxSchema = z.strictObject({
  /** Proxmox VE API URL; the provider talks to it with an API token (secret `borg:proxmoxApiToken`). */
  endpoint: z.string().regex(/^https?:\/\/[^\s/]+(?::\d+)?\/?$/, "must be the Proxmox API URL such as https://pve.hive.lan:8006/"),
  /** Skip TLS verification of the API. Allowed by the schema (self-signed labs); the policy pack forbids it outside dev. */
  insecure: z.boolean().default(false),
  node: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9.-]*$/, "must be the Proxmox node name such as pve1"),
  templateVmId: vmId,
  datastore: datastore.default("local-lvm"),
  /** Datastore with `snippets` content: cloud-init vendor data (pinned host keys) is uploaded there. */
  snippetsDatastore: datastore.default("local"),
  /** SSH user the provider uses on the PVE node to upload snippets. */
  sshUser: posixUser.default("root"),
});

/** Nodes refuse root logins (PermitRootLogin no): the deployer is a user with sudo. */
const deployUser = posixUser.refine((u) => u !== "root", { message: "must not be root: nodes refuse root logins; use a deploy user with sudo" });

export const SshSchema = z.strictObject({
  user: deployUser.default("borg"),
  authorizedKeys: z.array(sshPublicKey).min(1, "needs at least one operator public key"),
});

const nodeFields = {
  /** `proxmox`: a VM cloned from the template; `existing`: a NixOS host that is already running. */
  kind: z.enum(["proxmox", "existing"]).default("proxmox"),
  /** Required for `proxmox`. */
  vmId: vmId.optional(),
  address: ipv4,
  /** Required for `existing` hosts (pinned); VMs get a generated host key through cloud-init. */
  hostKey: hostKey.optional(),
  cores: size(1, 128, 4),
  memoryMb: size(1024, 1_048_576, 8192),
  diskGb: size(16, 65_536, 64),
};

type PartialNode = { kind?: unknown; vmId?: unknown; address?: unknown; hostKey?: unknown };
const where = (node: PartialNode) => (typeof node.address === "string" ? node.address : "<address>");

/**
 * What a node's kind needs. A host Pulumi does not create has no generated key: its SSH host key is
 * pinned in config, at every security level, because the first connection already carries secrets.
 * Runs even when other fields failed, so every problem is reported at once.
 */
const kindRules = (isPi: boolean) =>
  z.superRefine<PartialNode>(
    (node, ctx) => {
      if (typeof node !== "object" || node === null) return;
      const existing = isPi || node.kind === "existing";
      if (existing && node.hostKey === undefined) {
        const message = isPi ? "is required: pin the Pi's SSH host key" : "is required for an existing host: pin its SSH host key";
        ctx.addIssue({ code: "custom", path: ["hostKey"], message: `${message}: ${KEYSCAN(where(node))}`, input: undefined });
      }
      if (isPi) return;
      if (!existing && node.hostKey !== undefined) {
        ctx.addIssue({ code: "custom", path: ["hostKey"], message: "only applies to kind: existing; a VM gets a generated host key", input: undefined });
      }
      if (!existing && node.vmId === undefined) ctx.addIssue({ code: "custom", path: ["vmId"], message: "is required for a Proxmox VM (kind: proxmox)", input: undefined });
      if (existing && node.vmId !== undefined) ctx.addIssue({ code: "custom", path: ["vmId"], message: "only applies to kind: proxmox; remove it for an existing host", input: undefined });
    },
    { when: () => true },
  );

export const QueenSchema = z.strictObject({ name: hostLabel.default("queen"), ...nodeFields }).check(kindRules(false));

export const DroneSchema = z
  .strictObject({
    name: hostLabel,
    ...nodeFields,
    osdDiskGb: size(10, 65_536, 100),
    /** Become Kubernetes node labels `borg.io/<capability>=true`. */
    capabilities: z.array(capability).default([]),
  })
  .check(kindRules(false));

/** The edge Pi is always an existing host (never a VM). */
export const EdgePiSchema = z
  .strictObject({
    name: hostLabel.default("edge-pi"),
    address: ipv4,
    /** Pinned host key: required, by kindRules (its message shows how to get the key). */
    hostKey: hostKey.optional(),
    /** SSH user on the Pi; defaults to borg:ssh.user. */
    user: deployUser.optional(),
  })
  .check(kindRules(true));

const enabled = z.boolean().default(true);

export const ServicesSchema = z.strictObject({
  ceph: z
    .strictObject({
      enabled,
      /** Monitor hosts (queen or drones); odd count. Default: the queen. */
      monitors: z.array(hostLabel).min(1).optional(),
      /** Replicas per pool; default min(3, number of drones). */
      osdPoolSize: z.number().int().min(1).max(3).optional(),
    })
    .prefault({}),
  k3s: z
    .strictObject({
      enabled,
      /** Pinned K3s release (nixpkgs k3s package must match on the nodes). */
      version: z.string().regex(/^v\d+\.\d+\.\d+\+k3s\d+$/, "must be a pinned K3s release such as v1.36.3+k3s1").default("v1.36.3+k3s1"),
      /** K3s' own defaults (10.42.0.0/16, 10.43.0.0/16) collide with the usual home-lab node network, so ours differ. */
      podCidr: cidr.default("10.244.0.0/16"),
      serviceCidr: cidr.default("10.96.0.0/16"),
      clusterDomain: z.string().regex(/^[a-z0-9.-]+$/, "must be a DNS domain such as cluster.local").default("cluster.local"),
      /** K3s servers (queen or drones), the queen first; 1, or an odd number >= 3 for embedded etcd (HA). Default: the queen. */
      servers: z.array(hostLabel).min(1).optional(),
      /** DNS name or address the exported kubeconfig reaches the API at (added to the server certificate). Default: the queen's address. */
      apiAddress: z.string().regex(/^[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?$/, "must be a DNS name or IPv4 address such as k8s.hive.lan").optional(),
    })
    .prefault({}),
  consul: z
    .strictObject({
      enabled,
      datacenter: z.string().regex(/^[a-z0-9-]+$/, "must be lowercase a-z, 0-9, '-'").default("hive"),
      /** Server agents (queen or drones). Default: the queen. */
      servers: z.array(hostLabel).min(1).optional(),
      ui: z.boolean().default(true),
    })
    .prefault({}),
  nats: z
    .strictObject({
      enabled,
      clusterName: z.string().regex(/^[A-Za-z0-9_-]+$/, "must be letters, digits, '_' and '-'").default("hive"),
      jetstream: z
        .strictObject({
          /** JetStream peers (queen or drones); odd count. Default: the first three of the queen and drones (the queen alone with fewer). */
          peers: z.array(hostLabel).min(1).optional(),
          maxMemoryStore: quantity.default("512M"),
          maxFileStore: quantity.default("10G"),
        })
        .prefault({}),
      /** Stream name → settings: overrides of CIM_EVENTS, CIM_COMMANDS, CIM_QUERY_CACHE, CIM_SAGAS, CIM_SNAPSHOTS, or new streams. */
      streams: z.record(z.string(), NatsStreamSchema).default({}),
    })
    .prefault({}),
  mqtt: z
    .strictObject({
      enabled,
      /** Allowed by the schema for throw-away labs; the policy pack rejects it (always mandatory). */
      allowAnonymous: z.boolean().default(false),
      /**
       * Broker users, each with a Pulumi-generated password. ACLs are default-deny: a user can use
       * exactly the topics its `acl` lines grant (`<read|write|readwrite|deny> <topic>`), and a user
       * without ACL lines could do nothing, so at least one line is required.
       */
      users: z
        .array(
          z.strictObject({
            name: posixUser,
            acl: z
              .array(z.string().regex(/^(?:read|write|readwrite|deny) \S+$/, "must be '<read|write|readwrite|deny> <topic>'"))
              .min(1, "needs at least one ACL line: a user without ACL lines can do nothing"),
          }),
        )
        // Home Assistant's own user: its devices' topics, and the collective-status sensor's.
        .default([{ name: "homeassistant", acl: ["readwrite homeassistant/#", "read borg/collective/#"] }]),
      /** Topic patterns the edge Pi's broker shares with the queen's, both ways, QoS 1. */
      bridgeTopics: z.array(z.string().regex(/^[^\s]+$/, "must be one MQTT topic pattern")).min(1).default(["homeassistant/#", "borg/#"]),
    })
    .prefault({}),
  homeAssistant: z
    .strictObject({
      enabled,
      /** Shown in Home Assistant's UI (homeassistant.name). */
      name: z.string().regex(/^[^\n\r"'\\]{1,64}$/, "must be 1-64 characters without quotes, backslashes or line breaks").default("Borg Collective"),
      timeZone: z.string().regex(/^[A-Za-z_]+(?:\/[A-Za-z0-9_+-]+)*$/, "must be an IANA time zone such as Europe/Berlin").default("Etc/UTC"),
      unitSystem: z.enum(["metric", "us_customary"]).default("metric"),
      /**
       * Integrations whose dependencies are built in (nixpkgs' extraComponents); `mqtt` is always
       * added. A name nixpkgs does not know fails the Pi's build before anything switches.
       */
      extraComponents: z.array(z.string().regex(/^[a-z0-9_]+$/, "must be a Home Assistant integration name such as esphome")).default(["default_config", "met", "esphome", "mqtt"]),
      /** The MQTT user (borg:services.mqtt.users) Home Assistant logs in as on the Pi's broker. */
      mqttUser: posixUser.default("homeassistant"),
      /**
       * The home's location (sun, weather). Reaches the Pi only in Home Assistant's secrets.yaml,
       * never node.json; set it with `pulumi config set --secret --path` to keep it out of the stack file.
       */
      location: z
        .strictObject({
          latitude: z.number().min(-90).max(90),
          longitude: z.number().min(-180).max(180),
          elevation: z.number().int().min(-500).max(9000).default(0),
        })
        .optional(),
    })
    .prefault({}),
  monitoring: z
    .strictObject({
      enabled,
      retention: duration.default("15d"),
    })
    .prefault({}),
});

export const RolloutSchema = z.strictObject({
  /** Quorum-bearing nodes (queen, drones) update in at most this many lanes; unset: all in parallel. */
  maxParallel: z.number().int().min(1).optional(),
  /** Seconds a node waits for the confirm step before it reverts itself. */
  confirmTimeoutSeconds: z.number().int().min(30).max(3600).default(180),
});

export const SecuritySchema = z.strictObject({
  level: z.enum(SECURITY_LEVELS),
  /** TLS on service endpoints; default on outside dev, required in prod. */
  tls: z.boolean().optional(),
});

/** Every non-secret `borg:*` key; the order is the order problems are reported in. */
export const SECTION_SCHEMAS = {
  network: NetworkSchema,
  proxmox: ProxmoxSchema.optional(),
  ssh: SshSchema,
  queen: QueenSchema,
  drones: z.array(DroneSchema).min(1, "needs at least one drone"),
  edgePi: EdgePiSchema.optional(),
  services: ServicesSchema.prefault({}),
  rollout: RolloutSchema.prefault({}),
  security: SecuritySchema,
} as const;

/** Secret `borg:*` keys, set with `pulumi config set --secret`; never part of the validated spec. */
export const SECRET_KEYS = ["sshPrivateKey", "proxmoxApiToken"] as const;
export type SecretKey = (typeof SECRET_KEYS)[number];

export type Network = z.output<typeof NetworkSchema>;
export type Proxmox = z.output<typeof ProxmoxSchema>;
export type Ssh = z.output<typeof SshSchema>;
export type Queen = z.output<typeof QueenSchema>;
export type Drone = z.output<typeof DroneSchema>;
export type EdgePi = z.output<typeof EdgePiSchema>;
export type Services = z.output<typeof ServicesSchema>;
export type Rollout = z.output<typeof RolloutSchema>;
