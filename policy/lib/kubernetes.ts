// Kubernetes resources as policies see them: Pulumi type tokens (`kubernetes:<group>/<version>:<Kind>`)
// and the camelCase inputs the Kubernetes SDK sends. Where each workload keeps its pod spec, every
// container of a pod (init and ephemeral included), effective security settings, image references.
import type { ResourceValidationArgs } from "@pulumi/policy";
import { get, type Finding, type PolicyConfig } from "./define";

// Inputs are untyped JSON-ish data; `any` keeps the rules readable.
export type Props = Record<string, any>;

export interface K8sType {
  /** API group; "core" for the legacy group (Pulumi spells it that way). */
  group: string;
  version: string;
  kind: string;
}

/** Splits `kubernetes:networking.k8s.io/v1:Ingress`; undefined for any other provider's type. */
export function k8sTypeOf(type: string): K8sType | undefined {
  const m = /^kubernetes:([^:]+):([^:]+)$/.exec(type);
  if (!m) return undefined;
  const module = m[1]!;
  const slash = module.lastIndexOf("/");
  return { group: slash < 0 ? "" : module.slice(0, slash), version: module.slice(slash + 1), kind: m[2]! };
}

export const isK8sKind = (type: string, kinds: readonly string[], groups?: readonly string[]): boolean => {
  const t = k8sTypeOf(type);
  return t !== undefined && kinds.includes(t.kind) && (groups === undefined || groups.includes(t.group));
};

// Where each workload kind keeps its pod spec. Any version counts (apps/v1beta2, batch/v1beta1...),
// so an old API version does not slip past the pod rules (k8s-no-alpha-beta-apis flags it too).
const POD_SPEC_PATHS: Record<string, string> = {
  Pod: "spec",
  Deployment: "spec.template.spec",
  StatefulSet: "spec.template.spec",
  DaemonSet: "spec.template.spec",
  ReplicaSet: "spec.template.spec",
  ReplicationController: "spec.template.spec",
  Job: "spec.template.spec",
  CronJob: "spec.jobTemplate.spec.template.spec",
};
const WORKLOAD_GROUPS = ["core", "apps", "extensions", "batch"];

export function podSpecPathOf(type: string): string | undefined {
  const t = k8sTypeOf(type);
  return t && WORKLOAD_GROUPS.includes(t.group) ? POD_SPEC_PATHS[t.kind] : undefined;
}

export const isWorkload = (type: string): boolean => podSpecPathOf(type) !== undefined;

export interface PodSpecAt {
  /** Path of the pod spec in the inputs, e.g. `spec.template.spec`. */
  path: string;
  spec: Props;
}

export function podSpecOf(type: string, props: Props | undefined): PodSpecAt | undefined {
  const path = podSpecPathOf(type);
  if (path === undefined) return undefined;
  const spec = get(props, path);
  return spec && typeof spec === "object" ? { path, spec } : undefined;
}

const CONTAINER_LISTS = ["containers", "initContainers", "ephemeralContainers"] as const;
export type ContainerList = (typeof CONTAINER_LISTS)[number];

export interface ContainerAt {
  /** Path of the container, e.g. `spec.template.spec.initContainers[0]`. */
  path: string;
  list: ContainerList;
  name: string;
  container: Props;
}

/** Every container of the pod: regular, init and ephemeral (each can run as root or privileged). */
export function containersOf(pod: PodSpecAt): ContainerAt[] {
  const out: ContainerAt[] = [];
  for (const list of CONTAINER_LISTS) {
    const items: unknown = pod.spec[list];
    if (!Array.isArray(items)) continue;
    items.forEach((container, i) => {
      if (container && typeof container === "object") {
        out.push({ path: `${pod.path}.${list}[${i}]`, list, name: String((container as Props).name ?? `#${i}`), container: container as Props });
      }
    });
  }
  return out;
}

/** `container "web"`, `init container "migrate"`: how messages name a container. */
export function describeContainer(c: ContainerAt): string {
  const kind = c.list === "initContainers" ? "init container" : c.list === "ephemeralContainers" ? "ephemeral container" : "container";
  return `${kind} "${c.name}"`;
}

/** Runs `check` on every container of a workload; no findings for any other type. */
export function forEachContainer(
  args: { type: string; props: Props },
  check: (c: ContainerAt, pod: PodSpecAt) => Finding[],
  lists: readonly ContainerList[] = CONTAINER_LISTS,
): Finding[] {
  const pod = podSpecOf(args.type, args.props);
  if (!pod) return [];
  return containersOf(pod)
    .filter((c) => lists.includes(c.list))
    .flatMap((c) => check(c, pod));
}

export interface Effective {
  value: unknown;
  /** Where the value was read, or where it belongs (the container) when set nowhere. */
  path: string;
}

/** A securityContext field that exists at both levels: the container's value overrides the pod's. */
export function effectiveSecurity(pod: PodSpecAt, c: ContainerAt, field: string): Effective {
  const own = get(c.container.securityContext, field);
  if (own !== undefined) return { value: own, path: `${c.path}.securityContext.${field}` };
  const inherited = get(pod.spec.securityContext, field);
  if (inherited !== undefined) return { value: inherited, path: `${pod.path}.securityContext.${field}` };
  return { value: undefined, path: `${c.path}.securityContext.${field}` };
}

export interface ImageRef {
  repository: string;
  tag?: string;
  digest?: string;
}

/** `registry:5000/app:1.2@sha256:...`: a registry port is not a tag (only the last path segment can carry one). */
export function parseImage(image: string): ImageRef {
  const at = image.indexOf("@");
  const name = at < 0 ? image : image.slice(0, at);
  const digest = at < 0 ? undefined : image.slice(at + 1);
  const colon = name.lastIndexOf(":");
  const hasTag = colon > name.lastIndexOf("/");
  return {
    repository: hasTag ? name.slice(0, colon) : name,
    ...(hasTag ? { tag: name.slice(colon + 1) } : {}),
    ...(digest !== undefined ? { digest } : {}),
  };
}

export const SHA256_DIGEST = /^sha256:[0-9a-f]{64}$/;

/** `metadata.namespace`, or "default" where the API server puts an unset one. */
export function namespaceOf(props: Props | undefined): string {
  const ns = props?.metadata?.namespace;
  return typeof ns === "string" && ns !== "" ? ns : "default";
}

/** The names an allowlist entry can match: `metadata.name` (set or auto-named) and the Pulumi name. */
export function namesOf(args: { name: string; props: Props }): string[] {
  const meta = args.props?.metadata?.name;
  return [...new Set([typeof meta === "string" ? meta : undefined, args.name].filter((n): n is string => !!n))];
}

// System workloads that need the host by design: the Ceph CSI node plugins mount RBD/CephFS on
// the node, node exporters read host metrics. One list, in the config, so each exception is visible.
export const DEFAULT_ALLOWED_WORKLOADS = ["ceph-csi-rbd-nodeplugin", "ceph-csi-cephfs-nodeplugin", "node-exporter", "prometheus-node-exporter"];

export const ALLOWED_WORKLOADS_PROPERTY = {
  allowedWorkloads: {
    type: "array",
    description: "Workloads (metadata.name or Pulumi resource name) allowed to use the host: system agents such as the Ceph CSI node plugins and node exporters.",
    items: { type: "string", minLength: 1 },
    default: DEFAULT_ALLOWED_WORKLOADS,
  },
};

/**
 * Findings of a host-access rule, unless the workload is in `allowedWorkloads`: then the rule is
 * reported as an exemption (runner and report show the reason), so the allowance stays visible.
 */
export function unlessAllowedWorkload(args: ResourceValidationArgs, config: PolicyConfig, findings: Finding[]): Finding[] {
  if (findings.length === 0) return findings;
  const allowed = Array.isArray(config.allowedWorkloads) ? (config.allowedWorkloads as unknown[]) : [];
  const match = namesOf(args).find((n) => allowed.includes(n));
  if (match) args.notApplicable(`exempt: workload "${match}" is in allowedWorkloads (a system agent that needs the host)`);
  return findings;
}
