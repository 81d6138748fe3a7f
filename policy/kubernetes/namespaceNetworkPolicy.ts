// Without any NetworkPolicy a namespace is flat: every pod in the cluster can reach every pod in it.
import type { PolicyResource } from "@pulumi/policy";
import { stackRule, type StackFinding } from "../lib/define";
import { isK8sKind, namespaceOf, objectsOf, runsPods, type K8sObject } from "../lib/kubernetes";

interface Placed {
  resource: PolicyResource;
  object: K8sObject;
}

// Every object of every resource of these kinds: List items one by one; a Patch counts too (it
// changes an object that exists in that namespace).
const objectsOfKind = (resources: readonly PolicyResource[], match: (type: string) => boolean): Placed[] =>
  resources.filter((r) => match(r.type)).flatMap((resource) => objectsOf(resource).map((object) => ({ resource, object })));

export const namespaceNetworkPolicy = stackRule({
  name: "k8s-namespace-network-policy",
  description: "Every namespace that runs a workload has at least one NetworkPolicy.",
  check: (resources, _config, args) => {
    const workloads = objectsOfKind(resources, runsPods);
    if (workloads.length === 0) args.notApplicable("no Kubernetes workload in the stack");
    const covered = new Set(objectsOfKind(resources, (t) => isK8sKind(t, ["NetworkPolicy"], ["networking.k8s.io", "extensions"])).map((p) => namespaceOf(p.object.props)));
    const uncovered = new Map<string, Placed[]>();
    for (const w of workloads) {
      const ns = namespaceOf(w.object.props);
      if (!covered.has(ns)) uncovered.set(ns, [...(uncovered.get(ns) ?? []), w]);
    }
    const namespaces = objectsOfKind(resources, (t) => isK8sKind(t, ["Namespace"], ["core"]));
    return [...uncovered].map(([ns, inNamespace]): StackFinding => {
      // Blame the Namespace resource when the stack declares it (one exemption per namespace), else the first workload.
      const namespace = namespaces.find((p) => p.object.props.metadata?.name === ns);
      const blamed = namespace ?? inNamespace[0]!;
      const names = [...new Set(inNamespace.map((w) => (w.object.prefix ? `${w.resource.name}.${w.object.prefix.slice(0, -1)}` : w.resource.name)))];
      return {
        resource: blamed.resource,
        field: `${blamed.object.prefix}${namespace ? "metadata.name" : "metadata.namespace"}`,
        problem: `namespace "${ns}" runs ${names.join(", ")} but has no NetworkPolicy`,
        fix: `add a kubernetes:networking.k8s.io/v1:NetworkPolicy with metadata.namespace "${ns}" (a default deny: podSelector {} with policyTypes ["Ingress", "Egress"]) and allow only the flows the workloads need`,
      };
    });
  },
});
