// Without requests the scheduler overcommits nodes; without a memory limit one leak takes the node's
// memory and the kernel OOM-kills neighbours. (A CPU limit only throttles, so it is not required.)
import { resourceRule, type Finding } from "../lib/define";
import { describeContainer, forEachContainer, isWorkload, patchOmits } from "../lib/kubernetes";

const REQUIRED = [
  ["requests", "cpu"],
  ["requests", "memory"],
  ["limits", "memory"],
] as const;

const isSet = (v: unknown) => (typeof v === "string" && v !== "") || typeof v === "number";

export const resourceRequestsLimits = resourceRule({
  name: "k8s-resource-requests-limits",
  description: "Every container of a workload sets CPU and memory requests and a memory limit.",
  appliesTo: isWorkload,
  // Ephemeral containers may not set resources (the API rejects it).
  check: (args) =>
    forEachContainer(
      args,
      (c, pod) =>
        REQUIRED.filter(([section, key]) => !isSet(c.container.resources?.[section]?.[key]) && !patchOmits(pod, c.container.resources?.[section]?.[key])).map(
          ([section, key]): Finding => ({
            field: `${c.path}.resources.${section}.${key}`,
            problem: `${describeContainer(c)} sets no ${key} ${section === "requests" ? "request" : "limit"}`,
            fix: `set resources.${section}.${key} (e.g. ${key === "cpu" ? '"100m"' : '"128Mi"'}) from the container's measured usage`,
          }),
        ),
      ["containers", "initContainers"],
    ),
});
