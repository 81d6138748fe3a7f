// A probe or lifecycle hook with a host makes the kubelet connect from the node to any address the
// pod names: a way into node-local and other-namespace services (PSS baseline since 1.34).
import { get, resourceRule, type Finding } from "../lib/define";
import { describeContainer, forEachContainer, isWorkload } from "../lib/kubernetes";

const HANDLERS = ["livenessProbe", "readinessProbe", "startupProbe", "lifecycle.postStart", "lifecycle.preStop"];
const ACTIONS = ["httpGet", "tcpSocket"];

export const noProbeHost = resourceRule({
  name: "k8s-no-probe-host",
  description: "No probe or lifecycle hook of a container sets httpGet.host or tcpSocket.host (the kubelet would connect there from the node).",
  appliesTo: isWorkload,
  check: (args) =>
    forEachContainer(args, (c) =>
      HANDLERS.flatMap((handler) =>
        ACTIONS.flatMap((action): Finding[] => {
          const host = get(c.container, `${handler}.${action}.host`);
          if (host === undefined || host === null || host === "") return [];
          return [
            {
              field: `${c.path}.${handler}.${action}.host`,
              problem: `${describeContainer(c)}'s ${handler} ${action} targets host ${JSON.stringify(host)}`,
              fix: `remove ${action}.host: the kubelet then checks the pod's own IP`,
            },
          ];
        }),
      ),
    ),
});
