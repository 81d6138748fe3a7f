// Outside the core volume types a pod mounts storage by itself (NFS, iSCSI, RBD, a git clone...),
// bypassing the PersistentVolumes the cluster admin controls (PSS restricted "Volume Types").
import { resourceRule, type Finding } from "../lib/define";
import { forEachPod, isWorkload } from "../lib/kubernetes";

// The upstream restricted profile's list (image since Kubernetes 1.33). hostPath is judged, with its
// allowlist for system agents, by k8s-no-host-path-volumes.
export const ALLOWED_VOLUME_TYPES = ["configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "image", "persistentVolumeClaim", "projected", "secret"];
const JUDGED_ELSEWHERE = ["hostPath"];

export const restrictedVolumeTypes = resourceRule({
  name: "k8s-restricted-volume-types",
  description: `A pod's volumes are only of the types ${ALLOWED_VOLUME_TYPES.join(", ")} (hostPath: see k8s-no-host-path-volumes); storage comes through PersistentVolumeClaims.`,
  appliesTo: isWorkload,
  check: (args) =>
    forEachPod(args, (pod) => {
      if (!Array.isArray(pod.spec.volumes)) return [];
      return pod.spec.volumes.flatMap((volume: any, i: number): Finding[] => {
        if (!volume || typeof volume !== "object") return [];
        // A volume with a name only is an emptyDir (the API server's default).
        return Object.keys(volume)
          .filter((source) => source !== "name" && volume[source] !== undefined && volume[source] !== null)
          .filter((source) => !ALLOWED_VOLUME_TYPES.includes(source) && !JUDGED_ELSEWHERE.includes(source))
          .map((source) => ({
            field: `${pod.path}.volumes[${i}].${source}`,
            problem: `volume "${volume.name}" is a ${source} volume, which the pod mounts by itself`,
            fix: "mount it through a persistentVolumeClaim (a PersistentVolume or StorageClass set up by the cluster admin, e.g. Ceph CSI), or use a configMap, secret, emptyDir or projected volume",
          }));
      });
    }),
});
