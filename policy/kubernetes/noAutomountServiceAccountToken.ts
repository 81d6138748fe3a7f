// A mounted token lets anyone who compromises the pod call the API server as its service account.
import { resourceRule } from "../lib/define";
import { forEachPod, isWorkload, patchOmits } from "../lib/kubernetes";

export const noAutomountServiceAccountToken = resourceRule({
  name: "k8s-no-automount-service-account-token",
  description: "Every workload's pod spec sets automountServiceAccountToken: false unless exempted (pods that call the Kubernetes API).",
  appliesTo: isWorkload,
  check: (args) =>
    forEachPod(args, (pod) => {
      const value = pod.spec.automountServiceAccountToken;
      if (value === false || patchOmits(pod, value)) return [];
      return [
        {
          field: `${pod.path}.automountServiceAccountToken`,
          problem: `the pod ${value === true ? "mounts" : "does not opt out of mounting"} a service account token`,
          fix: "set automountServiceAccountToken: false in the pod spec; a pod that calls the Kubernetes API gets an exemption (with a reason) in k8s-no-automount-service-account-token",
        },
      ];
    }),
});
