// homeassistant-not-public over the committed plans: the prod and staging Pi pass; a wildcard or
// foreign listen address, a public node address, the port opened wider than the node network,
// forwarded addresses from anywhere, the internet relay, or plain HTTP outside dev each fail,
// naming the node, the field and the fix. Nodes without Home Assistant are not judged.
import { beforeAll, describe, expect, it } from "vitest";
import { homeAssistantNotPublic } from "../../policy/homeassistant/notPublic.ts";
import { runResourcePolicy, type PlanResource } from "../../scripts/lib/policyRunner.js";
import { synth, type Synth } from "../helpers.js";
import { expectViolation, mutate, type Obj } from "./harness.js";

const run = (r: PlanResource) => runResourcePolicy(homeAssistantNotPublic, r);
const ha = (i: Obj) => i.nodeConfig.services.homeAssistant as Obj;
const AT = "nodeConfig.services.homeAssistant";

let prod: Synth;
let staging: Synth;
let dev: Synth;
beforeAll(async () => {
  [prod, staging, dev] = await Promise.all([synth("prod"), synth("staging"), synth("dev")]);
});
const pi = () => prod.byName("edge-pi-nixos");

describe("homeassistant-not-public", () => {
  it("passes the committed Pi (prod, staging): loopback and its own address, lan port, HTTPS", async () => {
    for (const s of [prod, staging]) expect((await run(s.byName("edge-pi-nixos"))).violations).toEqual([]);
    expect(ha(pi().inputs as Obj).http.serverHosts).toEqual(["127.0.0.1", "10.42.0.50"]);
  });

  it("is not applicable where Home Assistant does not run (the queen, drones, dev without a Pi)", async () => {
    for (const host of ["queen-nixos", "drone-1-nixos"]) expect((await run(prod.byName(host))).notApplicable, host).toMatch(/no Home Assistant on this node/);
    for (const host of dev.byType("borg:index:NixosHost")) expect((await run(host)).notApplicable, host.name).toMatch(/no Home Assistant/);
  });

  it("fails a wildcard listen address, an empty list and an address that is not the node's", async () => {
    for (const wildcard of ["0.0.0.0", "::"]) {
      const r = mutate(pi(), (i) => (ha(i).http.serverHosts = ["127.0.0.1", wildcard]));
      expectViolation(await run(r), "edge-pi-nixos", `${AT}.http.serverHosts[1]`, /listens on every interface/);
    }
    expectViolation(await run(mutate(pi(), (i) => (ha(i).http.serverHosts = []))), "edge-pi-nixos", `${AT}.http.serverHosts`, /is empty: Home Assistant listens on every interface/);
    const other = mutate(pi(), (i) => (ha(i).http.serverHosts = ["10.42.0.99"]));
    expectViolation(await run(other), "edge-pi-nixos", `${AT}.http.serverHosts[0]`, /'10\.42\.0\.99' is not this node's address \(10\.42\.0\.50\)/);
  });

  it("fails a node on a public address", async () => {
    const r = mutate(pi(), (i) => {
      i.nodeConfig.network.address = "203.0.113.50";
      ha(i).http.serverHosts = ["127.0.0.1", "203.0.113.50"];
    });
    expectViolation(await run(r), "edge-pi-nixos", `${AT}.http.serverHosts[1]`, /'203\.0\.113\.50' is a public address/);
  });

  it("fails Home Assistant's port opened to anything but the node network or the collective", async () => {
    const r = mutate(pi(), (i) => (i.nodeConfig.firewall.rules.find((x: Obj) => x.name === "home-assistant").scope = "wan"));
    const index = (r.inputs as Obj).nodeConfig.firewall.rules.findIndex((x: Obj) => x.name === "home-assistant");
    expectViolation(await run(r), "edge-pi-nixos", `nodeConfig.firewall.rules[${index}].scope`, /opens Home Assistant's port 8123 to 'wan'/);
    // a range that covers the port counts too
    const range = mutate(pi(), (i) => i.nodeConfig.firewall.rules.push({ name: "debug", protocol: "tcp", from: 8000, to: 9000, scope: "public" }));
    expect((await run(range)).violations.some((v) => v.includes("to 'public'"))).toBe(true);
  });

  it("fails forwarded client addresses trusted from anywhere, or from no proxy at all", async () => {
    const open = mutate(pi(), (i) => Object.assign(ha(i).http, { useXForwardedFor: true, trustedProxies: ["127.0.0.1", "0.0.0.0/0"] }));
    expectViolation(await run(open), "edge-pi-nixos", `${AT}.http.trustedProxies[1]`, /'0\.0\.0\.0\/0' is not a private proxy/);
    const none = mutate(pi(), (i) => Object.assign(ha(i).http, { useXForwardedFor: true, trustedProxies: [] }));
    expectViolation(await run(none), "edge-pi-nixos", `${AT}.http.trustedProxies`, /is empty while forwarded client addresses are trusted/);
    const lan = mutate(pi(), (i) => Object.assign(ha(i).http, { useXForwardedFor: true, trustedProxies: ["127.0.0.1", "10.42.0.0/24"] }));
    expect((await run(lan)).violations).toEqual([]);
  });

  it("fails the internet relay (cloud) in the built-in integrations", async () => {
    const r = mutate(pi(), (i) => ha(i).extraComponents.push("cloud"));
    expectViolation(await run(r), "edge-pi-nixos", `${AT}.extraComponents[5]`, /'cloud': Nabu Casa's Remote UI relays Home Assistant to the internet/);
  });

  it("fails plain HTTP outside dev; allows it in dev", async () => {
    const r = mutate(pi(), (i) => (ha(i).http.tls = null));
    expectViolation(await run(r), "edge-pi-nixos", `${AT}.http.tls`, /is not set at security level prod/);
    const inDev = mutate(pi(), (i) => {
      ha(i).http.tls = null;
      i.nodeConfig.securityLevel = "dev";
    });
    expect((await run(inDev)).violations).toEqual([]);
  });

  it("fails missing http settings", async () => {
    const r = mutate(pi(), (i) => (ha(i).http = null));
    expectViolation(await run(r), "edge-pi-nixos", `${AT}.http`, /is missing/);
  });
});
