// LoadBalancer and NodePort Services open a port on every node or the LAN, around the Ingress and its TLS.
import { resourceRule } from "../lib/define";
import { isK8sKind, namesOf } from "../lib/kubernetes";

const EXPOSED = ["LoadBalancer", "NodePort"];

export const serviceTypeAllowlist = resourceRule({
  name: "k8s-service-type-allowlist",
  description: "A Service is of type LoadBalancer or NodePort only if its name is in allowedServices.",
  appliesTo: (type) => isK8sKind(type, ["Service"], ["core"]),
  configProperties: {
    allowedServices: {
      type: "array",
      description: "Services (metadata.name or Pulumi resource name) allowed to be LoadBalancer or NodePort.",
      items: { type: "string", minLength: 1 },
      default: [],
    },
  },
  check: (args, config) => {
    const type = args.props?.spec?.type;
    if (typeof type !== "string" || !EXPOSED.includes(type)) return [];
    const allowed = Array.isArray(config.allowedServices) ? (config.allowedServices as unknown[]) : [];
    if (namesOf(args).some((n) => allowed.includes(n))) return [];
    return [
      {
        field: "spec.type",
        problem: `the Service is of type ${type}, exposing it outside the cluster, and is not in allowedServices`,
        fix: `use type ClusterIP and route to it through the Ingress, or add "${args.props?.metadata?.name ?? args.name}" to allowedServices of k8s-service-type-allowlist in the stack's policy config`,
      },
    ];
  },
});
