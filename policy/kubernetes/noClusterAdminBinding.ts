// cluster-admin is every permission on every resource: a compromised subject owns the cluster.
import { resourceRule } from "../lib/define";
import { forEachObject, isK8sKind } from "../lib/kubernetes";

export const noClusterAdminBinding = resourceRule({
  name: "k8s-no-cluster-admin-binding",
  description: "No RoleBinding or ClusterRoleBinding grants the cluster-admin role.",
  appliesTo: (type) => isK8sKind(type, ["RoleBinding", "ClusterRoleBinding"], ["rbac.authorization.k8s.io"]),
  check: (args) =>
    forEachObject(args, (o) =>
      o.props.roleRef?.name === "cluster-admin"
        ? [
            {
              field: `${o.prefix}roleRef.name`,
              problem: "the binding grants cluster-admin",
              fix: "bind a Role/ClusterRole that lists only the verbs and resources the subjects need",
            },
          ]
        : [],
    ),
});
