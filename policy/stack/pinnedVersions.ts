// Versions are pinned: one exact k3s release on every node, an explicit version on every chart.
import { stackRule, type StackFinding } from "../lib/define";
import { nixosHosts, nodeLabel } from "../lib/collective";
import { asRecord, isOn } from "../lib/infraProps";
import { HELM_CHARTS } from "../lib/infraTypes";

const K3S_RELEASE = /^v\d+\.\d+\.\d+\+k3s\d+$/;
const EXACT_VERSION = /^v?\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]+)?$/;

export const stackPinnedVersions = stackRule({
  name: "stack-pinned-versions",
  description: "k3s must be one full release (vX.Y.Z+k3sN) on every node, and every Helm chart must carry an explicit exact version.",
  check: (resources) => {
    const findings: StackFinding[] = [];
    const k3sHosts = nixosHosts(resources).filter((h) => isOn(asRecord(h.config.services?.k3s)?.enable));
    const versionOf = (h: (typeof k3sHosts)[number]) => asRecord(h.config.services?.k3s)?.version;
    for (const host of k3sHosts) {
      const version = versionOf(host);
      if (typeof version !== "string" || !K3S_RELEASE.test(version)) {
        findings.push({
          resource: host.resource,
          field: "nodeConfig.services.k3s.version",
          problem: `is ${JSON.stringify(version ?? null)}, not a full k3s release (vX.Y.Z+k3sN): the node installs whatever the channel serves`,
          fix: "set borg:services.k3s.version to an exact release such as v1.36.3+k3s1",
        });
      }
    }
    // One version everywhere: the first server's (it joins no one; else any server's, else the
    // most common) is the reference.
    const isServer = (h: (typeof k3sHosts)[number]) => asRecord(h.config.services?.k3s)?.role === "server";
    const server = k3sHosts.find((h) => isServer(h) && asRecord(h.config.services?.k3s)?.serverAddr == null) ?? k3sHosts.find(isServer);
    const counts = new Map<string, number>();
    for (const h of k3sHosts) counts.set(String(versionOf(h)), (counts.get(String(versionOf(h))) ?? 0) + 1);
    const reference = server ? String(versionOf(server)) : [...counts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
    for (const host of k3sHosts) {
      const version = String(versionOf(host));
      if (reference === undefined || version === reference) continue;
      findings.push({
        resource: host.resource,
        field: "nodeConfig.services.k3s.version",
        problem: `is ${version} but ${server ? `the server ${nodeLabel(server)} runs` : "the other nodes run"} ${reference}: mixed k3s versions in one cluster`,
        fix: "render every node's k3s version from the one borg:services.k3s.version and upgrade them together",
      });
    }
    for (const resource of resources) {
      if (!HELM_CHARTS.has(resource.type)) continue;
      const chart = typeof resource.props.chart === "string" ? resource.props.chart : "";
      if (/^(?:\.{0,2}\/)/.test(chart)) continue; // a chart in the repository is pinned by the commit
      const version = resource.props.version;
      if (typeof version !== "string" || version.trim() === "") {
        findings.push({
          resource,
          field: "version",
          problem: "is not set: the chart installs whatever is latest in its repository at deploy time",
          fix: "set version to the exact chart version tested (e.g. \"1.2.3\")",
        });
      } else if (!EXACT_VERSION.test(version.trim())) {
        findings.push({
          resource,
          field: "version",
          problem: `is ${JSON.stringify(version)}, a range rather than one release`,
          fix: "set version to one exact chart version (e.g. \"1.2.3\")",
        });
      }
    }
    return findings;
  },
});
