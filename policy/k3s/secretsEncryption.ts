// K3s servers encrypt Secrets at rest: without it every Kubernetes Secret (the Ceph key of the CSI
// driver, application credentials) sits in clear in the datastore and in every etcd snapshot.
import { resourceRule } from "../lib/define";
import { asRecord, isOn } from "../lib/infraProps";
import { NIXOS_HOST, nodeConfigOf } from "../lib/nodes";

export const k3sSecretsEncryption = resourceRule({
  name: "k3s-secrets-encryption",
  description: "Every K3s server must run with --secrets-encryption (node config services.k3s.secretsEncryption), so Kubernetes Secrets are encrypted at rest in its datastore and snapshots.",
  appliesTo: (type) => type === NIXOS_HOST,
  check: (args) => {
    const k3s = asRecord(nodeConfigOf(args.props)?.services?.k3s);
    if (!k3s || !isOn(k3s.enable) || k3s.role !== "server") args.notApplicable("the node runs no K3s server");
    if (isOn(k3s!.secretsEncryption)) return [];
    return [
      {
        field: "nodeConfig.services.k3s.secretsEncryption",
        problem: `is ${JSON.stringify(k3s!.secretsEncryption ?? null)}: Kubernetes Secrets are stored in clear in the datastore and its snapshots`,
        fix: "render secretsEncryption: true for every K3s server (components/services/k3s.ts); the module passes --secrets-encryption",
      },
    ];
  },
});
