// The `borg:*` configuration schema: one zod schema per config key (section), so each section can be
// validated on its own and every problem in a stack file is reported in one pass (see validate.ts).
import { z } from "zod";
import { parseCidr, parseIpv4 } from "./ipv4.js";

export const SECURITY_LEVELS = ["dev", "staging", "prod"] as const;
export type SecurityLevel = (typeof SECURITY_LEVELS)[number];

const hostLabel = z
  .string()
  .regex(/^[a-z](?:[a-z0-9-]{0,30}[a-z0-9])?$/, "must be a lowercase hostname label: a-z, 0-9 and '-', 1-32 characters, starting with a letter");
const posixUser = z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/, "must be a POSIX user name (lowercase, up to 32 characters)");
const ipv4 = z.string().refine((v) => parseIpv4(v) !== undefined, { message: "must be an IPv4 address such as 10.42.0.10" });
const cidr = z
  .string()
  .refine((v) => parseCidr(v) !== undefined, { message: "must be an IPv4 network in CIDR form with host bits zero, such as 10.42.0.0/24" });
const KEY_TYPES = "ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp256|ecdsa-sha2-nistp384|ecdsa-sha2-nistp521|sk-ssh-ed25519@openssh\\.com|sk-ecdsa-sha2-nistp256@openssh\\.com";
const sshPublicKey = z
  .string()
  .regex(new RegExp(`^(?:${KEY_TYPES}) [A-Za-z0-9+/]+={0,3}(?: [^\\r\\n]*)?$`), "must be one OpenSSH public key line: '<type> <base64> [comment]'");
/** A host's public key as `ssh-keyscan` prints it, without the host name: '<type> <base64>'. */
const hostKey = z
  .string()
  .regex(/^(?:ssh-ed25519|ecdsa-sha2-nistp256|ecdsa-sha2-nistp384|ecdsa-sha2-nistp521|ssh-rsa) [A-Za-z0-9+/]+={0,3}$/, "must be a host public key '<type> <base64>' (see `ssh-keyscan -t ed25519 <host>`)");
const vmId = z.number().int().min(100, "must be a Proxmox VM id >= 100").max(999_999_999);
const size = (min: number, max: number, def: number) => z.number().int().min(min).max(max).default(def);
const capability = z.string().regex(/^[a-z0-9](?:[a-z0-9.-]{0,61}[a-z0-9])?$/, "must be a Kubernetes label value: lowercase a-z, 0-9, '.', '-'");
const datastore = z.string().regex(/^[A-Za-z][A-Za-z0-9_.-]*$/, "must be a Proxmox storage id such as local-lvm");
const quantity = z.string().regex(/^\d+[KMGT]?$/, "must be a size such as 512M or 10G");
const duration = z.string().regex(/^\d+[smhdwy]$/, "must be a duration such as 15d");

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
  vmId: vmId.optional(),
  address: ipv4,
  /** Required for `existing` hosts (pinned); VMs get a generated host key through cloud-init. */
  hostKey: hostKey.optional(),
  cores: size(1, 128, 4),
  memoryMb: size(1024, 1_048_576, 8192),
  diskGb: size(16, 65_536, 64),
};

export const QueenSchema = z.strictObject({ name: hostLabel.default("queen"), ...nodeFields });

export const DroneSchema = z.strictObject({
  name: hostLabel,
  ...nodeFields,
  osdDiskGb: size(10, 65_536, 100),
  /** Become Kubernetes node labels `borg.io/<capability>=true`. */
  capabilities: z.array(capability).default([]),
});

export const EdgePiSchema = z.strictObject({
  name: hostLabel.default("edge-pi"),
  address: ipv4,
  /** Pinned host key; required at security level prod. */
  hostKey: hostKey.optional(),
  /** SSH user on the Pi; defaults to borg:ssh.user. */
  user: deployUser.optional(),
});

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
      version: z.string().regex(/^v\d+\.\d+\.\d+\+k3s\d+$/, "must be a pinned K3s release such as v1.31.4+k3s1").default("v1.31.4+k3s1"),
      /** K3s' own defaults (10.42.0.0/16, 10.43.0.0/16) collide with the usual home-lab node network, so ours differ. */
      podCidr: cidr.default("10.244.0.0/16"),
      serviceCidr: cidr.default("10.96.0.0/16"),
      clusterDomain: z.string().regex(/^[a-z0-9.-]+$/).default("cluster.local"),
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
      clusterName: z.string().regex(/^[A-Za-z0-9_-]+$/).default("hive"),
      jetstream: z
        .strictObject({
          /** JetStream peers (queen or drones); odd count. Default: the queen and drones, the last dropped if that is even. */
          peers: z.array(hostLabel).min(1).optional(),
          maxMemoryStore: quantity.default("512M"),
          maxFileStore: quantity.default("10G"),
        })
        .prefault({}),
    })
    .prefault({}),
  mqtt: z
    .strictObject({
      enabled,
      /** Allowed by the schema for throw-away labs; the policy pack rejects it (always mandatory). */
      allowAnonymous: z.boolean().default(false),
      users: z
        .array(z.strictObject({ name: posixUser, acl: z.array(z.string().regex(/^(?:read|write|readwrite|deny) \S+$/, "must be '<read|write|readwrite|deny> <topic>'")).min(1) }))
        .default([{ name: "homeassistant", acl: ["readwrite homeassistant/#"] }]),
    })
    .prefault({}),
  homeAssistant: z
    .strictObject({
      enabled,
      timeZone: z.string().regex(/^[A-Za-z_]+(?:\/[A-Za-z0-9_+-]+)*$/, "must be an IANA time zone such as Europe/Berlin").default("Etc/UTC"),
      unitSystem: z.enum(["metric", "us_customary"]).default("metric"),
      extraComponents: z.array(z.string().regex(/^[a-z0-9_]+$/)).default(["default_config", "met", "esphome", "mqtt"]),
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
