// An Ingress host without TLS serves logins and session cookies in clear text on the network.
import { resourceRule, type Finding } from "../lib/define";
import { isK8sKind } from "../lib/kubernetes";

// `*.lab.example` covers exactly one label (`grafana.lab.example`), as in certificates.
function covers(pattern: string, host: string): boolean {
  if (pattern === host) return true;
  if (!pattern.startsWith("*.")) return false;
  const dot = host.indexOf(".");
  return dot > 0 && host.slice(dot) === pattern.slice(1);
}

export const ingressTls = resourceRule({
  name: "k8s-ingress-tls",
  description: "Every Ingress has spec.tls, and its TLS hosts cover every host of its rules.",
  appliesTo: (type) => isK8sKind(type, ["Ingress"], ["networking.k8s.io", "extensions"]),
  check: (args) => {
    const tls: any[] = Array.isArray(args.props?.spec?.tls) ? args.props.spec.tls : [];
    const rules: any[] = Array.isArray(args.props?.spec?.rules) ? args.props.spec.rules : [];
    if (tls.length === 0) {
      return [
        {
          field: "spec.tls",
          problem: "the Ingress has no TLS section, so it serves plain HTTP",
          fix: "add spec.tls: [{ hosts: [<every rule host>], secretName: <certificate secret> }] (e.g. issued by cert-manager)",
        },
      ];
    }
    const tlsHosts = tls.flatMap((t) => (Array.isArray(t?.hosts) ? t.hosts.filter((h: unknown): h is string => typeof h === "string") : []));
    const findings: Finding[] = [];
    rules.forEach((rule, i) => {
      const host = rule?.host;
      if (typeof host !== "string" || host === "" || tlsHosts.some((p) => covers(p, host))) return;
      findings.push({
        field: `spec.rules[${i}].host`,
        problem: `host "${host}" is not covered by any spec.tls[].hosts entry`,
        fix: `add "${host}" to the hosts of a spec.tls entry whose certificate covers it`,
      });
    });
    return findings;
  },
});
