// Alpha/beta APIs change or disappear between Kubernetes releases (and alpha ones are off by default):
// an upgrade then breaks the stack.
import { resourceRule } from "../lib/define";
import { k8sTypeOf } from "../lib/kubernetes";

const PRERELEASE = /^v\d+(?:alpha|beta)\d*$/;
// GA versions of kinds that commonly appear with an old beta version.
const GA: Record<string, string> = {
  Ingress: "networking.k8s.io/v1",
  IngressClass: "networking.k8s.io/v1",
  NetworkPolicy: "networking.k8s.io/v1",
  CronJob: "batch/v1",
  PodDisruptionBudget: "policy/v1",
  HorizontalPodAutoscaler: "autoscaling/v2",
  Deployment: "apps/v1",
  StatefulSet: "apps/v1",
  DaemonSet: "apps/v1",
  ReplicaSet: "apps/v1",
  CustomResourceDefinition: "apiextensions.k8s.io/v1",
  Role: "rbac.authorization.k8s.io/v1",
  ClusterRole: "rbac.authorization.k8s.io/v1",
  RoleBinding: "rbac.authorization.k8s.io/v1",
  ClusterRoleBinding: "rbac.authorization.k8s.io/v1",
  StorageClass: "storage.k8s.io/v1",
  PriorityClass: "scheduling.k8s.io/v1",
};

// "networking.k8s.io/v1" -> "networking.v1", the SDK's module path.
const sdkModule = (apiVersion: string) => {
  const [group, version] = apiVersion.split("/");
  return `${group!.split(".")[0]}.${version}`;
};

export const noAlphaBetaApis = resourceRule({
  name: "k8s-no-alpha-beta-apis",
  description: "No Kubernetes resource uses an alpha or beta API version.",
  appliesTo: (type) => k8sTypeOf(type) !== undefined,
  check: (args) => {
    const t = k8sTypeOf(args.type)!;
    if (!PRERELEASE.test(t.version)) return [];
    const apiVersion = t.group === "core" || t.group === "" ? t.version : `${t.group}/${t.version}`;
    // Keyed by the object's kind; the fix names the same variant (DeploymentPatch, DeploymentList).
    const ga = GA[t.kind];
    return [
      {
        field: "apiVersion",
        problem: `${t.token} uses the pre-release API ${apiVersion}`,
        fix: ga
          ? `use the GA API ${ga} (k8s.${sdkModule(ga)}.${t.token} in @pulumi/kubernetes) and adapt the spec to it`
          : `use a GA (v1, v2...) version of ${t.kind}, or exempt this resource with a reason if the operator only ships ${apiVersion}`,
      },
    ];
  },
});
