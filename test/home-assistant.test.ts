// Home Assistant in the plans: the component on the edge Pi only, its steps (the REST step after
// the Pi's MQTT gate, then the gate), what they are given (non-secret words; secrets by file in the
// secrets channel), the secret files and their owners, the exports, and the home's location kept
// out of everything but the secrets channel. The REST flow itself: hass-scripts.test.ts.
import * as fs from "node:fs";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { listFiles, stackValues, synth, synthFresh, toStackConfig, transitiveDependencies, type Synth } from "./helpers.js";

let prod: Synth;
let dev: Synth;
beforeAll(async () => {
  [prod, dev] = await Promise.all([synth("prod"), synth("dev")]);
});
const deps = (s: Synth, name: string) => s.byName(name).dependencies.map(s.nameOf);

describe("the HomeAssistant component", () => {
  it("exists only with an edge Pi: one per prod stack, none in dev", () => {
    expect(prod.byType("borg:index:HomeAssistant").map((r) => r.name)).toEqual(["home-assistant"]);
    expect(dev.byType("borg:index:HomeAssistant")).toEqual([]);
    expect(dev.plan.resources.filter((r) => r.name.includes("hass"))).toEqual([]);
    expect(dev.plan.outputs.homeAssistant).toBeNull();
  });

  it("configures HA's MQTT entry after the Pi's broker (and bridge) is ready, then gates on it", () => {
    const step = prod.byName("edge-pi-hass-mqtt");
    expect(step.inputs.create).toMatch(/^sudo -n bash \/var\/lib\/borg\/bundles\/[0-9a-f]{64}\/node-scripts\/services\/hass-mqtt\.sh edge-pi https:\/\/127\.0\.0\.1:8123 127\.0\.0\.1 1883 homeassistant borg$/);
    expect(deps(prod, "edge-pi-hass-mqtt")).toEqual(expect.arrayContaining(["edge-pi-mqtt-gate"]));
    // the Pi's MQTT gate waits for the queen's: HA's entry is made with the whole MQTT chain up
    const chain = transitiveDependencies(prod.plan.resources, step.urn);
    expect(chain.has(prod.byName("queen-mqtt-gate").urn)).toBe(true);
    expect(chain.has(prod.byName("edge-pi-nixos-confirm").urn)).toBe(true);
    const gate = prod.byName("edge-pi-hass-gate");
    expect(gate.inputs.create).toMatch(/node-scripts\/services\/hass-gate\.sh edge-pi https:\/\/127\.0\.0\.1:8123 borg$/);
    expect(deps(prod, "edge-pi-hass-gate")).toContain("edge-pi-hass-mqtt");
    // connected to the Pi with its pinned key; no stdin (the scripts read the secrets dir)
    for (const r of [step, gate]) {
      expect((r.inputs.connection as Record<string, unknown>).host).toBe("[secret]");
      expect(r.inputs.stdin).toBeUndefined();
      // a new MQTT or owner password re-runs them: a digest, and even that secret in the plan
      expect((r.inputs.triggers as unknown[]).slice(2)).toEqual(["[secret]"]);
    }
  });

  it("hands the Pi its secret files, owned by who reads them (hass: TLS and secrets.yaml; root: the steps' passwords)", () => {
    const pi = JSON.parse(fs.readFileSync(path.join(prod.outDir, "nodes", "edge-pi", "node.json"), "utf8"));
    const files = Object.fromEntries(pi.secrets.files.filter((f: { name: string }) => /^hass-|borg-status/.test(f.name)).map((f: { name: string; owner: string }) => [f.name, f.owner]));
    expect(files).toEqual({
      "hass-secrets.yaml": "hass",
      "hass-owner.password": "root",
      "hass-mqtt.password": "root",
      "mqtt-borg-status.hash": "root",
      "mqtt-borg-status.password": "root",
      "hass-ca.crt": "root",
      "hass-tls.crt": "hass",
      "hass-tls.key": "hass",
    });
    // the queen's broker knows the status user too (users are the same on every broker) but gets none of HA's files
    const queen = JSON.parse(fs.readFileSync(path.join(prod.outDir, "nodes", "queen", "node.json"), "utf8"));
    expect(queen.secrets.files.map((f: { name: string }) => f.name).filter((n: string) => n.startsWith("hass-"))).toEqual([]);
  });

  it("exports the URL on the Pi's address, the CA and the owner (password secret)", () => {
    expect(prod.plan.outputs.homeAssistant).toEqual({
      url: "https://10.42.0.50:8123",
      caCertificate: "fake certificate of home-assistant-ca",
      owner: { username: "borg", password: "[secret]" },
    });
  });

  it("the home's location reaches only the secrets channel: not node.json, the plan or a bundle", async () => {
    const values = stackValues("prod");
    values.services.homeAssistant = { ...values.services.homeAssistant, location: { latitude: 52.517389, longitude: 13.395131, elevation: 34 } };
    const located = await synthFresh(toStackConfig("prod", values));
    const pi = JSON.parse(fs.readFileSync(path.join(located.outDir, "nodes", "edge-pi", "node.json"), "utf8"));
    expect(pi.services.homeAssistant.location).toBe(true);
    const everything = [JSON.stringify(located.plan.resources.map((r) => r.inputs)), JSON.stringify(located.plan.outputs), ...listFiles(path.join(located.outDir, "nodes")).map((f) => fs.readFileSync(f, "utf8"))].join("\n");
    // the config value itself is in the plan's stack config, which is the operator's own file
    expect(everything).not.toContain("52.517389");
    expect(everything).not.toContain("13.395131");
    // ...and a changed location re-runs the Pi's steps (its node.json says `location: true`) and,
    // elsewhere, only the gates that re-check a redeployed Pi (Consul's members, NATS' leaf)
    const before = prod.plan.resources.filter((r) => r.inputs.triggers);
    const changed = before.filter((r) => JSON.stringify(located.byName(r.name).inputs.triggers) !== JSON.stringify(r.inputs.triggers)).map((r) => r.name);
    expect(changed.filter((n) => !n.startsWith("edge-pi-") && !n.endsWith("-gate"))).toEqual([]);
    expect(changed).toEqual(expect.arrayContaining(["edge-pi-nixos-secrets", "edge-pi-hass-mqtt", "edge-pi-hass-gate"]));
  });

  it("without Home Assistant: no component, no status user on the brokers", async () => {
    const values = stackValues("prod");
    values.services.homeAssistant = { enabled: false };
    const off = await synthFresh(toStackConfig("prod", values));
    expect(off.byType("borg:index:HomeAssistant")).toEqual([]);
    expect(off.plan.outputs.homeAssistant).toBeNull();
    const queen = JSON.parse(fs.readFileSync(path.join(off.outDir, "nodes", "queen", "node.json"), "utf8"));
    expect(queen.services.mqtt.users.map((u: { name: string }) => u.name)).toEqual(["homeassistant", "borg-probe"]);
  });
});
