// A hostPath volume exposes the node's filesystem (kubelet credentials, container runtime socket).
import { resourceRule, type Finding } from "../lib/define";
import { ALLOWED_WORKLOADS_PROPERTY, isWorkload, unlessAllowedWorkload } from "../lib/kubernetes";

export const noHostPathVolumes = resourceRule({
  name: "k8s-no-host-path-volumes",
  description: "No workload mounts a hostPath volume unless it is in allowedWorkloads.",
  appliesTo: isWorkload,
  configProperties: ALLOWED_WORKLOADS_PROPERTY,
  check: (args, config) =>
    unlessAllowedWorkload(args, config, (pod) => {
      if (!Array.isArray(pod.spec.volumes)) return [];
      const findings: Finding[] = [];
      pod.spec.volumes.forEach((volume: any, i: number) => {
        if (volume?.hostPath === undefined || volume.hostPath === null) return;
        findings.push({
          field: `${pod.path}.volumes[${i}].hostPath`,
          problem: `volume "${volume.name}" mounts host path ${JSON.stringify(volume.hostPath?.path ?? "")} from the node`,
          fix: "use an emptyDir, configMap, secret or PersistentVolumeClaim volume instead; a system agent that truly needs the host goes in the allowedWorkloads list of k8s-no-host-path-volumes",
        });
      });
      return findings;
    }),
});
