// A bare Pod is not rescheduled when its node dies or drains; a controller recreates it.
import { resourceRule } from "../lib/define";
import { isK8sKind } from "../lib/kubernetes";

export const noBarePods = resourceRule({
  name: "k8s-no-bare-pods",
  description: "No Pod is declared directly: pods come from a controller (Deployment, StatefulSet, DaemonSet, Job, CronJob).",
  appliesTo: (type) => isK8sKind(type, ["Pod"], ["core"]),
  check: (args) => {
    const owners: unknown[] = Array.isArray(args.props?.metadata?.ownerReferences) ? args.props.metadata.ownerReferences : [];
    if (owners.some((o) => (o as { controller?: unknown })?.controller === true)) return [];
    return [
      {
        field: "metadata.ownerReferences",
        problem: "the Pod is not owned by a controller, so nothing recreates it when its node fails or drains",
        fix: "declare it as the pod template of a Deployment (or StatefulSet/DaemonSet; a Job or CronJob for run-to-completion work)",
      },
    ];
  },
});
