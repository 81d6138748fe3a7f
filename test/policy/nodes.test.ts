// node-firewall-allowlist over the committed plans: every node opens exactly the ports of its roles
// (from nix/lib/ports.json); a hand-added port, a port of a role the node does not run, a widened
// range and a cluster port opened to the LAN each fail, naming the node, the rule and the fix.
import { beforeAll, describe, expect, it } from "vitest";
import { cephAuthRequired } from "../../policy/nodes/cephAuthRequired.ts";
import { nodeFirewallAllowlist } from "../../policy/nodes/firewallAllowlist.ts";
import { runResourcePolicy, type PlanResource } from "../../scripts/lib/policyRunner.js";
import { synth, type Synth } from "../helpers.js";
import { expectViolation, mutate, type Obj } from "./harness.js";

const run = (r: PlanResource) => runResourcePolicy(nodeFirewallAllowlist, r);
const firewall = (inputs: Obj) => inputs.nodeConfig.firewall as { rules: Obj[]; clusterSources: string[] };
/** The field of a host's rule named `name` (index in its rules list). */
const ruleField = (r: PlanResource, name: string) => `nodeConfig.firewall.rules[${firewall(r.inputs as Obj).rules.findIndex((x) => x.name === name)}]`;

let prod: Synth;
let dev: Synth;
beforeAll(async () => {
  [prod, dev] = await Promise.all([synth("prod"), synth("dev")]);
});

describe("node-firewall-allowlist", () => {
  it("passes every node of the committed stacks", async () => {
    for (const s of [prod, dev]) {
      const hosts = s.plan.resources.filter((r) => r.type === "borg:index:NixosHost");
      expect(hosts.length).toBeGreaterThan(1);
      for (const host of hosts) expect((await run(host)).violations, host.name).toEqual([]);
    }
  });

  it("fails a port outside the table", async () => {
    const r = mutate(prod.byName("drone-1-nixos"), (i) => firewall(i).rules.push({ name: "debug", protocol: "tcp", from: 9999, to: 9999, scope: "lan" }));
    expectViolation(await run(r), "drone-1-nixos", ruleField(r, "debug"), /9999\/tcp as 'debug', which is not in the ports table/);
  });

  it("fails a port of a role the node does not run (Home Assistant's port on a drone)", async () => {
    const r = mutate(prod.byName("drone-1-nixos"), (i) => firewall(i).rules.push({ name: "home-assistant", protocol: "tcp", from: 8123, to: 8123, scope: "lan" }));
    expectViolation(await run(r), "drone-1-nixos", ruleField(r, "home-assistant"), /home-assistant \(8123\/tcp\), which only home-assistant need/);
  });

  it("fails a widened range", async () => {
    const r = mutate(prod.byName("drone-1-nixos"), (i) => (firewall(i).rules.find((x) => x.name === "ceph-daemons")!.to = 9000));
    expectViolation(await run(r), "drone-1-nixos", ruleField(r, "ceph-daemons"), /opens 6800-9000\/tcp as ceph-daemons, but the table says 6800-7300\/tcp/);
  });

  it("fails a cluster-only port opened to the whole LAN", async () => {
    const r = mutate(prod.byName("drone-1-nixos"), (i) => (firewall(i).rules.find((x) => x.name === "kubelet")!.scope = "lan"));
    expectViolation(await run(r), "drone-1-nixos", ruleField(r, "kubelet"), /opens kubelet \(10250\/tcp\) to 'lan', but the table allows it only to 'cluster'/);
  });

  it("fails ports opened outside the rules (the old allowedTCPPorts list)", async () => {
    const r = mutate(prod.byName("queen-nixos"), (i) => (i.nodeConfig.firewall.allowedTCPPorts = [22, 2375]));
    expectViolation(await run(r), "queen-nixos", "nodeConfig.firewall.allowedTCPPorts", /opens 22, 2375 outside the ports table/);
  });

  it("does not judge other resources", async () => {
    const result = await run(prod.byName("queen-nixos-activate"));
    expect(result.notApplicable).toMatch(/does not judge/);
  });
});

describe("what each node opens (derived from its roles)", () => {
  const rulesOf = (s: Synth, host: string) => firewall(s.byName(`${host}-nixos`).inputs as Obj).rules.map((r) => `${r.name}:${r.scope}`);

  it("prod: the queen, an OSD drone and the edge Pi open their roles' ports and nothing else", () => {
    expect(rulesOf(prod, "queen")).toEqual([
      "ssh:lan", "ceph-mon-msgr2:cluster", "ceph-mon-msgr1:cluster", "ceph-daemons:cluster", "k3s-api:lan", "k3s-etcd:cluster", "kubelet:cluster",
      "flannel-vxlan:cluster", "consul-server-rpc:cluster", "consul-serf-lan-tcp:cluster", "consul-serf-lan-udp:cluster", "consul-https:lan",
      "nats-client:lan", "nats-route:cluster", "nats-leaf-hub:cluster", "mqtt-tls:lan", "mqtt-bridge:cluster",
    ]);
    expect(rulesOf(prod, "drone-3")).toEqual([
      "ssh:lan", "ceph-daemons:cluster", "kubelet:cluster", "flannel-vxlan:cluster", "consul-serf-lan-tcp:cluster", "consul-serf-lan-udp:cluster",
      "nats-client:lan", "nats-route:cluster",
    ]);
    expect(rulesOf(prod, "edge-pi")).toEqual(["ssh:lan", "consul-serf-lan-tcp:cluster", "consul-serf-lan-udp:cluster", "nats-client:lan", "mqtt-tls:lan", "home-assistant:lan"]);
  });

  it("cluster rules accept exactly the collective's node addresses", () => {
    const queen = firewall(prod.byName("queen-nixos").inputs as Obj);
    const addresses = prod.plan.resources.filter((r) => r.type === "borg:index:NixosHost").map((r) => (r.inputs as Obj).nodeConfig.network.address);
    expect([...queen.clusterSources].sort()).toEqual([...addresses].sort());
  });

  it("dev without TLS opens plaintext MQTT and Consul HTTP instead of their TLS ports", () => {
    expect(rulesOf(dev, "queen")).toContain("mqtt:lan");
    expect(rulesOf(dev, "queen")).toContain("consul-http:lan");
    expect(rulesOf(dev, "queen")).not.toContain("mqtt-tls:lan");
  });
});

describe("ceph-auth-required", () => {
  const check = (r: PlanResource) => runResourcePolicy(cephAuthRequired, r);

  it("passes every Ceph node of the committed stacks", async () => {
    for (const s of [prod, dev]) {
      const hosts = s.plan.resources.filter((r) => r.type === "borg:index:NixosHost" && (r.inputs as Obj).nodeConfig.services.ceph.enable);
      expect(hosts.length).toBeGreaterThan(1);
      for (const host of hosts) expect((await check(host)).violations, host.name).toEqual([]);
    }
  });

  it.each(["cluster", "service", "client"])("fails auth %s required = none, naming the field", async (mode) => {
    const r = mutate(prod.byName("drone-1-nixos"), (i) => (i.nodeConfig.services.ceph.auth[mode] = "none"));
    const result = await check(r);
    expect(result.violations).toHaveLength(1);
    expectViolation(result, "drone-1-nixos", `nodeConfig.services.ceph.auth.${mode}`, /is "none", not "cephx"/);
  });

  it("fails a node config without auth settings", async () => {
    const r = mutate(prod.byName("queen-nixos"), (i) => delete i.nodeConfig.services.ceph.auth);
    expect((await check(r)).violations).toHaveLength(3);
  });

  it("does not judge a node without Ceph (the edge Pi) or other resources", async () => {
    expect((await check(prod.byName("edge-pi-nixos"))).notApplicable).toMatch(/does not run Ceph/);
    const off = mutate(prod.byName("drone-1-nixos"), (i) => {
      i.nodeConfig.services.ceph.enable = false;
      i.nodeConfig.services.ceph.auth.client = "none";
    });
    expect((await check(off)).notApplicable).toMatch(/does not run Ceph/);
    expect((await check(prod.byName("ceph-gate"))).notApplicable).toMatch(/does not judge/);
  });
});
