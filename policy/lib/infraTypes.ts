// Type tokens the non-Kubernetes rules judge (provider resources are `pulumi:providers:<pkg>`).
export const PROXMOX_PROVIDER = "pulumi:providers:proxmoxve";
export const PROXMOX_VM = "proxmoxve:index/vmLegacy:VmLegacy";

export const REMOTE_COMMAND = "command:remote:Command";
export const REMOTE_COPY = "command:remote:CopyToRemote";
/** The resources that open an SSH connection. */
export const isRemoteResource = (type: string) => type === REMOTE_COMMAND || type === REMOTE_COPY;

export const CONSUL_PROVIDER = "pulumi:providers:consul";
export const CONSUL_ACL_POLICY = "consul:index/aclPolicy:AclPolicy";
export const CONSUL_ACL_TOKEN = "consul:index/aclToken:AclToken";
export const CONSUL_ACL_ROLE = "consul:index/aclRole:AclRole";
export const CONSUL_INTENTIONS = "consul:index/configEntryServiceIntentions:ConfigEntryServiceIntentions";
export const CONSUL_INTENTION = "consul:index/intention:Intention";
export const CONSUL_CONFIG_ENTRY = "consul:index/configEntry:ConfigEntry";

export const CONFIG_MAP = "kubernetes:core/v1:ConfigMap";
export const HELM_CHARTS = new Set(["kubernetes:helm.sh/v4:Chart", "kubernetes:helm.sh/v3:Chart", "kubernetes:helm.sh/v3:Release"]);
