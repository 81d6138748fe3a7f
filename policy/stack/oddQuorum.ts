// Quorum groups (Ceph monitors, Consul servers, NATS JetStream peers) are odd and at least 3.
import { stackRule, type StackFinding } from "../lib/define";
import { nixosHosts, nodeLabel, type HostView } from "../lib/collective";
import { asArray, asNumber, asRecord, isOn } from "../lib/infraProps";

const service = (host: HostView, name: string) => asRecord(host.config.services?.[name]) ?? {};
const names = (hosts: HostView[]) => hosts.map(nodeLabel).sort().join(", ");

function sizeProblem(count: number): string | undefined {
  if (count < 3) return `${count} cannot lose a member without losing quorum`;
  if (count % 2 === 0) return `${count} is even: it tolerates no more failures than ${count - 1} and can split evenly`;
  return undefined;
}

export const stackOddQuorum = stackRule({
  name: "stack-odd-quorum",
  description: "Ceph monitors, Consul servers and NATS JetStream peers must each number an odd count of at least 3 (enforced in prod via config).",
  check: (resources) => {
    const hosts = nixosHosts(resources);
    const findings: StackFinding[] = [];

    // Ceph: every node carries the monitor list; it must be one list, of a good size.
    const ceph = hosts.filter((h) => isOn(service(h, "ceph").enable));
    const monitorsOf = (h: HostView) => asArray(service(h, "ceph").monitors).map((m) => String(asRecord(m)?.name ?? m)).sort();
    const reference = ceph[0] ? monitorsOf(ceph[0]) : [];
    for (const host of ceph.slice(1)) {
      const own = monitorsOf(host);
      if (own.join(",") !== reference.join(",")) {
        findings.push({
          resource: host.resource,
          field: "nodeConfig.services.ceph.monitors",
          problem: `lists ${own.join(", ") || "no monitors"} but ${nodeLabel(ceph[0]!)} lists ${reference.join(", ")}: the nodes disagree on the monitor map`,
          fix: "render every node's monitor list from the one borg:services.ceph.monitors",
        });
      }
    }
    const cephProblem = ceph.length > 0 ? sizeProblem(reference.length) : undefined;
    if (cephProblem) {
      findings.push({
        field: "nodeConfig.services.ceph.monitors",
        problem: `${reference.length} Ceph monitor(s) (${reference.join(", ")}): ${cephProblem}`,
        fix: "list an odd number of at least 3 monitors in borg:services.ceph.monitors (queen and drones)",
      });
    }

    // Consul: servers are the nodes with consul.server; each must expect exactly that many.
    const consulServers = hosts.filter((h) => isOn(service(h, "consul").enable) && isOn(service(h, "consul").server));
    const consulProblem = consulServers.length > 0 ? sizeProblem(consulServers.length) : undefined;
    if (consulProblem) {
      findings.push({
        field: "nodeConfig.services.consul.server",
        problem: `${consulServers.length} Consul server(s) (${names(consulServers)}): ${consulProblem}`,
        fix: "list an odd number of at least 3 servers in borg:services.consul.servers",
      });
    }
    for (const host of consulServers) {
      const expect = asNumber(service(host, "consul").bootstrapExpect);
      if (expect !== undefined && expect !== consulServers.length) {
        findings.push({
          resource: host.resource,
          field: "nodeConfig.services.consul.bootstrapExpect",
          problem: `is ${expect} but the stack has ${consulServers.length} Consul servers: the cluster bootstraps with the wrong quorum or never`,
          fix: "render bootstrapExpect as the number of borg:services.consul.servers on every server",
        });
      }
    }

    // NATS JetStream: every node with nats enabled and jetstream on is a meta-group peer.
    const peers = hosts.filter((h) => isOn(service(h, "nats").enable) && isOn(service(h, "nats").jetstream));
    const natsProblem = peers.length > 0 ? sizeProblem(peers.length) : undefined;
    if (natsProblem) {
      findings.push({
        field: "nodeConfig.services.nats.jetstream",
        problem: `${peers.length} NATS JetStream peer(s) (${names(peers)}): ${natsProblem}`,
        fix: "run JetStream on an odd number of at least 3 nodes (turn it off on the others; they still route and serve clients)",
      });
    }
    return findings;
  },
});
