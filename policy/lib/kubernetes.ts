// Kubernetes resources as policies see them: Pulumi type tokens (`kubernetes:<group>/<version>:<Kind>`,
// with their `<Kind>Patch` and `<Kind>List` variants) and the camelCase inputs the Kubernetes SDK
// sends. The one place that matches kinds and walks objects: List items, Patches, where each
// workload keeps its pod spec, every container of a pod (init and ephemeral included), security
// settings, image references.
import type { ResourceValidationArgs } from "@pulumi/policy";
import { get, type Finding, type PolicyConfig } from "./define";

// Inputs are untyped JSON-ish data; `any` keeps the rules readable.
export type Props = Record<string, any>;

export interface K8sType {
  /** API group; "core" for the legacy group (Pulumi spells it that way). */
  group: string;
  version: string;
  /** The object's kind: `Deployment` for Deployment, DeploymentPatch and DeploymentList alike. */
  kind: string;
  /**
   * `object`: the resource is the object. `patch`: `<Kind>Patch`, a server-side-apply patch of an
   * existing object: only the fields it sets are known. `list`: `<Kind>List`, objects under `items`.
   */
  variant: "object" | "patch" | "list";
  /** The kind part of the type token as written, e.g. `DeploymentPatch`. */
  token: string;
}

// Every `<Kind>Patch` and `<Kind>List` of @pulumi/kubernetes 4.34 has its `<Kind>` in the same
// module (checked by test/policy/kubernetes.test.ts against the SDK), so stripping the suffix is
// exact for the SDK's types; a custom resource kind ending in List/Patch lives outside the groups
// the rules judge.
const VARIANT_SUFFIXES = [
  ["Patch", "patch"],
  ["List", "list"],
] as const;

/** Splits `kubernetes:networking.k8s.io/v1:IngressPatch`; undefined for any other provider's type. */
export function k8sTypeOf(type: string): K8sType | undefined {
  const m = /^kubernetes:([^:]+):([^:]+)$/.exec(type);
  if (!m) return undefined;
  const module = m[1]!;
  const token = m[2]!;
  const slash = module.lastIndexOf("/");
  const [suffix, variant] = VARIANT_SUFFIXES.find(([s]) => token.length > s.length && token.endsWith(s)) ?? ["", "object" as const];
  return { group: slash < 0 ? "" : module.slice(0, slash), version: module.slice(slash + 1), kind: token.slice(0, token.length - suffix.length), variant, token };
}

/** The one kind matcher of the pack: `kinds` match their Patch and List variants too. */
export const isK8sKind = (type: string, kinds: readonly string[], groups?: readonly string[]): boolean => {
  const t = k8sTypeOf(type);
  return t !== undefined && kinds.includes(t.kind) && (groups === undefined || groups.includes(t.group));
};

/** One Kubernetes object of a resource: the resource itself, or one item of a List. */
export interface K8sObject {
  /** Where the object sits in the inputs: "" for the resource itself, "items[2]." for a List item. */
  prefix: string;
  props: Props;
  /**
   * A Patch: server-side apply merges it into the live object, which the plan does not show. A
   * value it sets is judged like any other; a field it leaves out keeps its live value, so a rule
   * that requires a field to be set does not blame a Patch for omitting it (see patchOmits).
   */
  partial: boolean;
  /** The names an allowlist entry can match: `metadata.name` and the Pulumi resource name. */
  names: string[];
}

/** The objects a resource declares or changes: one for an object or a Patch, one per item of a List. */
export function objectsOf(args: { type: string; name: string; props: Props | undefined }): K8sObject[] {
  const t = k8sTypeOf(args.type);
  if (!t) return [];
  if (t.variant !== "list") return [{ prefix: "", props: args.props ?? {}, partial: t.variant === "patch", names: namesOf({ name: args.name, props: args.props ?? {} }) }];
  const items: unknown = args.props?.items;
  if (!Array.isArray(items)) return [];
  return items.flatMap((item, i) =>
    item && typeof item === "object" ? [{ prefix: `items[${i}].`, props: item as Props, partial: false, names: namesOf({ name: args.name, props: item as Props }) }] : [],
  );
}

/** Runs `check` on every object of a resource (see objectsOf). */
export const forEachObject = (args: { type: string; name: string; props: Props | undefined }, check: (o: K8sObject) => Finding[]): Finding[] => objectsOf(args).flatMap(check);

/**
 * True when a Patch leaves `value` out: the live object keeps whatever it has, which the policy
 * cannot see, so "must be set" rules pass it. The object the Patch changes is judged where it is
 * declared; a value the Patch does set is judged in full.
 */
export const patchOmits = (at: { partial: boolean }, value: unknown): boolean => at.partial && (value === undefined || value === null);

// Where each workload kind keeps its pod spec. Any version counts (apps/v1beta2, batch/v1beta1...),
// so an old API version does not slip past the pod rules (k8s-no-alpha-beta-apis flags it too).
// A PodTemplate runs nothing itself, but controllers copy it into pods.
const POD_SPEC_PATHS: Record<string, string> = {
  Pod: "spec",
  PodTemplate: "template.spec",
  Deployment: "spec.template.spec",
  StatefulSet: "spec.template.spec",
  DaemonSet: "spec.template.spec",
  ReplicaSet: "spec.template.spec",
  ReplicationController: "spec.template.spec",
  Job: "spec.template.spec",
  CronJob: "spec.jobTemplate.spec.template.spec",
};
const WORKLOAD_GROUPS = ["core", "apps", "extensions", "batch"];

/** Path of the pod spec inside one object of this type (a List item, a Patch: the same path). */
export function podSpecPathOf(type: string): string | undefined {
  const t = k8sTypeOf(type);
  return t && WORKLOAD_GROUPS.includes(t.group) ? POD_SPEC_PATHS[t.kind] : undefined;
}

/** A type that carries a pod spec: workloads, their Patch and List variants, PodTemplates. */
export const isWorkload = (type: string): boolean => podSpecPathOf(type) !== undefined;

/** A workload whose pods run (everything with a pod spec except a PodTemplate). */
export const runsPods = (type: string): boolean => isWorkload(type) && k8sTypeOf(type)!.kind !== "PodTemplate";

export interface PodSpecAt {
  /** Path of the pod spec in the inputs, e.g. `spec.template.spec` or `items[1].spec`. */
  path: string;
  spec: Props;
  /** Path of the pod's metadata (annotations), e.g. `spec.template.metadata`. */
  metaPath: string;
  meta: Props | undefined;
  /** From a Patch (see K8sObject.partial). */
  partial: boolean;
  names: string[];
}

/** Every pod spec of a resource: one for a workload or its Patch, one per item of its List. */
export function podSpecsOf(args: { type: string; name: string; props: Props | undefined }): PodSpecAt[] {
  const at = podSpecPathOf(args.type);
  if (at === undefined) return [];
  const metaAt = at.replace(/spec$/, "metadata");
  return objectsOf(args).flatMap((o) => {
    const spec = get(o.props, at);
    if (!spec || typeof spec !== "object") return [];
    const meta = get(o.props, metaAt);
    return [{ path: o.prefix + at, spec: spec as Props, metaPath: o.prefix + metaAt, meta: meta && typeof meta === "object" ? (meta as Props) : undefined, partial: o.partial, names: o.names }];
  });
}

/** Runs `check` on every pod spec of a workload; no findings for any other type. */
export const forEachPod = (args: { type: string; name: string; props: Props | undefined }, check: (pod: PodSpecAt) => Finding[]): Finding[] => podSpecsOf(args).flatMap(check);

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

/** Runs `check` on every container of every pod spec of a workload; no findings for any other type. */
export function forEachContainer(
  args: { type: string; name: string; props: Props | undefined },
  check: (c: ContainerAt, pod: PodSpecAt) => Finding[],
  lists: readonly ContainerList[] = CONTAINER_LISTS,
): Finding[] {
  return forEachPod(args, (pod) =>
    containersOf(pod)
      .filter((c) => lists.includes(c.list))
      .flatMap((c) => check(c, pod)),
  );
}

export interface Effective {
  value: unknown;
  /** Where the value was read, or where it belongs (the container) when set nowhere. */
  path: string;
}

/** A securityContext field that exists at both levels: the container's value overrides the pod's. */
export function effectiveSecurity(pod: PodSpecAt, c: ContainerAt, field: string): Effective {
  const own = get(c.container.securityContext, field);
  if (own !== undefined && own !== null) return { value: own, path: `${c.path}.securityContext.${field}` };
  const inherited = get(pod.spec.securityContext, field);
  if (inherited !== undefined && inherited !== null) return { value: inherited, path: `${pod.path}.securityContext.${field}` };
  return { value: undefined, path: `${c.path}.securityContext.${field}` };
}

export interface SecuritySetting {
  value: unknown;
  path: string;
  /** `the pod` or `container "web"`: who sets it, for messages. */
  who: string;
}

/**
 * Every place `field` is set: the pod's securityContext and, unless `podOnly`, each container's.
 * The Pod Security Standards judge each setting on its own, so a forbidden pod-level value is
 * forbidden even where every container overrides it.
 */
export function securitySettings(pod: PodSpecAt, field: string, podOnly = false): SecuritySetting[] {
  const out: SecuritySetting[] = [];
  const own = get(pod.spec.securityContext, field);
  if (own !== undefined && own !== null) out.push({ value: own, path: `${pod.path}.securityContext.${field}`, who: "the pod" });
  if (podOnly) return out;
  for (const c of containersOf(pod)) {
    const value = get(c.container.securityContext, field);
    if (value !== undefined && value !== null) out.push({ value, path: `${c.path}.securityContext.${field}`, who: describeContainer(c) });
  }
  return out;
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
 * Findings of a host-access rule, per pod spec, except those of a workload in `allowedWorkloads`.
 * When only allowed workloads break the rule, it is reported as an exemption (runner and report
 * show the reason), so the allowance stays visible. In a List, other items are still judged.
 */
export function unlessAllowedWorkload(args: ResourceValidationArgs, config: PolicyConfig, check: (pod: PodSpecAt) => Finding[]): Finding[] {
  const allowed = Array.isArray(config.allowedWorkloads) ? (config.allowedWorkloads as unknown[]) : [];
  const findings: Finding[] = [];
  let allowedMatch: string | undefined;
  for (const pod of podSpecsOf(args)) {
    const own = check(pod);
    if (own.length === 0) continue;
    const match = pod.names.find((n) => allowed.includes(n));
    if (match) allowedMatch ??= match;
    else findings.push(...own);
  }
  if (findings.length === 0 && allowedMatch) args.notApplicable(`exempt: workload "${allowedMatch}" is in allowedWorkloads (a system agent that needs the host)`);
  return findings;
}
