// The Kubernetes policies over fixture resources: each rule passes compliant objects (themselves
// validated against the Kubernetes schema), fails a mutated copy with a message naming the
// resource, the field and the fix, and ignores unrelated types. Then exemptions, allowedWorkloads,
// CronJob / init / ephemeral containers, and the insecure plan fixture tripping every rule.
import type { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import * as fs from "node:fs";
import * as path from "node:path";
import { ClusterRole } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole";
import { ClusterRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding";
import { Role } from "kubernetes-models/rbac.authorization.k8s.io/v1/Role";
import { RoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding";
import { DaemonSet } from "kubernetes-models/apps/v1/DaemonSet";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { DeploymentList } from "kubernetes-models/apps/v1/DeploymentList";
import { ReplicaSet } from "kubernetes-models/apps/v1/ReplicaSet";
import { StatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import { CronJob } from "kubernetes-models/batch/v1/CronJob";
import { Job } from "kubernetes-models/batch/v1/Job";
import { Ingress } from "kubernetes-models/networking.k8s.io/v1/Ingress";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import { Ingress as IngressV1beta1 } from "kubernetes-models/networking.k8s.io/v1beta1/Ingress";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { Pod } from "kubernetes-models/v1/Pod";
import { PodList } from "kubernetes-models/v1/PodList";
import { PodTemplate } from "kubernetes-models/v1/PodTemplate";
import { Service } from "kubernetes-models/v1/Service";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../components/bundle.js";
import { kubernetesPolicies } from "../../policy/kubernetes/index.ts";
import { PSS_CONTROLS } from "../../policy/kubernetes/podSecurityStandards.ts";
import { k8sTypeOf } from "../../policy/lib/kubernetes.ts";
import { enforcedProfile, podSecurityTable } from "../../scripts/lib/policyTable.js";
import { loadPolicyConfig, runResourcePolicy, runStackPolicy, type EnforcementConfig, type PlanResource } from "../../scripts/lib/policyRunner.js";

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
  PodTemplate: "kubernetes:core/v1:PodTemplate",
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
  web.readinessProbe = { httpGet: { path: "/healthz", port: 8080 } };
  web.lifecycle = { preStop: { sleep: { seconds: 5 } } };
  web.env = [
    { name: "LOG_LEVEL", value: "info" },
    { name: "DB_PASSWORD", valueFrom: { secretKeyRef: { name: "web-db", key: "password" } } },
    { name: "DB_PASSWORD_FILE", value: "/run/secrets/db/password" },
  ];
  return {
    automountServiceAccountToken: false,
    securityContext: {
      runAsNonRoot: true,
      runAsUser: 10001,
      runAsGroup: 10001,
      fsGroup: 10001,
      supplementalGroups: [10002],
      seccompProfile: { type: "RuntimeDefault" },
      appArmorProfile: { type: "RuntimeDefault" },
    },
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

// Runs nothing itself; controllers copy it into pods, so the pod rules judge it too.
const podTemplate = (name = "web-template") => plan(TYPES.PodTemplate, name, { apiVersion: "v1", kind: "PodTemplate", metadata: meta(name), template: template(name) });

const WORKLOADS = [deployment(), statefulSet(), daemonSet(), replicaSet(), job(), cronJob(), ownedPod(), podTemplate()];
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
/** Where a workload of this type keeps its pod spec (written out here, not taken from the policy lib). */
const podOf = (type: string, inputs: Obj): Obj =>
  type.endsWith(":Pod") ? inputs.spec : type.endsWith(":PodTemplate") ? inputs.template.spec : type.endsWith(":CronJob") ? inputs.spec.jobTemplate.spec.template.spec : inputs.spec.template.spec;
const D = "spec.template.spec";
const WEB = `${D}.containers[0]`;
const APPARMOR = "container.apparmor.security.beta.kubernetes.io/";

// ---- per rule: valid fixtures (applicable, zero violations) and mutated ones ----

interface Bad {
  label: string;
  resource: PlanResource;
  field: string;
  /** The violation is a required field left unset: a Patch that omits it is not blamed (README). */
  missing?: true;
}
const RULES: Record<string, { valid: PlanResource[]; bad: Bad[] }> = {
  "k8s-no-privileged-containers": {
    valid: WORKLOADS,
    bad: [{ label: "privileged container", resource: withPod((p) => (web(p).securityContext.privileged = true)), field: `${WEB}.securityContext.privileged` }],
  },
  "k8s-no-privilege-escalation": {
    valid: WORKLOADS,
    bad: [
      { label: "unset (defaults to allowed)", resource: withPod((p) => delete web(p).securityContext.allowPrivilegeEscalation), field: `${WEB}.securityContext.allowPrivilegeEscalation`, missing: true },
      { label: "true", resource: withPod((p) => (web(p).securityContext.allowPrivilegeEscalation = true)), field: `${WEB}.securityContext.allowPrivilegeEscalation` },
    ],
  },
  "k8s-run-as-non-root": {
    valid: WORKLOADS,
    bad: [
      { label: "container runAsUser 0", resource: withPod((p) => (web(p).securityContext.runAsUser = 0)), field: `${WEB}.securityContext.runAsUser` },
      { label: "pod runAsUser 0", resource: withPod((p) => ((p.securityContext.runAsUser = 0), delete p.securityContext.runAsNonRoot)), field: `${D}.securityContext.runAsUser` },
      { label: "nothing set", resource: withPod((p) => (p.securityContext = { seccompProfile: { type: "RuntimeDefault" } })), field: `${WEB}.securityContext.runAsNonRoot`, missing: true },
      { label: "a non-zero runAsUser without runAsNonRoot", resource: withPod((p) => delete p.securityContext.runAsNonRoot), field: `${D}.initContainers[0].securityContext.runAsNonRoot`, missing: true },
      {
        label: "pod runAsNonRoot false, though every container says true",
        resource: withPod((p) => ((p.securityContext.runAsNonRoot = false), [...p.containers, ...p.initContainers].forEach((c: Obj) => (c.securityContext.runAsNonRoot = true)))),
        field: `${D}.securityContext.runAsNonRoot`,
      },
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
      { label: "no securityContext", resource: withPod((p) => delete web(p).securityContext), field: `${WEB}.securityContext.readOnlyRootFilesystem`, missing: true },
    ],
  },
  "k8s-drop-all-capabilities": {
    valid: WORKLOADS,
    bad: [
      { label: "drops nothing", resource: withPod((p) => delete web(p).securityContext.capabilities.drop), field: `${WEB}.securityContext.capabilities.drop`, missing: true },
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
      { label: "no profile anywhere", resource: withPod((p) => delete p.securityContext.seccompProfile), field: `${WEB}.securityContext.seccompProfile.type`, missing: true },
      { label: "container Unconfined overrides the pod", resource: withPod((p) => (web(p).securityContext.seccompProfile = { type: "Unconfined" })), field: `${WEB}.securityContext.seccompProfile.type` },
      { label: "pod Unconfined", resource: withPod((p) => (p.securityContext.seccompProfile = { type: "Unconfined" })), field: `${D}.securityContext.seccompProfile.type` },
      {
        label: "pod Unconfined, though every container overrides it",
        resource: withPod((p) => ((p.securityContext.seccompProfile = { type: "Unconfined" }), [...p.containers, ...p.initContainers].forEach((c: Obj) => (c.securityContext.seccompProfile = { type: "RuntimeDefault" })))),
        field: `${D}.securityContext.seccompProfile.type`,
      },
    ],
  },
  "k8s-no-host-process": {
    valid: [...WORKLOADS, withPod((p) => (web(p).securityContext.windowsOptions = { hostProcess: false, runAsUserName: "ContainerUser" }))],
    bad: [
      { label: "container hostProcess", resource: withPod((p) => (web(p).securityContext.windowsOptions = { hostProcess: true })), field: `${WEB}.securityContext.windowsOptions.hostProcess` },
      { label: "pod hostProcess", resource: withPod((p) => (p.securityContext.windowsOptions = { hostProcess: true })), field: `${D}.securityContext.windowsOptions.hostProcess` },
    ],
  },
  "k8s-no-apparmor-unconfined": {
    valid: [
      ...WORKLOADS,
      withPod((p) => (web(p).securityContext.appArmorProfile = { type: "Localhost", localhostProfile: "k8s-web" })),
      withPod((_p, i) => (i.spec.template.metadata.annotations = { [`${APPARMOR}web`]: "runtime/default", [`${APPARMOR}migrate`]: "localhost/k8s-migrate", "example.com/other": "unconfined" })),
    ],
    bad: [
      { label: "pod Unconfined", resource: withPod((p) => (p.securityContext.appArmorProfile = { type: "Unconfined" })), field: `${D}.securityContext.appArmorProfile.type` },
      { label: "container Unconfined", resource: withPod((p) => (p.initContainers[0].securityContext.appArmorProfile = { type: "Unconfined" })), field: `${D}.initContainers[0].securityContext.appArmorProfile.type` },
      { label: "annotation unconfined", resource: withPod((_p, i) => (i.spec.template.metadata.annotations = { [`${APPARMOR}web`]: "unconfined" })), field: `spec.template.metadata.annotations["${APPARMOR}web"]` },
      { label: "annotation on a bare Pod", resource: mutate(ownedPod(), (i) => (i.metadata.annotations = { [`${APPARMOR}web`]: "unconfined" })), field: `metadata.annotations["${APPARMOR}web"]` },
    ],
  },
  "k8s-selinux-container-types": {
    valid: [
      ...WORKLOADS,
      withPod((p) => (p.securityContext.seLinuxOptions = { type: "container_t", level: "s0:c123,c456" })),
      withPod((p) => (web(p).securityContext.seLinuxOptions = { type: "container_engine_t" })),
      withPod((p) => (web(p).securityContext.seLinuxOptions = { type: "", user: "", role: "" })),
    ],
    bad: [
      { label: "pod spc_t", resource: withPod((p) => (p.securityContext.seLinuxOptions = { type: "spc_t" })), field: `${D}.securityContext.seLinuxOptions.type` },
      { label: "container unconfined_t", resource: withPod((p) => (web(p).securityContext.seLinuxOptions = { type: "unconfined_t" })), field: `${WEB}.securityContext.seLinuxOptions.type` },
      { label: "user", resource: withPod((p) => (web(p).securityContext.seLinuxOptions = { user: "system_u" })), field: `${WEB}.securityContext.seLinuxOptions.user` },
      { label: "role", resource: withPod((p) => (p.securityContext.seLinuxOptions = { role: "system_r", type: "container_t" })), field: `${D}.securityContext.seLinuxOptions.role` },
    ],
  },
  "k8s-default-proc-mount": {
    valid: [...WORKLOADS, withPod((p) => (web(p).securityContext.procMount = "Default"))],
    bad: [
      { label: "Unmasked", resource: withPod((p) => (web(p).securityContext.procMount = "Unmasked")), field: `${WEB}.securityContext.procMount` },
      { label: "Unmasked in a user namespace (restricted allows only Default)", resource: withPod((p) => ((p.hostUsers = false), (p.initContainers[0].securityContext.procMount = "Unmasked"))), field: `${D}.initContainers[0].securityContext.procMount` },
    ],
  },
  "k8s-safe-sysctls": {
    valid: [...WORKLOADS, withPod((p) => (p.securityContext.sysctls = [{ name: "net.ipv4.ip_unprivileged_port_start", value: "80" }, { name: "net.ipv4.tcp_keepalive_time", value: "300" }]))],
    bad: [
      { label: "net.core.somaxconn", resource: withPod((p) => (p.securityContext.sysctls = [{ name: "net.ipv4.tcp_syncookies", value: "1" }, { name: "net.core.somaxconn", value: "4096" }])), field: `${D}.securityContext.sysctls[1].name` },
      { label: "kernel.msgmax", resource: withPod((p) => (p.securityContext.sysctls = [{ name: "kernel.msgmax", value: "65536" }])), field: `${D}.securityContext.sysctls[0].name` },
    ],
  },
  "k8s-no-probe-host": {
    valid: [...WORKLOADS, withPod((p) => (web(p).livenessProbe = { tcpSocket: { port: 8080, host: "" } }))],
    bad: [
      { label: "liveness httpGet host", resource: withPod((p) => (web(p).livenessProbe = { httpGet: { host: "10.42.0.1", path: "/", port: 10250 } })), field: `${WEB}.livenessProbe.httpGet.host` },
      { label: "startup tcpSocket host", resource: withPod((p) => (web(p).startupProbe = { tcpSocket: { host: "consul.service", port: 8500 } })), field: `${WEB}.startupProbe.tcpSocket.host` },
      { label: "preStop httpGet host", resource: withPod((p) => (web(p).lifecycle = { preStop: { httpGet: { host: "169.254.169.254", path: "/", port: 80 } } })), field: `${WEB}.lifecycle.preStop.httpGet.host` },
    ],
  },
  "k8s-restricted-volume-types": {
    valid: [
      ...WORKLOADS,
      withPod((p) =>
        p.volumes.push(
          { name: "config", configMap: { name: "web-config" } },
          { name: "creds", secret: { secretName: "web-db" } },
          { name: "data", persistentVolumeClaim: { claimName: "web-data" } },
          { name: "labels", downwardAPI: { items: [{ path: "labels", fieldRef: { fieldPath: "metadata.labels" } }] } },
          { name: "token", projected: { sources: [{ serviceAccountToken: { path: "token", expirationSeconds: 3600 } }] } },
          { name: "scratch", ephemeral: { volumeClaimTemplate: { spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } } } } },
          { name: "csi-inline", csi: { driver: "secrets-store.csi.k8s.io" } },
          { name: "defaulted" },
          { name: "node-dir", hostPath: { path: "/var/lib/web" } },
        ),
      ),
    ],
    bad: [
      { label: "nfs", resource: withPod((p) => p.volumes.push({ name: "media", nfs: { server: "10.42.0.5", path: "/srv/media" } })), field: `${D}.volumes[1].nfs` },
      { label: "rbd", resource: withPod((p) => p.volumes.push({ name: "disk", rbd: { monitors: ["10.42.0.2:6789"], image: "web" } })), field: `${D}.volumes[1].rbd` },
      { label: "gitRepo", resource: withPod((p) => p.volumes.push({ name: "src", gitRepo: { repository: "https://git.lab.example/web.git" } })), field: `${D}.volumes[1].gitRepo` },
    ],
  },
  "k8s-no-root-group": {
    valid: [...WORKLOADS, withPod((p) => (delete p.securityContext.runAsGroup, delete p.securityContext.fsGroup, delete p.securityContext.supplementalGroups, [...p.containers, ...p.initContainers].forEach((c: Obj) => (c.securityContext.runAsGroup = 10001))))],
    bad: [
      { label: "pod runAsGroup 0", resource: withPod((p) => (p.securityContext.runAsGroup = 0)), field: `${D}.securityContext.runAsGroup` },
      { label: "container runAsGroup 0", resource: withPod((p) => (web(p).securityContext.runAsGroup = 0)), field: `${WEB}.securityContext.runAsGroup` },
      { label: "fsGroup 0", resource: withPod((p) => (p.securityContext.fsGroup = 0)), field: `${D}.securityContext.fsGroup` },
      { label: "supplementalGroups with 0", resource: withPod((p) => p.securityContext.supplementalGroups.push(0)), field: `${D}.securityContext.supplementalGroups[1]` },
      { label: "no runAsGroup anywhere", resource: withPod((p) => delete p.securityContext.runAsGroup), field: `${WEB}.securityContext.runAsGroup`, missing: true },
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
      { label: "no memory limit", resource: withPod((p) => delete web(p).resources.limits), field: `${WEB}.resources.limits.memory`, missing: true },
      { label: "no cpu request", resource: withPod((p) => delete web(p).resources.requests.cpu), field: `${WEB}.resources.requests.cpu`, missing: true },
      { label: "no resources on the init container", resource: withPod((p) => delete p.initContainers[0].resources), field: `${D}.initContainers[0].resources.requests.memory`, missing: true },
      { label: "an empty memory limit", resource: withPod((p) => (web(p).resources.limits.memory = "")), field: `${WEB}.resources.limits.memory` },
    ],
  },
  "k8s-no-automount-service-account-token": {
    valid: WORKLOADS,
    bad: [
      { label: "unset", resource: withPod((p) => delete p.automountServiceAccountToken), field: `${D}.automountServiceAccountToken`, missing: true },
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
    bad: [
      { label: "no owner", resource: mutate(ownedPod(), (i) => delete i.metadata.ownerReferences), field: "metadata.ownerReferences" },
      { label: "an owner that is not its controller", resource: mutate(ownedPod(), (i) => (i.metadata.ownerReferences[0].controller = false)), field: "metadata.ownerReferences" },
    ],
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
      { label: "no tls", resource: mutate(ingress(), (i) => delete i.spec.tls), field: "spec.tls", missing: true },
      { label: "empty tls", resource: mutate(ingress(), (i) => (i.spec.tls = [])), field: "spec.tls" },
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

// ---- Patch and List variants ----
// `<Kind>Patch` changes an existing object by server-side apply; `<Kind>List` holds objects under
// `items`. Every rule judges both for the kinds it covers. A List item is a whole object, judged
// in full. A Patch is judged on what it sets: a forbidden value violates, a required field it
// leaves out is not blamed (the live value stays; the object is judged where it is declared).

/** Every type token @pulumi/kubernetes registers, read from the SDK itself. */
const SDK_TYPES: ReadonlySet<string> = (() => {
  const tokens = new Set<string>();
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const at = path.join(dir, entry.name);
      if (entry.isDirectory() && entry.name !== "node_modules") walk(at);
      else if (entry.name.endsWith(".js")) for (const m of fs.readFileSync(at, "utf8").matchAll(/__pulumiType = '([^']+)'/g)) tokens.add(m[1]!);
    }
  };
  walk(path.join(PROJECT_ROOT, "node_modules", "@pulumi", "kubernetes"));
  return tokens;
})();

const retype = (r: PlanResource, type: string, name = r.name): PlanResource => ({ ...structuredClone(r), type, name, urn: `urn:pulumi:test::borg-collective::${type}::${name}` });
/** The same inputs as a `<Kind>Patch` (the SDK keeps `kind` as the object's kind). */
const asPatch = (r: PlanResource): PlanResource => retype(r, `${r.type}Patch`);
/** A `<Kind>List` holding these objects as items. */
const asList = (...rs: PlanResource[]): PlanResource => {
  const first = rs[0]!;
  return plan(`${first.type}List`, `${first.name}-list`, { apiVersion: first.inputs.apiVersion, kind: `${first.inputs.kind}List`, metadata: {}, items: rs.map((r) => structuredClone(r.inputs)) });
};
const hasVariant = (r: PlanResource, suffix: "Patch" | "List") => SDK_TYPES.has(`${r.type}${suffix}`);

describe("Kubernetes type tokens", () => {
  it("the SDK's Patch and List types all map to a kind the SDK has (what k8sTypeOf relies on)", () => {
    expect(SDK_TYPES.size).toBeGreaterThan(500);
    const variants = [...SDK_TYPES].filter((t) => k8sTypeOf(t) && k8sTypeOf(t)!.variant !== "object");
    expect(variants.length).toBeGreaterThan(300);
    for (const token of variants) {
      const t = k8sTypeOf(token)!;
      expect(SDK_TYPES.has(token.slice(0, token.length - (t.variant === "patch" ? 5 : 4))), token).toBe(true);
      expect(`${t.kind}${t.variant === "patch" ? "Patch" : "List"}`).toBe(t.token);
    }
    expect(k8sTypeOf("kubernetes:apps/v1:DeploymentPatch")).toEqual({ group: "apps", version: "v1", kind: "Deployment", variant: "patch", token: "DeploymentPatch" });
    expect(k8sTypeOf("kubernetes:core/v1:PodList")).toEqual({ group: "core", version: "v1", kind: "Pod", variant: "list", token: "PodList" });
    expect(k8sTypeOf("kubernetes:core/v1:Pod")).toMatchObject({ kind: "Pod", variant: "object" });
  });

  it("Helm has no Patch or List types (k8s-no-helm-release has no variants to judge)", () => {
    expect([...SDK_TYPES].filter((t) => t.startsWith("kubernetes:helm.sh/") && /(?:Patch|List)$/.test(t))).toEqual([]);
  });
});

const VARIANT_RULES = Object.entries(RULES).filter(([name]) => name !== "k8s-no-helm-release");
// A PodPatch changes a Pod that exists: it declares no bare Pod.
const PATCH_NOT_APPLICABLE: Record<string, RegExp> = { "k8s-no-bare-pods": /^a PodPatch changes a Pod that exists already/ };

describe.each(VARIANT_RULES)("%s: Patch and List variants", (name, rule) => {
  const policy = resourcePolicy(name);
  const validTypes = [...new Set(rule.valid.map((r) => r.type))];

  it("has real Patch and List types to judge", () => {
    expect(rule.valid.some((r) => hasVariant(r, "Patch"))).toBe(true);
    expect(rule.valid.some((r) => hasVariant(r, "List"))).toBe(true);
    for (const bad of rule.bad) if (bad.resource.type.startsWith("kubernetes:") && !bad.resource.type.includes("example.com")) expect(SDK_TYPES.has(bad.resource.type), bad.resource.type).toBe(true);
  });

  it("passes a List of its valid fixtures, one List per kind, and judges it (applicable)", async () => {
    for (const type of validTypes.filter((t) => SDK_TYPES.has(`${t}List`))) {
      const list = asList(...rule.valid.filter((r) => r.type === type));
      expect(await runResourcePolicy(policy, list), list.type).toEqual({ violations: [] });
    }
  });

  it.each(rule.bad.filter((b) => hasVariant(b.resource, "List")).map((b) => [b.label, b] as const))("fails the List variant of a mutated fixture at its item: %s", async (_label, bad) => {
    const compliant = rule.valid.find((r) => r.type === bad.resource.type);
    const list = compliant ? asList(compliant, bad.resource) : asList(bad.resource);
    const run = await runResourcePolicy(policy, list);
    expect(run.notApplicable).toBeUndefined();
    // The API version is the List type's own (one for all its items).
    const field = name === "k8s-no-alpha-beta-apis" ? bad.field : `items[${compliant ? 1 : 0}].${bad.field}`;
    const message = run.violations.find((v) => v.includes(`): ${field}: `));
    expect(message, run.violations.join("\n")).toBeDefined();
    expect(message).toMatch(new RegExp(`^${list.name} \\(${list.type.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}\\): .+\\. Fix: .+`));
    if (compliant) expect(run.violations.filter((v) => v.includes("): items[0]."))).toEqual([]);
  });

  it("passes the Patch variant of every valid fixture", async () => {
    for (const r of rule.valid.filter((v) => hasVariant(v, "Patch"))) {
      const run = await runResourcePolicy(policy, asPatch(r));
      if (PATCH_NOT_APPLICABLE[name]) expect(run.notApplicable, r.name).toMatch(PATCH_NOT_APPLICABLE[name]!);
      else expect(run, `${r.type}Patch ${r.name}`).toEqual({ violations: [] });
    }
  });

  it.each(rule.bad.filter((b) => hasVariant(b.resource, "Patch")).map((b) => [b.label, b] as const))("Patch variant of a mutated fixture: %s", async (_label, bad) => {
    const patch = asPatch(bad.resource);
    const run = await runResourcePolicy(policy, patch);
    if (PATCH_NOT_APPLICABLE[name]) {
      expect(run.notApplicable).toMatch(PATCH_NOT_APPLICABLE[name]!);
    } else if (bad.missing) {
      // The Patch leaves the required field out: the live value stays, so it is not blamed.
      expect(run).toEqual({ violations: [] });
    } else {
      // The Patch sets the forbidden value: the same violation as the object.
      expect(run.notApplicable).toBeUndefined();
      const message = run.violations.find((v) => v.includes(`): ${bad.field}: `));
      expect(message, run.violations.join("\n")).toBeDefined();
      expect(message).toContain(`${patch.name} (${patch.type}): `);
    }
  });

  it("judges a Patch that sets nothing the rule reads, and passes it", async () => {
    const base = rule.valid.find((r) => hasVariant(r, "Patch"))!;
    const patch = plan(`${base.type}Patch`, `${base.name}-scale`, { apiVersion: base.inputs.apiVersion, kind: base.inputs.kind, metadata: { name: (base.inputs as Obj).metadata?.name, namespace: NS }, ...(base.inputs.spec ? { spec: { replicas: 3 } } : {}) });
    const run = await runResourcePolicy(policy, patch);
    if (PATCH_NOT_APPLICABLE[name]) expect(run.notApplicable).toMatch(PATCH_NOT_APPLICABLE[name]!);
    else expect(run).toEqual({ violations: [] });
  });

  it("does not apply to the Patch and List variants of unrelated kinds", async () => {
    for (const r of [asPatch(UNRELATED[0]!), asList(UNRELATED[0]!)]) {
      expect(SDK_TYPES.has(r.type), r.type).toBe(true);
      const run = await runResourcePolicy(policy, r);
      if (name === "k8s-no-alpha-beta-apis") expect(run).toEqual({ violations: [] });
      else expect(run.notApplicable, r.type).toMatch(/does not judge/);
    }
  });
});

describe("Pod Security Standards mapping (README table)", () => {
  const POD_RULES = [
    "k8s-no-privileged-containers", "k8s-no-privilege-escalation", "k8s-run-as-non-root", "k8s-drop-all-capabilities", "k8s-no-host-namespaces",
    "k8s-no-host-path-volumes", "k8s-no-host-ports", "k8s-seccomp-runtime-default", "k8s-no-host-process", "k8s-no-apparmor-unconfined",
    "k8s-selinux-container-types", "k8s-default-proc-mount", "k8s-safe-sysctls", "k8s-no-probe-host", "k8s-restricted-volume-types", "k8s-no-root-group",
  ];
  // The upstream controls (kubernetes.io Pod Security Standards and the pod-security-admission checks, 1.36).
  const UPSTREAM = {
    baseline: ["HostProcess", "Host Namespaces", "Privileged Containers", "Capabilities", "HostPath Volumes", "Host Ports", "AppArmor", "SELinux", "/proc Mount Type", "Seccomp", "Sysctls", "Probe and lifecycle host"],
    restricted: ["Volume Types", "Privilege Escalation", "Running as Non-root", "Running as Non-root user"],
  };

  it("maps every upstream control to existing rules, and every pod security rule to a control", () => {
    expect(PSS_CONTROLS.filter((c) => c.profile === "baseline").map((c) => c.control)).toEqual(UPSTREAM.baseline);
    expect(PSS_CONTROLS.filter((c) => c.profile === "restricted").map((c) => c.control)).toEqual(UPSTREAM.restricted);
    const names = kubernetesPolicies.map((p) => p.name);
    for (const c of PSS_CONTROLS) for (const rule of c.rules) expect(names, c.control).toContain(rule);
    expect([...new Set(PSS_CONTROLS.flatMap((c) => c.rules))].sort()).toEqual([...POD_RULES].sort());
  });

  it("README's table is the generated one", () => {
    expect(fs.readFileSync(path.join(PROJECT_ROOT, "README.md"), "utf8")).toContain(podSecurityTable());
  });

  it("the enforced profile follows the configs: staging and prod restricted, dev none; one advisory control lowers it", () => {
    const config = (stack: string) => loadPolicyConfig(path.join(PROJECT_ROOT, "policy", "config", `${stack}.json`));
    expect(["dev", "staging", "prod"].map((s) => enforcedProfile(config(s)))).toEqual(["none", "restricted", "restricted"]);
    expect(enforcedProfile({ all: "mandatory", "k8s-restricted-volume-types": "advisory" })).toBe("baseline");
    expect(enforcedProfile({ all: "mandatory", "k8s-safe-sysctls": "advisory" })).toBe("none");
    expect(enforcedProfile({ all: "advisory", ...Object.fromEntries(PSS_CONTROLS.filter((c) => c.profile === "baseline").flatMap((c) => c.rules.map((r) => [r, "mandatory"]))) })).toBe("baseline");
    // A control is as strong as its weakest rule (Volume Types needs both of its rules).
    expect(enforcedProfile({ all: "mandatory", "k8s-no-host-path-volumes": "advisory" })).toBe("none");
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

  it("counts the items of a List and the target of a Patch as workloads, and NetworkPolicy Lists and Patches as cover", async () => {
    const other = (r: PlanResource) => mutate(r, (i) => (i.metadata.namespace = "other"));
    const list = asList(other(deployment("api")), other(statefulSet("cache")));
    const run = await runStackPolicy(policy, [...COMPLIANT, list]);
    expect(run.violations).toHaveLength(1);
    expect(run.violations[0]!.urn).toBe(list.urn);
    expect(run.violations[0]!.message).toContain('api-list (kubernetes:apps/v1:DeploymentList): items[0].metadata.namespace: namespace "other" runs api-list.items[0], api-list.items[1] but has no NetworkPolicy');
    expect(await runStackPolicy(policy, [...COMPLIANT, list, asList(networkPolicy("other"))])).toEqual({ violations: [] });
    expect(await runStackPolicy(policy, [...COMPLIANT, list, asPatch(networkPolicy("other"))])).toEqual({ violations: [] });

    const patched = asPatch(other(deployment("coredns")));
    expect((await runStackPolicy(policy, [...COMPLIANT, patched])).violations.map((v) => v.urn)).toEqual([patched.urn]);
  });

  it("a PodTemplate runs no pod: alone it needs no NetworkPolicy", async () => {
    const run = await runStackPolicy(policy, [mutate(podTemplate(), (i) => (i.metadata.namespace = "templates"))]);
    expect(run).toEqual({ violations: [], notApplicable: "no Kubernetes workload in the stack" });
  });

  it("honours an exemption of the blamed resource", async () => {
    const stack = COMPLIANT.filter((r) => r.type !== TYPES.NetworkPolicy);
    const config: EnforcementConfig = { "k8s-namespace-network-policy": { exemptions: [{ resource: NS, reason: "flat lab namespace until Cilium lands" }] } };
    expect(await runStackPolicy(policy, stack, config)).toEqual({ violations: [], exempted: [{ resource: NS, reason: "flat lab namespace until Cilium lands" }] });
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

  it("in a List, an allowed item is skipped and the others are judged", async () => {
    const policy = resourcePolicy("k8s-no-host-path-volumes");
    const mixed = asList(hostAgent("ceph-csi-rbd-nodeplugin"), hostAgent("sketchy-agent"));
    const run = await runResourcePolicy(policy, mixed);
    expect(run.notApplicable).toBeUndefined();
    expect(run.violations).toHaveLength(1);
    expect(run.violations[0]).toMatch(/^ceph-csi-rbd-nodeplugin-list \(kubernetes:apps\/v1:DaemonSetList\): items\[1\]\.spec\.template\.spec\.volumes\[1\]\.hostPath: /);
    const allowedOnly = await runResourcePolicy(policy, asList(hostAgent("ceph-csi-rbd-nodeplugin"), hostAgent("node-exporter")));
    expect(allowedOnly).toEqual({ violations: [], notApplicable: 'exempt: workload "ceph-csi-rbd-nodeplugin" is in allowedWorkloads (a system agent that needs the host)' });
  });

  it("a Patch of an allowed workload is allowed too", async () => {
    const run = await runResourcePolicy(resourcePolicy("k8s-no-host-namespaces"), asPatch(hostAgent("ceph-csi-rbd-nodeplugin")));
    expect(run.violations).toEqual([]);
    expect(run.notApplicable).toMatch(/^exempt: workload "ceph-csi-rbd-nodeplugin"/);
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
      podOf(w.type, i).initContainers[0].image = "busybox:latest";
    });
    const run = await runResourcePolicy(resourcePolicy("k8s-image-explicit-tag"), bad);
    expect(run.violations).toHaveLength(1);
    expect(run.violations[0]).toMatch(/initContainers\[0\]\.image: init container "migrate" uses image "busybox:latest" tagged latest/);
  });

  it("a container's own securityContext completes the pod's: runAsNonRoot on every container suffices", async () => {
    const policy = resourcePolicy("k8s-run-as-non-root");
    const perContainer = withPod((p) => {
      delete p.securityContext.runAsNonRoot;
      for (const c of [...p.containers, ...p.initContainers]) c.securityContext.runAsNonRoot = true;
    });
    expect(await runResourcePolicy(policy, perContainer)).toEqual({ violations: [] });
  });

  it("but a forbidden pod-level value is reported even where every container overrides it (as PSS judges it)", async () => {
    const policy = resourcePolicy("k8s-run-as-non-root");
    const overridden = withPod((p) => {
      p.securityContext.runAsUser = 0;
      for (const c of [...p.containers, ...p.initContainers]) c.securityContext.runAsUser = 10001;
    });
    const run = await runResourcePolicy(policy, overridden);
    expect(run.violations).toHaveLength(1);
    expect(run.violations[0]).toContain(`${D}.securityContext.runAsUser: the pod runs as UID 0 (root). Fix: `);
  });
});

describe("the issue's examples: Patch resources no longer bypass the rules", () => {
  // All Kubernetes rules over one resource: which ones it trips.
  const tripped = async (r: PlanResource): Promise<string[]> => {
    const names: string[] = [];
    for (const policy of kubernetesPolicies.filter(isResourcePolicy)) if ((await runResourcePolicy(policy, r)).violations.length > 0) names.push(policy.name);
    return names.sort();
  };

  it("a DeploymentPatch with hostNetwork, a privileged :latest container and a hostPath of /", async () => {
    const patch = plan("kubernetes:apps/v1:DeploymentPatch", "web-patch", {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web", namespace: NS },
      spec: { template: { spec: { hostNetwork: true, containers: [{ name: "web", image: "nginx:latest", securityContext: { privileged: true } }], volumes: [{ name: "root", hostPath: { path: "/" } }] } } },
    });
    // Only what the Patch sets: the required fields it leaves out keep their live values.
    expect(await tripped(patch)).toEqual(["k8s-image-digest", "k8s-image-explicit-tag", "k8s-no-host-namespaces", "k8s-no-host-path-volumes", "k8s-no-privileged-containers"]);
  });

  it("a ServicePatch to NodePort", async () => {
    const patch = plan("kubernetes:core/v1:ServicePatch", "traefik-patch", { apiVersion: "v1", kind: "Service", metadata: { name: "traefik", namespace: "kube-system" }, spec: { type: "NodePort" } });
    expect(await tripped(patch)).toEqual(["k8s-service-type-allowlist"]);
  });

  it("a ClusterRoleBindingPatch to cluster-admin", async () => {
    const patch = plan("kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBindingPatch", "ops-patch", {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: { name: "ops" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "cluster-admin" },
    });
    expect(await tripped(patch)).toEqual(["k8s-no-cluster-admin-binding"]);
  });

  it("a pre-release Patch is told to use the GA Patch type", async () => {
    const patch = plan("kubernetes:apps/v1beta2:DeploymentPatch", "web-patch", { apiVersion: "apps/v1beta2", kind: "Deployment", metadata: { name: "web" } });
    expect((await runResourcePolicy(resourcePolicy("k8s-no-alpha-beta-apis"), patch)).violations).toEqual([
      "web-patch (kubernetes:apps/v1beta2:DeploymentPatch): apiVersion: DeploymentPatch uses the pre-release API apps/v1beta2. Fix: use the GA API apps/v1 (k8s.apps.v1.DeploymentPatch in @pulumi/kubernetes) and adapt the spec to it",
    ]);
  });

  it("a PodList of a privileged root pod is judged item by item, as a bare Pod", async () => {
    const pod = mutate(ownedPod("debug"), (i) => (delete i.metadata.ownerReferences, (i.spec.containers[0].securityContext.privileged = true), (i.spec.securityContext.runAsUser = 0)));
    expect(await tripped(asList(ownedPod(), pod))).toEqual(["k8s-no-bare-pods", "k8s-no-privileged-containers", "k8s-run-as-non-root"]);
  });
});

describe("fixtures against the Kubernetes schema (kubernetes-models)", () => {
  const MODELS: Record<string, new (data: any) => { validate(): void }> = {
    [TYPES.Pod]: Pod,
    [TYPES.PodTemplate]: PodTemplate,
    "kubernetes:core/v1:PodList": PodList,
    "kubernetes:apps/v1:DeploymentList": DeploymentList,
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

  it("List variants are schema-valid (as the variant tests build them)", () => {
    expect(() => validate(asList(ownedPod(), ownedPod("web-def34")))).not.toThrow();
    expect(() => validate(asList(deployment(), deployment("api")))).not.toThrow();
    expect(() => validate(mutate(asList(deployment()), (i) => (i.items[0].spec.replicas = "two")))).toThrow(/replicas/);
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

  it("its Patch and List resources are caught, not skipped", async () => {
    const { resources } = insecurePlan();
    const variants = resources.filter((r) => /(?:Patch|List)$/.test(r.type));
    expect(variants.map((r) => r.type).sort()).toEqual([
      "kubernetes:apps/v1:DeploymentPatch",
      "kubernetes:core/v1:PodList",
      "kubernetes:core/v1:ServicePatch",
      "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBindingPatch",
    ]);
    for (const r of variants) {
      let n = 0;
      for (const policy of kubernetesPolicies.filter(isResourcePolicy)) n += (await runResourcePolicy(policy, r)).violations.length;
      expect(n, r.name).toBeGreaterThan(0);
    }
  });
});
