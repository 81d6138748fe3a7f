// A sysctl outside the namespaced "safe" set changes the node's kernel for every pod on it
// (PSS baseline "Sysctls").
import { resourceRule, type Finding } from "../lib/define";
import { forEachPod, isWorkload } from "../lib/kubernetes";

// The upstream baseline's safe set as of Kubernetes 1.36 (policy version 1.32). A kubelet older
// than the version that made one safe refuses the pod itself (SysctlForbidden), so this list may
// run ahead of the cluster without letting anything unsafe through.
export const SAFE_SYSCTLS = [
  "kernel.shm_rmid_forced",
  "net.ipv4.ip_local_port_range",
  "net.ipv4.ip_unprivileged_port_start",
  "net.ipv4.tcp_syncookies",
  "net.ipv4.ping_group_range",
  "net.ipv4.ip_local_reserved_ports",
  "net.ipv4.tcp_keepalive_time",
  "net.ipv4.tcp_fin_timeout",
  "net.ipv4.tcp_keepalive_intvl",
  "net.ipv4.tcp_keepalive_probes",
  "net.ipv4.tcp_rmem",
  "net.ipv4.tcp_wmem",
];

export const safeSysctls = resourceRule({
  name: "k8s-safe-sysctls",
  description: "A pod sets only the sysctls of the upstream baseline's safe set (kernel.shm_rmid_forced, net.ipv4.ip_local_port_range, net.ipv4.tcp_keepalive_* and the like).",
  appliesTo: isWorkload,
  check: (args) =>
    forEachPod(args, (pod) => {
      const sysctls: unknown = pod.spec.securityContext?.sysctls;
      if (!Array.isArray(sysctls)) return [];
      return sysctls.flatMap((sysctl, i): Finding[] => {
        const name = (sysctl as { name?: unknown } | null)?.name;
        if (typeof name === "string" && SAFE_SYSCTLS.includes(name)) return [];
        return [
          {
            field: `${pod.path}.securityContext.sysctls[${i}].name`,
            problem: `the pod sets sysctl ${JSON.stringify(name)}, which is not in the safe set (it can reach beyond the pod)`,
            fix: "remove it; a node-wide kernel setting belongs in the node's NixOS configuration (boot.kernel.sysctl)",
          },
        ];
      });
    }),
});
