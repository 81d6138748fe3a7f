// The upstream Kubernetes Pod Security Standards, control by control (as of Kubernetes 1.36,
// read from the pod-security-admission checks), and the rules of this pack that enforce each.
// The README's Pod Security Standards table is rendered from this list (npm run policy -- --table).

export interface PssControl {
  control: string;
  /** The lowest profile that has the control (restricted includes every baseline control). */
  profile: "baseline" | "restricted" | "none";
  rules: string[];
  note: string;
}

export const PSS_CONTROLS: PssControl[] = [
  { control: "HostProcess", profile: "baseline", rules: ["k8s-no-host-process"], note: "pod and container windowsOptions" },
  { control: "Host Namespaces", profile: "baseline", rules: ["k8s-no-host-namespaces"], note: "system agents via allowedWorkloads" },
  { control: "Privileged Containers", profile: "baseline", rules: ["k8s-no-privileged-containers"], note: "" },
  { control: "Capabilities", profile: "baseline", rules: ["k8s-drop-all-capabilities"], note: "the restricted form (drop ALL, add only NET_BIND_SERVICE), stricter than baseline's add list" },
  { control: "HostPath Volumes", profile: "baseline", rules: ["k8s-no-host-path-volumes"], note: "system agents via allowedWorkloads" },
  { control: "Host Ports", profile: "baseline", rules: ["k8s-no-host-ports"], note: "the standard's \"known list\" is allowedWorkloads" },
  { control: "AppArmor", profile: "baseline", rules: ["k8s-no-apparmor-unconfined"], note: "appArmorProfile field and the beta annotation" },
  { control: "SELinux", profile: "baseline", rules: ["k8s-selinux-container-types"], note: "container_t, container_init_t, container_kvm_t, container_engine_t; no user or role" },
  { control: "/proc Mount Type", profile: "baseline", rules: ["k8s-default-proc-mount"], note: "Default only, as restricted: baseline's relaxation for hostUsers: false is not applied" },
  { control: "Seccomp", profile: "baseline", rules: ["k8s-seccomp-runtime-default"], note: "the restricted form: RuntimeDefault or Localhost must be set" },
  { control: "Sysctls", profile: "baseline", rules: ["k8s-safe-sysctls"], note: "the safe set of Kubernetes 1.36" },
  { control: "Probe and lifecycle host", profile: "baseline", rules: ["k8s-no-probe-host"], note: "in the standard since Kubernetes 1.34" },
  { control: "Volume Types", profile: "restricted", rules: ["k8s-restricted-volume-types", "k8s-no-host-path-volumes"], note: "configMap, csi, downwardAPI, emptyDir, ephemeral, image, persistentVolumeClaim, projected, secret" },
  { control: "Privilege Escalation", profile: "restricted", rules: ["k8s-no-privilege-escalation"], note: "" },
  { control: "Running as Non-root", profile: "restricted", rules: ["k8s-run-as-non-root"], note: "no relaxation for hostUsers: false" },
  { control: "Running as Non-root user", profile: "restricted", rules: ["k8s-run-as-non-root"], note: "" },
  { control: "Non-root groups", profile: "none", rules: ["k8s-no-root-group"], note: "not in today's standard: its former optional restricted control (also PodSecurityPolicy, Kyverno require-non-root-groups)" },
];
