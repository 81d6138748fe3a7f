// An Ingress host without TLS serves logins and session cookies in clear text on the network.
import { resourceRule, type Finding } from "../lib/define";
import { forEachObject, isK8sKind, patchOmits } from "../lib/kubernetes";

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
  check: (args) =>
    forEachObject(args, (o) => {
      const spec = o.props.spec ?? {};
      // spec.tls and spec.rules are atomic lists: a Patch that sets one replaces it, and the live
      // other one is unknown, so a Patch is judged on coverage only when it sets both.
      if (patchOmits(o, spec.tls)) return [];
      const tls: any[] = Array.isArray(spec.tls) ? spec.tls : [];
      const rules: any[] = Array.isArray(spec.rules) ? spec.rules : [];
      if (tls.length === 0) {
        return [
          {
            field: `${o.prefix}spec.tls`,
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
          field: `${o.prefix}spec.rules[${i}].host`,
          problem: `host "${host}" is not covered by any spec.tls[].hosts entry`,
          fix: `add "${host}" to the hosts of a spec.tls entry whose certificate covers it`,
        });
      });
      return findings;
    }),
});
