// A `*` grants every verb/resource/group, including ones added by future CRDs and API versions.
import { resourceRule, type Finding } from "../lib/define";
import { forEachObject, isK8sKind } from "../lib/kubernetes";

const FIELDS = ["verbs", "resources", "apiGroups"] as const;

export const noRbacWildcards = resourceRule({
  name: "k8s-no-rbac-wildcards",
  description: "No Role or ClusterRole rule uses * in verbs, resources or apiGroups.",
  appliesTo: (type) => isK8sKind(type, ["Role", "ClusterRole"], ["rbac.authorization.k8s.io"]),
  check: (args) =>
    forEachObject(args, (o) => {
      const rules: any[] = Array.isArray(o.props.rules) ? o.props.rules : [];
      const findings: Finding[] = [];
      rules.forEach((rule, i) => {
        for (const field of FIELDS) {
          if (Array.isArray(rule?.[field]) && rule[field].includes("*")) {
            findings.push({
              field: `${o.prefix}rules[${i}].${field}`,
              problem: `rule ${i} grants "*" ${field}`,
              fix: `list the exact ${field} the subject needs (e.g. ${field === "verbs" ? '["get", "list", "watch"]' : field === "resources" ? '["configmaps"]' : '[""] for the core group'}) instead of "*"`,
            });
          }
        }
      });
      return findings;
    }),
});
