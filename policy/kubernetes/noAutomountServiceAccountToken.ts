// A mounted token lets anyone who compromises the pod call the API server as its service account.
import { resourceRule } from "../lib/define";
import { isWorkload, podSpecOf } from "../lib/kubernetes";

export const noAutomountServiceAccountToken = resourceRule({
  name: "k8s-no-automount-service-account-token",
  description: "Every workload's pod spec sets automountServiceAccountToken: false unless exempted (pods that call the Kubernetes API).",
  appliesTo: isWorkload,
  check: (args) => {
    const pod = podSpecOf(args.type, args.props);
    if (!pod || pod.spec.automountServiceAccountToken === false) return [];
    return [
      {
        field: `${pod.path}.automountServiceAccountToken`,
        problem: `the pod ${pod.spec.automountServiceAccountToken === true ? "mounts" : "does not opt out of mounting"} a service account token`,
        fix: "set automountServiceAccountToken: false in the pod spec; a pod that calls the Kubernetes API gets an exemption (with a reason) in k8s-no-automount-service-account-token",
      },
    ];
  },
});
