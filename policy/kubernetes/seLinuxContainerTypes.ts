// An SELinux type such as spc_t ("super privileged container") or a custom user/role lifts the
// policy that keeps a container away from the node's files (PSS baseline "SELinux").
import { resourceRule, type Finding } from "../lib/define";
import { forEachPod, isWorkload, securitySettings } from "../lib/kubernetes";

// The upstream baseline's allowed types (container_engine_t since Kubernetes 1.31); "" is unset.
export const SELINUX_ALLOWED_TYPES = ["container_t", "container_init_t", "container_kvm_t", "container_engine_t"];

export const seLinuxContainerTypes = resourceRule({
  name: "k8s-selinux-container-types",
  description: `No securityContext sets an SELinux type other than ${SELINUX_ALLOWED_TYPES.join(", ")}, or any SELinux user or role.`,
  appliesTo: isWorkload,
  check: (args) =>
    forEachPod(args, (pod) =>
      securitySettings(pod, "seLinuxOptions").flatMap((s) => {
        const options = s.value as { type?: unknown; user?: unknown; role?: unknown };
        const findings: Finding[] = [];
        if (typeof options.type === "string" && options.type !== "" && !SELINUX_ALLOWED_TYPES.includes(options.type)) {
          findings.push({
            field: `${s.path}.type`,
            problem: `${s.who} runs with SELinux type ${JSON.stringify(options.type)}`,
            fix: `remove seLinuxOptions.type (the runtime assigns container_t) or use one of ${SELINUX_ALLOWED_TYPES.join(", ")}`,
          });
        }
        for (const field of ["user", "role"] as const) {
          const value = options[field];
          if (value === undefined || value === null || value === "") continue;
          findings.push({
            field: `${s.path}.${field}`,
            problem: `${s.who} sets SELinux ${field} ${JSON.stringify(value)}`,
            fix: `remove seLinuxOptions.${field}: only the level (and an allowed type) may be set`,
          });
        }
        return findings;
      }),
    ),
});
