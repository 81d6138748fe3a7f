// LoadBalancer and NodePort Services open a port on every node or the LAN, around the Ingress and its TLS.
import { resourceRule } from "../lib/define";
import { forEachObject, isK8sKind } from "../lib/kubernetes";

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
    const allowed = Array.isArray(config.allowedServices) ? (config.allowedServices as unknown[]) : [];
    return forEachObject(args, (o) => {
      const type = o.props.spec?.type;
      if (typeof type !== "string" || !EXPOSED.includes(type)) return [];
      if (o.names.some((n) => allowed.includes(n))) return [];
      return [
        {
          field: `${o.prefix}spec.type`,
          problem: `the Service is of type ${type}, exposing it outside the cluster, and is not in allowedServices`,
          fix: `use type ClusterIP and route to it through the Ingress, or add "${o.props.metadata?.name ?? args.name}" to allowedServices of k8s-service-type-allowlist in the stack's policy config`,
        },
      ];
    });
  },
});
