// A bare Pod is not rescheduled when its node dies or drains; a controller recreates it.
import { resourceRule } from "../lib/define";
import { forEachObject, isK8sKind, k8sTypeOf } from "../lib/kubernetes";

export const noBarePods = resourceRule({
  name: "k8s-no-bare-pods",
  description: "No Pod is declared directly: pods come from a controller (Deployment, StatefulSet, DaemonSet, Job, CronJob).",
  appliesTo: (type) => isK8sKind(type, ["Pod"], ["core"]),
  check: (args) => {
    if (k8sTypeOf(args.type)!.variant === "patch") args.notApplicable("a PodPatch changes a Pod that exists already; it declares none");
    return forEachObject(args, (o) => {
      const owners: unknown[] = Array.isArray(o.props.metadata?.ownerReferences) ? o.props.metadata.ownerReferences : [];
      if (owners.some((owner) => (owner as { controller?: unknown })?.controller === true)) return [];
      return [
        {
          field: `${o.prefix}metadata.ownerReferences`,
          problem: `the Pod${o.prefix ? ` ${JSON.stringify(o.props.metadata?.name ?? o.prefix.slice(0, -1))}` : ""} is not owned by a controller, so nothing recreates it when its node fails or drains`,
          fix: "declare it as the pod template of a Deployment (or StatefulSet/DaemonSet; a Job or CronJob for run-to-completion work)",
        },
      ];
    });
  },
});
