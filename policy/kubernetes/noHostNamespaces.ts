// Sharing the node's network, PID or IPC namespace lets a pod sniff traffic, signal host processes
// and read host shared memory; only system agents in allowedWorkloads may.
import { resourceRule, type Finding } from "../lib/define";
import { ALLOWED_WORKLOADS_PROPERTY, isWorkload, unlessAllowedWorkload } from "../lib/kubernetes";

const NAMESPACES = [
  ["hostNetwork", "the node's network namespace"],
  ["hostPID", "the node's process namespace"],
  ["hostIPC", "the node's IPC namespace"],
] as const;

export const noHostNamespaces = resourceRule({
  name: "k8s-no-host-namespaces",
  description: "No workload shares the node's network, PID or IPC namespace (hostNetwork/hostPID/hostIPC) unless it is in allowedWorkloads.",
  appliesTo: isWorkload,
  configProperties: ALLOWED_WORKLOADS_PROPERTY,
  check: (args, config) =>
    unlessAllowedWorkload(args, config, (pod) =>
      NAMESPACES.filter(([field]) => pod.spec[field] === true).map(
        ([field, what]): Finding => ({
          field: `${pod.path}.${field}`,
          problem: `the pod shares ${what}`,
          fix: `remove ${field} (or set it to false); a system agent that truly needs it goes in the allowedWorkloads list of k8s-no-host-namespaces`,
        }),
      ),
    ),
});
