// The Kubernetes policies over fixture resources: each rule passes compliant objects (themselves
// validated against the Kubernetes schema), fails a mutated copy with a message naming the
// resource, the field and the fix, and ignores unrelated types. Then exemptions, allowedWorkloads,
// CronJob / init / ephemeral containers, and the insecure plan fixture tripping every rule.
import type { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import * as fs from "node:fs";
import { ClusterRole } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole";
import { ClusterRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding";
import { Role } from "kubernetes-models/rbac.authorization.k8s.io/v1/Role";
import { RoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding";
import { DaemonSet } from "kubernetes-models/apps/v1/DaemonSet";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { ReplicaSet } from "kubernetes-models/apps/v1/ReplicaSet";
import { StatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import { CronJob } from "kubernetes-models/batch/v1/CronJob";
import { Job } from "kubernetes-models/batch/v1/Job";
import { Ingress } from "kubernetes-models/networking.k8s.io/v1/Ingress";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import { Ingress as IngressV1beta1 } from "kubernetes-models/networking.k8s.io/v1beta1/Ingress";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { Pod } from "kubernetes-models/v1/Pod";
import { Service } from "kubernetes-models/v1/Service";
import { describe, expect, it } from "vitest";
import { kubernetesPolicies } from "../../policy/kubernetes/index.ts";
import { runResourcePolicy, runStackPolicy, type EnforcementConfig, type PlanResource } from "../../scripts/lib/policyRunner.js";

type Obj = Record<string, any>;
type Policy = ResourceValidationPolicy | StackValidationPolicy;

const isResourcePolicy = (p: Policy): p is ResourceValidationPolicy => "validateResource" in p;
const byName = (name: string): Policy => {
  const p = kubernetesPolicies.find((q) => q.name === name);
  if (!p) throw new Error(`no policy ${name}`);
  return p;
};
const resourcePolicy = (name: string) => byName(name) as ResourceValidationPolicy;

const TYPES = {
  Pod: "kubernetes:core/v1:Pod",
  Deployment: "kubernetes:apps/v1:Deployment",
  StatefulSet: "kubernetes:apps/v1:StatefulSet",
  DaemonSet: "kubernetes:apps/v1:DaemonSet",
  ReplicaSet: "kubernetes:apps/v1:ReplicaSet",
  Job: "kubernetes:batch/v1:Job",
  CronJob: "kubernetes:batch/v1:CronJob",
  Service: "kubernetes:core/v1:Service",
  Namespace: "kubernetes:core/v1:Namespace",
  Ingress: "kubernetes:networking.k8s.io/v1:Ingress",
  NetworkPolicy: "kubernetes:networking.k8s.io/v1:NetworkPolicy",
  Role: "kubernetes:rbac.authorization.k8s.io/v1:Role",
  ClusterRole: "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole",
  RoleBinding: "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
  ClusterRoleBinding: "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding",
  HelmChart: "kubernetes:helm.sh/v4:Chart",
  HelmRelease: "kubernetes:helm.sh/v3:Release",
} as const;

const plan = (type: string, name: string, inputs: Obj): PlanResource => ({ urn: `urn:pulumi:test::borg-collective::${type}::${name}`, type, name, inputs });
/** A mutated deep copy: fixtures are never edited in place. */
const mutate = (r: PlanResource, change: (inputs: Obj) => void): PlanResource => {
  const copy = structuredClone(r);
  change(copy.inputs);
  return copy;
};

// ---- compliant factory: every field each rule looks at is right ----

const NS = "apps";
const IMAGE = (name: string) => `registry.lab.example/borg/${name}:1.4.2@sha256:${"4f".repeat(32)}`;

function container(name: string): Obj {
  return {
    name,
    image: IMAGE(name),
    securityContext: {
      privileged: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"], add: ["NET_BIND_SERVICE"] },
    },
    resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "256Mi" } },
    volumeMounts: [{ name: "tmp", mountPath: "/tmp" }],
  };
}

function podSpec(): Obj {
  const web = container("web");
  web.ports = [{ name: "http", containerPort: 8080 }];
  web.env = [
    { name: "LOG_LEVEL", value: "info" },
    { name: "DB_PASSWORD", valueFrom: { secretKeyRef: { name: "web-db", key: "password" } } },
    { name: "DB_PASSWORD_FILE", value: "/run/secrets/db/password" },
  ];
  return {
    automountServiceAccountToken: false,
    securityContext: { runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, seccompProfile: { type: "RuntimeDefault" } },
    initContainers: [container("migrate")],
    containers: [web],
    volumes: [{ name: "tmp", emptyDir: {} }],
  };
}

const meta = (name: string, namespace = NS) => ({ name, namespace, labels: { "app.kubernetes.io/name": name } });
const template = (name: string) => ({ metadata: { labels: { "app.kubernetes.io/name": name } }, spec: podSpec() });
const selector = (name: string) => ({ matchLabels: { "app.kubernetes.io/name": name } });

const deployment = (name = "web", namespace = NS) =>
  plan(TYPES.Deployment, name, { apiVersion: "apps/v1", kind: "Deployment", metadata: meta(name, namespace), spec: { replicas: 2, selector: selector(name), template: template(name) } });
const statefulSet = (name = "db") =>
  plan(TYPES.StatefulSet, name, { apiVersion: "apps/v1", kind: "StatefulSet", metadata: meta(name), spec: { serviceName: name, replicas: 1, selector: selector(name), template: template(name) } });
const daemonSet = (name = "log-shipper") =>
  plan(TYPES.DaemonSet, name, { apiVersion: "apps/v1", kind: "DaemonSet", metadata: meta(name), spec: { selector: selector(name), template: template(name) } });
const replicaSet = (name = "web-rs") =>
  plan(TYPES.ReplicaSet, name, { apiVersion: "apps/v1", kind: "ReplicaSet", metadata: meta(name), spec: { replicas: 1, selector: selector(name), template: template(name) } });
const jobTemplate = (name: string) => ({ backoffLimit: 2, template: { ...template(name), spec: { ...podSpec(), restartPolicy: "OnFailure" } } });
const job = (name = "reindex") => plan(TYPES.Job, name, { apiVersion: "batch/v1", kind: "Job", metadata: meta(name), spec: jobTemplate(name) });
const cronJob = (name = "backup") =>
  plan(TYPES.CronJob, name, { apiVersion: "batch/v1", kind: "CronJob", metadata: meta(name), spec: { schedule: "15 3 * * *", jobTemplate: { spec: jobTemplate(name) } } });
// A Pod owned by a controller (as in an imported object): compliant, unlike a bare one.
const ownedPod = (name = "web-abc12") =>
  plan(TYPES.Pod, name, {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { ...meta(name), ownerReferences: [{ apiVersion: "apps/v1", kind: "ReplicaSet", name: "web-rs", uid: "0c7d9e0a-1b2c-4d5e-8f90-a1b2c3d4e5f6", controller: true }] },
    spec: podSpec(),
  });

const service = (name = "web", type = "ClusterIP") =>
  plan(TYPES.Service, name, { apiVersion: "v1", kind: "Service", metadata: meta(name), spec: { type, selector: { "app.kubernetes.io/name": "web" }, ports: [{ name: "http", port: 80, targetPort: 8080 }] } });
const backend = { service: { name: "web", port: { number: 80 } } };
const ingress = (name = "web") =>
  plan(TYPES.Ingress, name, {
    apiVersion: "networking.k8s.io/v1",
    kind: "Ingress",
    metadata: meta(name),
    spec: {
      ingressClassName: "traefik",
      tls: [{ hosts: ["web.lab.example", "*.apps.lab.example"], secretName: "web-tls" }],
      rules: [
        { host: "web.lab.example", http: { paths: [{ path: "/", pathType: "Prefix", backend }] } },
        { host: "grafana.apps.lab.example", http: { paths: [{ path: "/", pathType: "Prefix", backend }] } },
      ],
    },
  });
const networkPolicy = (namespace = NS) =>
  plan(TYPES.NetworkPolicy, `default-deny-${namespace}`, {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: { name: "default-deny", namespace },
    spec: { podSelector: {}, policyTypes: ["Ingress", "Egress"] },
  });
const namespace = (name = NS) => plan(TYPES.Namespace, name, { apiVersion: "v1", kind: "Namespace", metadata: { name } });
const readRules = [{ apiGroups: [""], resources: ["configmaps", "pods"], verbs: ["get", "list", "watch"] }];
const role = (name = "web-reader") => plan(TYPES.Role, name, { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: meta(name), rules: readRules });
const clusterRole = (name = "node-reader") =>
  plan(TYPES.ClusterRole, name, { apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", metadata: { name }, rules: [{ apiGroups: [""], resources: ["nodes"], verbs: ["get", "list"] }] });
const subjects = [{ kind: "ServiceAccount", name: "web", namespace: NS }];
const roleBinding = (name = "web-reader") =>
  plan(TYPES.RoleBinding, name, {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "RoleBinding",
    metadata: meta(name),
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "web-reader" },
    subjects,
  });
const clusterRoleBinding = (name = "node-reader") =>
  plan(TYPES.ClusterRoleBinding, name, {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRoleBinding",
    metadata: { name },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "node-reader" },
    subjects,
  });
const helmChart = (name = "podinfo") => plan(TYPES.HelmChart, name, { chart: "oci://ghcr.io/stefanprodan/charts/podinfo", version: "6.7.1", namespace: NS });

const WORKLOADS = [deployment(), statefulSet(), daemonSet(), replicaSet(), job(), cronJob(), ownedPod()];
const COMPLIANT = [
  namespace(),
  ...WORKLOADS,
  service(),
  ingress(),
  networkPolicy(),
  role(),
  clusterRole(),
  roleBinding(),
  clusterRoleBinding(),
  helmChart(),
];

/** A Deployment whose pod spec (and, optionally, the whole inputs) is changed. */
const withPod = (change: (pod: Obj, inputs: Obj) => void, base = deployment()) => mutate(base, (i) => change(i.spec.template.spec, i));
const web = (pod: Obj): Obj => pod.containers[0];
const D = "spec.template.spec";
const WEB = `${D}.containers[0]`;

// ---- per rule: valid fixtures (applicable, zero violations) and mutated ones ----

interface Bad {
  label: string;
  resource: PlanResource;
  field: string;
}
const RULES: Record<string, { valid: PlanResource[]; bad: Bad[] }> = {
  "k8s-no-privileged-containers": {
    valid: WORKLOADS,
    bad: [{ label: "privileged container", resource: withPod((p) => (web(p).securityContext.privileged = true)), field: `${WEB}.securityContext.privileged` }],
  },
  "k8s-no-privilege-escalation": {
    valid: WORKLOADS,
    bad: [
      { label: "unset (defaults to allowed)", resource: withPod((p) => delete web(p).securityContext.allowPrivilegeEscalation), field: `${WEB}.securityContext.allowPrivilegeEscalation` },
      { label: "true", resource: withPod((p) => (web(p).securityContext.allowPrivilegeEscalation = true)), field: `${WEB}.securityContext.allowPrivilegeEscalation` },
    ],
  },
  "k8s-run-as-non-root": {
    valid: WORKLOADS,
    bad: [
      { label: "container runAsUser 0", resource: withPod((p) => (web(p).securityContext.runAsUser = 0)), field: `${WEB}.securityContext.runAsUser` },
      { label: "pod runAsUser 0", resource: withPod((p) => ((p.securityContext.runAsUser = 0), delete p.securityContext.runAsNonRoot)), field: `${D}.securityContext.runAsUser` },
      { label: "nothing set", resource: withPod((p) => (p.securityContext = { seccompProfile: { type: "RuntimeDefault" } })), field: `${WEB}.securityContext.runAsNonRoot` },
      {
        label: "container runAsNonRoot false overrides the pod",
        resource: withPod((p) => (delete p.securityContext.runAsUser, (web(p).securityContext.runAsNonRoot = false))),
        field: `${WEB}.securityContext.runAsNonRoot`,
      },
    ],
  },
  "k8s-read-only-root-filesystem": {
    valid: WORKLOADS,
    bad: [
      { label: "false", resource: withPod((p) => (web(p).securityContext.readOnlyRootFilesystem = false)), field: `${WEB}.securityContext.readOnlyRootFilesystem` },
      { label: "no securityContext", resource: withPod((p) => delete web(p).securityContext), field: `${WEB}.securityContext.readOnlyRootFilesystem` },
    ],
  },
  "k8s-drop-all-capabilities": {
    valid: WORKLOADS,
    bad: [
      { label: "drops only NET_RAW", resource: withPod((p) => (web(p).securityContext.capabilities.drop = ["NET_RAW"])), field: `${WEB}.securityContext.capabilities.drop` },
      { label: "adds SYS_ADMIN", resource: withPod((p) => web(p).securityContext.capabilities.add.push("SYS_ADMIN")), field: `${WEB}.securityContext.capabilities.add` },
    ],
  },
  "k8s-no-host-namespaces": {
    valid: WORKLOADS,
    bad: (["hostNetwork", "hostPID", "hostIPC"] as const).map((f) => ({ label: f, resource: withPod((p) => (p[f] = true)), field: `${D}.${f}` })),
  },
  "k8s-no-host-path-volumes": {
    valid: WORKLOADS,
    bad: [{ label: "hostPath volume", resource: withPod((p) => p.volumes.push({ name: "docker", hostPath: { path: "/var/run/docker.sock" } })), field: `${D}.volumes[1].hostPath` }],
  },
  "k8s-no-host-ports": {
    valid: WORKLOADS,
    bad: [{ label: "hostPort", resource: withPod((p) => (web(p).ports[0].hostPort = 8080)), field: `${WEB}.ports[0].hostPort` }],
  },
  "k8s-seccomp-runtime-default": {
    valid: [...WORKLOADS, withPod((p) => (delete p.securityContext.seccompProfile, (web(p).securityContext.seccompProfile = { type: "Localhost", localhostProfile: "profiles/web.json" }), (p.initContainers[0].securityContext.seccompProfile = { type: "RuntimeDefault" })))],
    bad: [
      { label: "no profile anywhere", resource: withPod((p) => delete p.securityContext.seccompProfile), field: `${WEB}.securityContext.seccompProfile.type` },
      { label: "container Unconfined overrides the pod", resource: withPod((p) => (web(p).securityContext.seccompProfile = { type: "Unconfined" })), field: `${WEB}.securityContext.seccompProfile.type` },
      { label: "pod Unconfined", resource: withPod((p) => (p.securityContext.seccompProfile = { type: "Unconfined" })), field: `${D}.securityContext.seccompProfile.type` },
    ],
  },
  "k8s-image-explicit-tag": {
    valid: [...WORKLOADS, withPod((p) => (web(p).image = "registry.lab.example:5000/borg/web:2.0.1")), withPod((p) => (web(p).image = `nginx@sha256:${"ab".repeat(32)}`))],
    bad: [
      { label: ":latest", resource: withPod((p) => (web(p).image = "nginx:latest")), field: `${WEB}.image` },
      { label: "no tag", resource: withPod((p) => (web(p).image = "nginx")), field: `${WEB}.image` },
      { label: "registry port is not a tag", resource: withPod((p) => (web(p).image = "registry.lab.example:5000/borg/web")), field: `${WEB}.image` },
    ],
  },
  "k8s-image-digest": {
    valid: WORKLOADS,
    bad: [
      { label: "tag only", resource: withPod((p) => (web(p).image = "registry.lab.example/borg/web:1.4.2")), field: `${WEB}.image` },
      { label: "malformed digest", resource: withPod((p) => (web(p).image = "registry.lab.example/borg/web@sha256:1234")), field: `${WEB}.image` },
    ],
  },
  "k8s-resource-requests-limits": {
    valid: WORKLOADS,
    bad: [
      { label: "no memory limit", resource: withPod((p) => delete web(p).resources.limits), field: `${WEB}.resources.limits.memory` },
      { label: "no cpu request", resource: withPod((p) => delete web(p).resources.requests.cpu), field: `${WEB}.resources.requests.cpu` },
      { label: "no resources on the init container", resource: withPod((p) => delete p.initContainers[0].resources), field: `${D}.initContainers[0].resources.requests.memory` },
    ],
  },
  "k8s-no-automount-service-account-token": {
    valid: WORKLOADS,
    bad: [
      { label: "unset", resource: withPod((p) => delete p.automountServiceAccountToken), field: `${D}.automountServiceAccountToken` },
      { label: "true", resource: withPod((p) => (p.automountServiceAccountToken = true)), field: `${D}.automountServiceAccountToken` },
    ],
  },
  "k8s-no-secret-env-literals": {
    valid: WORKLOADS,
    bad: [
      { label: "secret by name", resource: withPod((p) => web(p).env.push({ name: "API_KEY", value: "k-12345" })), field: `${WEB}.env[3].value` },
      { label: "secret by content", resource: withPod((p) => web(p).env.push({ name: "DATABASE_URL", value: "postgres://web:s3cretpw@db.apps:5432/web" })), field: `${WEB}.env[3].value` },
    ],
  },
  "k8s-no-bare-pods": {
    valid: [ownedPod()],
    bad: [{ label: "no owner", resource: mutate(ownedPod(), (i) => delete i.metadata.ownerReferences), field: "metadata.ownerReferences" }],
  },
  "k8s-no-alpha-beta-apis": {
    valid: COMPLIANT.filter((r) => r.type.startsWith("kubernetes:")),
    bad: [
      {
        label: "networking.k8s.io/v1beta1 Ingress",
        resource: { ...mutate(ingress(), (i) => (i.apiVersion = "networking.k8s.io/v1beta1")), type: "kubernetes:networking.k8s.io/v1beta1:Ingress" },
        field: "apiVersion",
      },
      { label: "batch/v1beta1 CronJob", resource: { ...mutate(cronJob(), (i) => (i.apiVersion = "batch/v1beta1")), type: "kubernetes:batch/v1beta1:CronJob" }, field: "apiVersion" },
      { label: "v2alpha1 custom resource", resource: plan("kubernetes:example.com/v2alpha1:Widget", "widget", { apiVersion: "example.com/v2alpha1", kind: "Widget" }), field: "apiVersion" },
    ],
  },
  "k8s-service-type-allowlist": {
    valid: [service()],
    bad: [
      { label: "LoadBalancer", resource: service("web-lb", "LoadBalancer"), field: "spec.type" },
      { label: "NodePort", resource: service("web-np", "NodePort"), field: "spec.type" },
    ],
  },
  "k8s-ingress-tls": {
    valid: [ingress()],
    bad: [
      { label: "no tls", resource: mutate(ingress(), (i) => delete i.spec.tls), field: "spec.tls" },
      { label: "host not covered", resource: mutate(ingress(), (i) => i.spec.rules.push({ host: "admin.lab.example", http: i.spec.rules[0].http })), field: "spec.rules[2].host" },
      { label: "wildcard covers one label only", resource: mutate(ingress(), (i) => (i.spec.rules[1].host = "a.b.apps.lab.example")), field: "spec.rules[1].host" },
    ],
  },
  "k8s-no-rbac-wildcards": {
    valid: [role(), clusterRole()],
    bad: (["verbs", "resources", "apiGroups"] as const).map((f) => ({ label: `* in ${f}`, resource: mutate(clusterRole(), (i) => (i.rules[0][f] = ["*"])), field: `rules[0].${f}` })),
  },
  "k8s-no-cluster-admin-binding": {
    valid: [roleBinding(), clusterRoleBinding()],
    bad: [
      { label: "ClusterRoleBinding", resource: mutate(clusterRoleBinding(), (i) => (i.roleRef.name = "cluster-admin")), field: "roleRef.name" },
      { label: "RoleBinding", resource: mutate(roleBinding(), (i) => (i.roleRef = { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "cluster-admin" })), field: "roleRef.name" },
    ],
  },
  "k8s-no-helm-release": {
    valid: [helmChart()],
    bad: [{ label: "helm v3 Release", resource: plan(TYPES.HelmRelease, "podinfo", { chart: "podinfo", version: "6.7.1", repositoryOpts: { repo: "https://stefanprodan.github.io/podinfo" } }), field: "type" }],
  },
};

const UNRELATED = [
  plan("kubernetes:core/v1:ConfigMap", "web-config", { apiVersion: "v1", kind: "ConfigMap", metadata: meta("web-config"), data: { LOG_LEVEL: "info" } }),
  plan("command:remote:Command", "queen-ready", { create: "systemctl is-active k3s", connection: { host: "10.0.0.2", user: "borg" } }),
];

const resourceRuleNames = kubernetesPolicies.filter(isResourcePolicy).map((p) => p.name);

describe("the Kubernetes policy set", () => {
  it("has at least 21 policies, all k8s- prefixed, uniquely named, each described in one sentence", () => {
    const names = kubernetesPolicies.map((p) => p.name);
    expect(names.length).toBeGreaterThanOrEqual(21);
    expect(new Set(names).size).toBe(names.length);
    for (const p of kubernetesPolicies) {
      expect(p.name).toMatch(/^k8s-[a-z0-9-]+$/);
      expect(p.description).toMatch(/^[A-Z].*\.$/);
    }
    expect(Object.keys(RULES).sort()).toEqual(resourceRuleNames.sort());
  });
});

describe.each(Object.entries(RULES))("%s", (name, rule) => {
  const policy = resourcePolicy(name);

  it("passes every valid fixture, and judges it (applicable)", async () => {
    for (const r of rule.valid) {
      const run = await runResourcePolicy(policy, r);
      expect(run, `${r.type} ${r.name}`).toEqual({ violations: [] });
    }
  });

  it.each(rule.bad.map((b) => [b.label, b] as const))("fails a mutated fixture: %s", async (_label, bad) => {
    const run = await runResourcePolicy(policy, bad.resource);
    expect(run.notApplicable).toBeUndefined();
    expect(run.violations.length).toBeGreaterThan(0);
    const message = run.violations.find((v) => v.includes(bad.field));
    expect(message, run.violations.join("\n")).toBeDefined();
    expect(message).toContain(`${bad.resource.name} (${bad.resource.type})`);
    expect(message).toMatch(/: .+\. Fix: .+/);
  });

  it("does not apply to unrelated types", async () => {
    // Every kubernetes: type is in scope for the API-version rule; a ConfigMap passes it instead.
    for (const r of UNRELATED) {
      const run = await runResourcePolicy(policy, r);
      if (name === "k8s-no-alpha-beta-apis" && r.type.startsWith("kubernetes:")) expect(run).toEqual({ violations: [] });
      else {
        expect(run.violations).toEqual([]);
        expect(run.notApplicable).toMatch(/does not judge/);
      }
    }
  });
});

describe("k8s-namespace-network-policy (stack)", () => {
  const policy = byName("k8s-namespace-network-policy") as StackValidationPolicy;

  it("passes a stack whose every workload namespace has a NetworkPolicy", async () => {
    expect(await runStackPolicy(policy, COMPLIANT)).toEqual({ violations: [] });
  });

  it("flags a namespace with workloads and no NetworkPolicy, blaming its Namespace resource", async () => {
    const run = await runStackPolicy(policy, COMPLIANT.filter((r) => r.type !== TYPES.NetworkPolicy));
    expect(run.violations).toHaveLength(1);
    const [v] = run.violations;
    expect(v!.urn).toBe(namespace().urn);
    expect(v!.message).toContain(`${NS} (${TYPES.Namespace}): metadata.name: namespace "${NS}" runs web, db`);
    expect(v!.message).toContain("Fix: add a kubernetes:networking.k8s.io/v1:NetworkPolicy");
  });

  it('treats an unset metadata.namespace as "default", and blames the first workload when no Namespace is declared', async () => {
    const inDefault = mutate(deployment("legacy"), (i) => delete i.metadata.namespace);
    const run = await runStackPolicy(policy, [...COMPLIANT, inDefault]);
    expect(run.violations).toHaveLength(1);
    expect(run.violations[0]!.urn).toBe(inDefault.urn);
    expect(run.violations[0]!.message).toMatch(/^legacy \(kubernetes:apps\/v1:Deployment\): metadata\.namespace: namespace "default" runs legacy but has no NetworkPolicy\. Fix: /);
    const covered = await runStackPolicy(policy, [...COMPLIANT, inDefault, networkPolicy("default")]);
    expect(covered).toEqual({ violations: [] });
  });

  it("does not apply to a stack without workloads", async () => {
    const run = await runStackPolicy(policy, [...UNRELATED, service(), networkPolicy()]);
    expect(run.violations).toEqual([]);
    expect(run.notApplicable).toBe("no Kubernetes workload in the stack");
  });

  it("honours an exemption of the blamed resource", async () => {
    const stack = COMPLIANT.filter((r) => r.type !== TYPES.NetworkPolicy);
    const config: EnforcementConfig = { "k8s-namespace-network-policy": { exemptions: [{ resource: NS, reason: "flat lab namespace until Cilium lands" }] } };
    expect(await runStackPolicy(policy, stack, config)).toEqual({ violations: [] });
  });
});

describe("exemptions", () => {
  const policy = resourcePolicy("k8s-no-privileged-containers");
  const privileged = withPod((p) => (web(p).securityContext.privileged = true), deployment("ceph-osd"));

  it.each([
    ["logical name", "ceph-osd"],
    ["URN", privileged.urn],
  ])("an exemption by %s makes the violation disappear, with its reason", async (_how, resource) => {
    expect((await runResourcePolicy(policy, privileged)).violations).toHaveLength(1);
    const config: EnforcementConfig = { "k8s-no-privileged-containers": { exemptions: [{ resource, reason: "Ceph OSDs need raw block devices" }] } };
    const run = await runResourcePolicy(policy, privileged, config);
    expect(run).toEqual({ violations: [], notApplicable: "exempt: Ceph OSDs need raw block devices" });
  });

  it("an exemption for another resource or another policy changes nothing", async () => {
    const other: EnforcementConfig = { "k8s-no-privileged-containers": { exemptions: [{ resource: "web", reason: "not this resource at all" }] } };
    const elsewhere: EnforcementConfig = { "k8s-no-host-ports": { exemptions: [{ resource: "ceph-osd", reason: "a different policy entirely" }] } };
    expect((await runResourcePolicy(policy, privileged, other)).violations).toHaveLength(1);
    expect((await runResourcePolicy(policy, privileged, elsewhere)).violations).toHaveLength(1);
  });
});

describe("allowedWorkloads (host namespaces, hostPath, hostPort)", () => {
  const hostAgent = (name: string, resourceName = name) =>
    mutate(daemonSet(resourceName), (i) => {
      i.metadata.name = name;
      const pod = i.spec.template.spec;
      pod.hostNetwork = true;
      pod.volumes.push({ name: "plugin-dir", hostPath: { path: "/var/lib/kubelet/plugins", type: "DirectoryOrCreate" } });
      pod.containers[0].ports[0].hostPort = 9100;
    });
  const HOST_RULES = ["k8s-no-host-namespaces", "k8s-no-host-path-volumes", "k8s-no-host-ports"];

  it.each(HOST_RULES)("%s: a Ceph CSI node plugin is allowed by default, and the allowance is reported as an exemption", async (name) => {
    const run = await runResourcePolicy(resourcePolicy(name), hostAgent("ceph-csi-rbd-nodeplugin"));
    expect(run.violations).toEqual([]);
    expect(run.notApplicable).toBe('exempt: workload "ceph-csi-rbd-nodeplugin" is in allowedWorkloads (a system agent that needs the host)');
  });

  it.each(HOST_RULES)("%s: an arbitrary DaemonSet is not", async (name) => {
    const run = await runResourcePolicy(resourcePolicy(name), hostAgent("sketchy-agent"));
    expect(run.notApplicable).toBeUndefined();
    expect(run.violations).toHaveLength(1);
    expect(run.violations[0]).toMatch(/^sketchy-agent \(kubernetes:apps\/v1:DaemonSet\): spec\.template\.spec\..*\. Fix: /);
  });

  it("matches metadata.name as well as the Pulumi resource name", async () => {
    const policy = resourcePolicy("k8s-no-host-namespaces");
    expect((await runResourcePolicy(policy, hostAgent("ceph-csi-cephfs-nodeplugin", "cephfs-plugin"))).violations).toEqual([]);
    expect((await runResourcePolicy(policy, hostAgent("anything", "node-exporter"))).violations).toEqual([]);
  });

  it("the list comes from config, replacing the default", async () => {
    const policy = resourcePolicy("k8s-no-host-namespaces");
    const config: EnforcementConfig = { "k8s-no-host-namespaces": { allowedWorkloads: ["sketchy-agent"] } };
    expect((await runResourcePolicy(policy, hostAgent("sketchy-agent"), config)).violations).toEqual([]);
    expect((await runResourcePolicy(policy, hostAgent("ceph-csi-rbd-nodeplugin"), config)).violations).toHaveLength(1);
  });

  it("an allowed workload is still judged by the other rules", async () => {
    const run = await runResourcePolicy(resourcePolicy("k8s-no-privileged-containers"), mutate(hostAgent("ceph-csi-rbd-nodeplugin"), (i) => (i.spec.template.spec.containers[0].securityContext.privileged = true)));
    expect(run.violations).toHaveLength(1);
  });
});

describe("every container of every workload kind", () => {
  it("checks a CronJob's init container at spec.jobTemplate.spec.template.spec", async () => {
    const bad = mutate(cronJob(), (i) => (i.spec.jobTemplate.spec.template.spec.initContainers[0].securityContext.privileged = true));
    const run = await runResourcePolicy(resourcePolicy("k8s-no-privileged-containers"), bad);
    expect(run.violations).toEqual([
      'backup (kubernetes:batch/v1:CronJob): spec.jobTemplate.spec.template.spec.initContainers[0].securityContext.privileged: init container "migrate" runs privileged (full host access). Fix: remove securityContext.privileged (or set it to false) and add only the capability the container needs under securityContext.capabilities.add',
    ]);
  });

  it("checks every container of a bare Pod, ephemeral ones included", async () => {
    const bad = mutate(ownedPod(), (i) => i.spec.ephemeralContainers = [{ name: "debug", image: "busybox:1.37", securityContext: { runAsUser: 0 } }]);
    const run = await runResourcePolicy(resourcePolicy("k8s-run-as-non-root"), bad);
    expect(run.violations).toHaveLength(1);
    expect(run.violations[0]).toContain('spec.ephemeralContainers[0].securityContext.runAsUser: ephemeral container "debug" runs as UID 0');
  });

  it.each(WORKLOADS.map((w) => [w.type, w] as const))("%s: a latest image in an init container is caught", async (_type, w) => {
    const bad = mutate(w, (i) => {
      const pod = w.type === TYPES.Pod ? i.spec : w.type === TYPES.CronJob ? i.spec.jobTemplate.spec.template.spec : i.spec.template.spec;
      pod.initContainers[0].image = "busybox:latest";
    });
    const run = await runResourcePolicy(resourcePolicy("k8s-image-explicit-tag"), bad);
    expect(run.violations).toHaveLength(1);
    expect(run.violations[0]).toMatch(/initContainers\[0\]\.image: init container "migrate" uses image "busybox:latest" tagged latest/);
  });

  it("a container's own securityContext overrides the pod's", async () => {
    const policy = resourcePolicy("k8s-run-as-non-root");
    // The pod says root, each container says otherwise: compliant.
    const overridden = withPod((p) => {
      p.securityContext = { runAsUser: 0, seccompProfile: { type: "RuntimeDefault" } };
      for (const c of [...p.containers, ...p.initContainers]) c.securityContext.runAsUser = 10001;
    });
    expect(await runResourcePolicy(policy, overridden)).toEqual({ violations: [] });
  });
});

describe("fixtures against the Kubernetes schema (kubernetes-models)", () => {
  const MODELS: Record<string, new (data: any) => { validate(): void }> = {
    [TYPES.Pod]: Pod,
    [TYPES.Deployment]: Deployment,
    [TYPES.StatefulSet]: StatefulSet,
    [TYPES.DaemonSet]: DaemonSet,
    [TYPES.ReplicaSet]: ReplicaSet,
    [TYPES.Job]: Job,
    [TYPES.CronJob]: CronJob,
    [TYPES.Service]: Service,
    [TYPES.Namespace]: Namespace,
    [TYPES.Ingress]: Ingress,
    "kubernetes:networking.k8s.io/v1beta1:Ingress": IngressV1beta1,
    [TYPES.NetworkPolicy]: NetworkPolicy,
    [TYPES.Role]: Role,
    [TYPES.ClusterRole]: ClusterRole,
    [TYPES.RoleBinding]: RoleBinding,
    [TYPES.ClusterRoleBinding]: ClusterRoleBinding,
  };
  const validate = (r: PlanResource) => {
    const Model = MODELS[r.type];
    if (!Model) throw new Error(`no schema model for ${r.type}`);
    new Model(structuredClone(r.inputs)).validate();
  };

  it("every compliant Kubernetes object is schema-valid", () => {
    for (const r of COMPLIANT.filter((r) => r.type !== TYPES.HelmChart)) expect(() => validate(r), `${r.type} ${r.name}`).not.toThrow();
    for (const r of Object.values(RULES).flatMap((rule) => rule.valid)) if (MODELS[r.type]) expect(() => validate(r), `${r.type} ${r.name}`).not.toThrow();
  });

  it("control: a type-broken object is rejected", () => {
    expect(() => validate(withPod((p) => (web(p).securityContext.privileged = "yes")))).toThrow(/privileged must be boolean/);
    expect(() => validate(mutate(deployment(), (i) => (i.spec.replicas = "two")))).toThrow(/replicas/);
  });

  it("the insecure plan's objects are schema-valid too (insecure, not malformed)", () => {
    for (const r of insecurePlan().resources.filter((r) => MODELS[r.type])) expect(() => validate(r), `${r.type} ${r.name}`).not.toThrow();
  });
});

function insecurePlan(): { stack: string; resources: PlanResource[] } {
  return JSON.parse(fs.readFileSync(new URL("../fixtures/plans/kubernetes-insecure.json", import.meta.url), "utf8"));
}

describe("test/fixtures/plans/kubernetes-insecure.json", () => {
  it("trips every Kubernetes rule at least once", async () => {
    const { stack, resources } = insecurePlan();
    expect(stack).toBe("insecure-fixture");
    for (const r of resources) expect(r.urn).toBe(`urn:pulumi:insecure-fixture::borg-collective::${r.type}::${r.name}`);
    const tripped: Record<string, number> = {};
    for (const policy of kubernetesPolicies) {
      if (isResourcePolicy(policy)) {
        for (const r of resources) tripped[policy.name] = (tripped[policy.name] ?? 0) + (await runResourcePolicy(policy, r)).violations.length;
      } else {
        tripped[policy.name] = (await runStackPolicy(policy, resources)).violations.length;
      }
    }
    const untripped = Object.entries(tripped).filter(([, n]) => n === 0).map(([name]) => name);
    expect(untripped).toEqual([]);
    expect(Object.keys(tripped)).toHaveLength(kubernetesPolicies.length);
  });
});
