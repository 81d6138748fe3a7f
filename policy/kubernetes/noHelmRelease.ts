// helm.v3.Release installs the chart inside the provider: none of its objects reach the policies.
import { resourceRule } from "../lib/define";
import { k8sTypeOf } from "../lib/kubernetes";

export const noHelmRelease = resourceRule({
  name: "k8s-no-helm-release",
  description: "No helm.v3.Release is used, because policies cannot see what it installs.",
  // Judges every Helm type, so a helm.v4.Chart is reported as compliant rather than not applicable.
  appliesTo: (type) => k8sTypeOf(type)?.group === "helm.sh",
  check: (args) => {
    if (k8sTypeOf(args.type)!.kind !== "Release") return [];
    return [
      {
        field: "type",
        problem: `helm.v3.Release installs chart ${JSON.stringify(args.props?.chart ?? "?")} as one opaque resource, so no policy checks the objects it creates`,
        fix: "replace it with k8s.helm.v4.Chart (same chart, version and values), which registers every rendered object as a resource the policies check",
      },
    ];
  },
});
