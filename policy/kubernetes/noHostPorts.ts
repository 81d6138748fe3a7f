// A hostPort binds on every node the pod lands on, bypassing Services and NetworkPolicies.
import { resourceRule, type Finding } from "../lib/define";
import { ALLOWED_WORKLOADS_PROPERTY, containersOf, describeContainer, isWorkload, unlessAllowedWorkload } from "../lib/kubernetes";

export const noHostPorts = resourceRule({
  name: "k8s-no-host-ports",
  description: "No container of a workload binds a hostPort unless the workload is in allowedWorkloads.",
  appliesTo: isWorkload,
  configProperties: ALLOWED_WORKLOADS_PROPERTY,
  check: (args, config) =>
    unlessAllowedWorkload(args, config, (pod) =>
      containersOf(pod).flatMap((c) =>
        (Array.isArray(c.container.ports) ? c.container.ports : []).flatMap((port: any, j: number): Finding[] =>
          port?.hostPort !== undefined && port.hostPort !== null && port.hostPort !== 0
            ? [
                {
                  field: `${c.path}.ports[${j}].hostPort`,
                  problem: `${describeContainer(c)} binds host port ${port.hostPort}`,
                  fix: "remove hostPort and expose the containerPort through a Service (ClusterIP behind the Ingress); a system agent that truly needs it goes in the allowedWorkloads list of k8s-no-host-ports",
                },
              ]
            : [],
        ),
      ),
    ),
});
