// Every node that runs Ceph requires cephx for daemons (cluster), for services and for clients:
// with `none` anything that reaches a monitor port may read and write every pool.
import { resourceRule, type Finding } from "../lib/define";
import { asRecord, isOn } from "../lib/infraProps";
import { NIXOS_HOST, nodeConfigOf } from "../lib/nodes";

const MODES = ["cluster", "service", "client"] as const;

export const cephAuthRequired = resourceRule({
  name: "ceph-auth-required",
  description: "Every node that runs Ceph requires cephx authentication for the cluster, services and clients (auth cluster/service/client required = cephx).",
  appliesTo: (type) => type === NIXOS_HOST,
  check: (args) => {
    const ceph = asRecord(nodeConfigOf(args.props)?.services?.ceph);
    if (!ceph || !isOn(ceph.enable)) args.notApplicable("the node does not run Ceph");
    const auth = asRecord(ceph!.auth) ?? {};
    const findings: Finding[] = [];
    for (const mode of MODES) {
      if (auth[mode] === "cephx") continue;
      findings.push({
        field: `nodeConfig.services.ceph.auth.${mode}`,
        problem: `is ${JSON.stringify(auth[mode] ?? null)}, not "cephx": ${mode === "client" ? "clients do not verify the cluster they talk to" : `${mode === "cluster" ? "daemons" : "services"} accept unauthenticated peers`}`,
        fix: `render auth.${mode} = "cephx" (components/services/ceph.ts); the keys come from the program, there is nothing to set up by hand`,
      });
    }
    return findings;
  },
});
