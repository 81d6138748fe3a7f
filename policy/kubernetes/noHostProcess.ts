// A Windows HostProcess container is a process on the node with the node's access: no isolation at
// all (PSS baseline "HostProcess"). The hive's nodes are Linux, so no workload has a reason for it.
import { resourceRule } from "../lib/define";
import { forEachPod, isWorkload, securitySettings } from "../lib/kubernetes";

export const noHostProcess = resourceRule({
  name: "k8s-no-host-process",
  description: "No workload runs a Windows HostProcess container (securityContext.windowsOptions.hostProcess must not be true, on the pod or a container).",
  appliesTo: isWorkload,
  check: (args) =>
    forEachPod(args, (pod) =>
      securitySettings(pod, "windowsOptions.hostProcess")
        .filter((s) => s.value === true)
        .map((s) => ({
          field: s.path,
          problem: `${s.who} runs as a Windows HostProcess container (a process on the node, outside any container)`,
          fix: "remove windowsOptions.hostProcess (or set it to false); software that must run on the node belongs in the node's NixOS configuration",
        })),
    ),
});
