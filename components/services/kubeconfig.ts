// The admin kubeconfig K3s writes on its first server (/etc/rancher/k3s/k3s.yaml) points at
// https://127.0.0.1:6443 and names everything "default". What the stack exports points at the API
// address operators and the platform reach, under the stack's own name, with the cluster CA kept,
// so `kubectl` verifies the server. Errors never quote the file: it holds the admin client key.
import { parse, stringify } from "yaml";

export interface KubeconfigRewrite {
  /** The API URL, e.g. https://10.42.0.10:6443. */
  readonly server: string;
  /** Name of the cluster, user and context (e.g. borg-prod), so several stacks merge cleanly. */
  readonly name: string;
}

type Entry = Record<string, unknown>;

function only(doc: Entry, key: "clusters" | "users" | "contexts"): Entry {
  const list = doc[key];
  if (!Array.isArray(list) || list.length !== 1 || typeof list[0] !== "object" || list[0] === null) {
    throw new Error(`k3s kubeconfig: expected exactly one entry in ${key}`);
  }
  return list[0] as Entry;
}

export function rewriteKubeconfig(text: string, { server, name }: KubeconfigRewrite): string {
  if (!/^https:\/\/[^/\s]+:\d+$/.test(server)) throw new Error(`k3s kubeconfig: API URL ${server} is not https://host:port`);
  let doc: unknown;
  try {
    doc = parse(text);
  } catch {
    throw new Error("k3s kubeconfig: the server's k3s.yaml is not YAML");
  }
  if (typeof doc !== "object" || doc === null || (doc as Entry).kind !== "Config") throw new Error("k3s kubeconfig: not a kubeconfig (kind: Config)");
  const cluster = only(doc as Entry, "clusters").cluster as Entry | undefined;
  const user = only(doc as Entry, "users").user as Entry | undefined;
  only(doc as Entry, "contexts");
  const ca = cluster?.["certificate-authority-data"];
  if (typeof ca !== "string" || !/^[A-Za-z0-9+/]+=*$/.test(ca) || !Buffer.from(ca, "base64").toString("latin1").includes("-----BEGIN CERTIFICATE-----")) {
    throw new Error("k3s kubeconfig: the cluster has no certificate-authority-data (a base64 PEM certificate): kubectl could not verify the server");
  }
  if (cluster?.["insecure-skip-tls-verify"] === true) throw new Error("k3s kubeconfig: insecure-skip-tls-verify is set");
  if (typeof user?.["client-certificate-data"] !== "string" || typeof user?.["client-key-data"] !== "string") {
    throw new Error("k3s kubeconfig: the user has no client-certificate-data and client-key-data");
  }
  const out = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name, cluster: { server, "certificate-authority-data": ca } }],
    users: [{ name, user: { "client-certificate-data": user["client-certificate-data"], "client-key-data": user["client-key-data"] } }],
    contexts: [{ name, context: { cluster: name, user: name } }],
    "current-context": name,
    preferences: {},
  };
  return stringify(out);
}
