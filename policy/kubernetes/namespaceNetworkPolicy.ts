// Without any NetworkPolicy a namespace is flat: every pod in the cluster can reach every pod in it.
import type { PolicyResource } from "@pulumi/policy";
import { stackRule, type StackFinding } from "../lib/define";
import { isK8sKind, isWorkload, namespaceOf } from "../lib/kubernetes";

export const namespaceNetworkPolicy = stackRule({
  name: "k8s-namespace-network-policy",
  description: "Every namespace that runs a workload has at least one NetworkPolicy.",
  check: (resources, _config, args) => {
    const workloads = resources.filter((r) => isWorkload(r.type));
    if (workloads.length === 0) args.notApplicable("no Kubernetes workload in the stack");
    const covered = new Set(resources.filter((r) => isK8sKind(r.type, ["NetworkPolicy"], ["networking.k8s.io"])).map((r) => namespaceOf(r.props)));
    const uncovered = new Map<string, PolicyResource[]>();
    for (const r of workloads) {
      const ns = namespaceOf(r.props);
      if (!covered.has(ns)) uncovered.set(ns, [...(uncovered.get(ns) ?? []), r]);
    }
    return [...uncovered].map(([ns, inNamespace]): StackFinding => {
      // Blame the Namespace resource when the stack declares it (one exemption per namespace), else the first workload.
      const namespace = resources.find((r) => isK8sKind(r.type, ["Namespace"], ["core"]) && r.props?.metadata?.name === ns);
      return {
        resource: namespace ?? inNamespace[0]!,
        field: namespace ? "metadata.name" : "metadata.namespace",
        problem: `namespace "${ns}" runs ${inNamespace.map((w) => w.name).join(", ")} but has no NetworkPolicy`,
        fix: `add a kubernetes:networking.k8s.io/v1:NetworkPolicy with metadata.namespace "${ns}" (a default deny: podSelector {} with policyTypes ["Ingress", "Egress"]) and allow only the flows the workloads need`,
      };
    });
  },
});
