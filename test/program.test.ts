// The real program under the SDK's mocks, for every committed stack: the component tree, each
// node's resources and their order, pinned host keys, triggers, rollout lanes, protection.
import { beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "../components/config/load.js";
import { STACKS, stackFile, stackValues, synth, synthFresh, tempDir, toStackConfig, transitiveDependencies, type Synth } from "./helpers.js";

const STEPS = ["ready", "bundle", "secrets", "activate", "confirm"] as const;
const runs: Record<string, Synth> = {};

beforeAll(async () => {
  for (const stack of STACKS) runs[stack] = await synth(stack);
});

const countOf = (s: Synth, type: string) => s.byType(type).length;
const triggersOf = (s: Synth, name: string) => JSON.stringify(s.byName(name).inputs.triggers);
const nodeNames = (s: Synth) => s.plan.resources.filter((r) => ["borg:index:Queen", "borg:index:Drone", "borg:index:EdgePi"].includes(r.type)).map((r) => r.name);

describe("component tree", () => {
  it.each([
    ["dev", { Queen: 1, Drone: 1, EdgePi: 0, VmLegacy: 2, NixosHost: 2 }],
    ["staging", { Queen: 1, Drone: 2, EdgePi: 1, VmLegacy: 3, NixosHost: 4 }],
    ["prod", { Queen: 1, Drone: 3, EdgePi: 1, VmLegacy: 4, NixosHost: 5 }],
  ] as const)("%s has the expected machines", (stack, want) => {
    const s = runs[stack]!;
    expect(countOf(s, "borg:index:Collective")).toBe(1);
    expect(countOf(s, "borg:index:Queen")).toBe(want.Queen);
    expect(countOf(s, "borg:index:Drone")).toBe(want.Drone);
    expect(countOf(s, "borg:index:EdgePi")).toBe(want.EdgePi);
    expect(countOf(s, "proxmoxve:index/vmLegacy:VmLegacy")).toBe(want.VmLegacy);
    expect(countOf(s, "borg:index:NixosHost")).toBe(want.NixosHost);
    expect(countOf(s, "pulumi:providers:proxmoxve")).toBe(1);
  });

  it.each(STACKS)("%s: every resource except the Collective has a parent, and machines sit under the Collective", (stack) => {
    const s = runs[stack]!;
    const collective = s.byType("borg:index:Collective")[0]!;
    expect(collective.parent).toBeNull();
    for (const r of s.plan.resources.filter((r) => r !== collective)) expect(r.parent, r.name).toBeTruthy();
    for (const name of nodeNames(s)) expect(s.byName(name).parent).toBe(collective.urn);
  });

  it.each(STACKS)("%s: each VM node owns host key, VM and NixOS deploy steps, named <node>-part", (stack) => {
    const s = runs[stack]!;
    for (const node of nodeNames(s)) {
      const nodeUrn = s.byName(node).urn;
      const isPi = s.byName(node).type === "borg:index:EdgePi";
      if (!isPi) {
        expect(s.byName(`${node}-host-key`).parent).toBe(nodeUrn);
        expect(s.byName(`${node}-vm`).parent).toBe(nodeUrn);
        expect(s.byName(`${node}-vm-qemu`).parent).toBe(s.byName(`${node}-vm`).urn);
        expect(s.byName(`${node}-vm-vendor-data`).parent).toBe(s.byName(`${node}-vm`).urn);
      } else {
        expect(() => s.byName(`${node}-vm`)).toThrow();
      }
      const host = s.byName(`${node}-nixos`);
      expect(host.parent).toBe(nodeUrn);
      for (const step of STEPS) expect(s.byName(`${node}-nixos-${step}`).parent).toBe(host.urn);
    }
  });
});

describe("deploy steps", () => {
  it.each(STACKS)("%s: steps run in order ready → bundle → secrets → activate → confirm, after the VM", (stack) => {
    const s = runs[stack]!;
    for (const node of nodeNames(s)) {
      const urn = (step: string) => s.byName(`${node}-nixos-${step}`).urn;
      for (let i = 1; i < STEPS.length; i++) {
        expect(transitiveDependencies(s.plan.resources, urn(STEPS[i]!)), `${node}: ${STEPS[i]} after ${STEPS[i - 1]}`).toContain(urn(STEPS[i - 1]!));
      }
      // nothing earlier waits on something later
      expect(transitiveDependencies(s.plan.resources, urn("ready"))).not.toContain(urn("activate"));
      if (s.byName(node).type !== "borg:index:EdgePi") {
        expect(s.byName(`${node}-nixos-ready`).dependencies).toContain(s.byName(`${node}-vm-qemu`).urn);
      }
    }
  });

  it.each(STACKS)("%s: every remote connection pins a host key and uses key auth with bounded dials", (stack) => {
    const s = runs[stack]!;
    const remote = s.plan.resources.filter((r) => r.type.startsWith("command:remote:"));
    // every node's deploy steps, plus the service layer's steps and gates
    for (const node of nodeNames(s)) for (const step of STEPS) expect(remote.map((r) => r.name)).toContain(`${node}-nixos-${step}`);
    expect(remote.length).toBeGreaterThan(nodeNames(s).length * STEPS.length);
    for (const r of remote) {
      const connection = r.inputs.connection as Record<string, unknown>;
      expect(connection.hostKey, `${r.name} hostKey`).toBeTruthy();
      expect(connection.privateKey, `${r.name} privateKey`).toBe("[secret]");
      expect(connection, `${r.name} password`).not.toHaveProperty("password");
      expect(connection.dialErrorLimit, `${r.name} dialErrorLimit`).toBeTruthy();
      expect(connection.perDialTimeout, `${r.name} perDialTimeout`).toBeTruthy();
    }
  });

  it("the confirm step is its own SSH session and runs the installed (root-owned) confirm script", () => {
    const s = runs.prod!;
    const confirm = s.byName("drone-1-nixos-confirm");
    expect(confirm.type).toBe("command:remote:Command");
    // A failed confirm also names the service guards it leaves in place (e.g. a cordoned node).
    expect(confirm.inputs.create).toMatch(/^sudo -n bash \/var\/lib\/borg\/bundles\/[0-9a-f]{64}\/node-scripts\/confirm\.sh drone-1 [0-9a-f]{64} '(urn:pulumi:[^']+)'( \|\| \{ echo '[^']*guards left in place[^']*' >&2; exit 1; \})?$/);
    expect(String(confirm.inputs.create).split("'")[1]).toBe(s.byName("drone-1-nixos-activate").urn);
    expect(s.byName("drone-1-nixos-activate").inputs.create).toMatch(/activate\.sh drone-1 [0-9a-f]{64} \S+ 180$/);
  });

  it("secrets travel on stdin only, with logging off and secret outputs", () => {
    const s = runs.staging!;
    for (const node of nodeNames(s)) {
      const step = s.byName(`${node}-nixos-secrets`);
      expect(step.inputs.logging).toBe("none");
      expect(step.additionalSecretOutputs).toEqual(expect.arrayContaining(["stdout", "stderr"]));
      // VMs receive their host key, every node its services' secrets
      expect(step.inputs.stdin, node).toBe("[secret]");
      expect(step.inputs).not.toHaveProperty("environment");
    }
  });

  it("with secrets revealed (test-only capture): every connection pins exactly its node's key and bounds its dials", async () => {
    const { runProgram } = await import("../scripts/lib/mockedProgram.js");
    const { readStackFile } = await import("../scripts/lib/stackFile.js");
    const { values } = readStackFile(stackFile("prod"));
    const secretKeys = ["borg:sshPrivateKey", "borg:proxmoxApiToken"];
    const config = { ...values, "borg:sshPrivateKey": "<secret:borg:sshPrivateKey>", "borg:proxmoxApiToken": "<secret:borg:proxmoxApiToken>" };
    const run = await runProgram({ stack: "prod", config, secretKeys, bundleRoot: tempDir(), revealSecrets: true });
    const keys = run.outputs.nodes as Record<string, { hostKey: string }>;
    expect(keys["edge-pi"]!.hostKey).toBe(stackValues("prod").edgePi.hostKey);
    const remote = run.resources.filter((r) => r.type.startsWith("command:remote:"));
    const addresses = run.outputs.nodes as Record<string, { address: string }>;
    expect(remote.length).toBeGreaterThanOrEqual(25);
    for (const r of remote) {
      const connection = r.inputs.connection as Record<string, unknown>;
      // Deploy steps connect to their own node; guards and gates to the node they run on: either
      // way the address and the pinned key belong to one and the same node.
      const node = Object.keys(addresses).find((n) => addresses[n]!.address === connection.host);
      expect(node, r.name).toBeDefined();
      if (/-nixos-(ready|bundle|secrets|activate|confirm)$/.test(r.name)) expect(r.name.startsWith(`${node}-nixos-`), r.name).toBe(true);
      expect(connection.hostKey, r.name).toBe(keys[node!]!.hostKey);
      expect(connection.hostKey, r.name).toMatch(/^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI[A-Za-z0-9+/]{43}=?$/);
      expect(connection.privateKey).toBe("<secret:borg:sshPrivateKey>");
      expect(connection.user).toBe("borg");
      const [limit, timeout] = r.name.endsWith("-nixos-ready") ? [30, 10] : [5, 15];
      expect([connection.dialErrorLimit, connection.perDialTimeout], r.name).toEqual([limit, timeout]);
    }
    // distinct keys per VM: a key mix-up between nodes would be a MITM opening
    expect(new Set(Object.values(keys).map((k) => k.hostKey)).size).toBe(5);
  });

  it("triggers carry the bundle hash and the machine identity", () => {
    const s = runs.dev!;
    const copy = s.byName("queen-nixos-bundle");
    const hash = s.byName("queen-nixos").inputs.bundleHash as string;
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(copy.inputs.triggers).toEqual(["fake-vm-2010", hash]);
    expect(copy.inputs.source).toEqual({ archive: { path: expect.stringMatching(/dev\/nodes\/queen$/) } });
    expect(copy.inputs.remotePath).toBe(`/home/borg/.borg/staging/${hash}`);
  });
});

describe("triggers", () => {
  it("are identical across two runs of the same stack", async () => {
    const again = await synthFresh("prod");
    for (const r of runs.prod!.plan.resources.filter((r) => r.inputs.triggers)) {
      expect(triggersOf(again, r.name), r.name).toBe(triggersOf(runs.prod!, r.name));
    }
  });

  it("changing one drone re-runs only that drone's steps", async () => {
    const values = stackValues("prod");
    values.drones[1].capabilities = ["gpu"];
    const changed = await synthFresh(toStackConfig("prod", values));
    const before = runs.prod!;
    const differs = before.plan.resources
      .filter((r) => r.inputs.triggers)
      .filter((r) => triggersOf(changed, r.name) !== triggersOf(before, r.name))
      .map((r) => r.name)
      .sort();
    // Its own steps and switch guards, its OSD's osd-up step, its K3s server's /readyz (prod runs three servers), the
    // K3s gate that checks its (new) labels, the Consul gates that re-check a redeployed server, and
    // its NATS server gate (drone-2 is a JetStream peer in prod: its guard as well).
    expect(differs.filter((n) => n.startsWith("drone-2-nixos-guard-"))).toEqual([
      "drone-2-nixos-guard-ceph-after",
      "drone-2-nixos-guard-ceph-before",
      "drone-2-nixos-guard-consul-after",
      "drone-2-nixos-guard-consul-before",
      "drone-2-nixos-guard-k3s-after",
      "drone-2-nixos-guard-k3s-before",
      "drone-2-nixos-guard-nats-after",
      "drone-2-nixos-guard-nats-before",
    ]);
    expect(differs.filter((n) => !n.startsWith("drone-2-nixos-guard-"))).toEqual(
      [...STEPS.map((step) => `drone-2-nixos-${step}`), "borg-k3s-nodes-ready", "borg-k3s-ready-drone-2", "ceph-osd-1-up", "consul-gate", "consul-servers-gate", "nats-drone-2-gate"].sort(),
    );
  });
});

describe("changes that touch every node", () => {
  it("moving a drone to a new address re-runs every node's steps: each node.json lists its peers", async () => {
    const values = stackValues("prod");
    values.drones[2].address = "10.42.0.23";
    const moved = await synthFresh(toStackConfig("prod", values));
    for (const node of nodeNames(runs.prod!)) {
      expect(triggersOf(moved, `${node}-nixos-activate`), node).not.toBe(triggersOf(runs.prod!, `${node}-nixos-activate`));
    }
  });
});

describe("rollout lanes", () => {
  // The nodes whose deploy (confirm, then its guards' `after`) this node's activation waits for.
  const activateWaitsFor = (s: Synth, node: string) =>
    s.byName(`${node}-nixos-activate`).dependencies
      .map(s.nameOf)
      // A node is deployed once its confirm and its guards' `after` steps (back to health) passed.
      .filter((n) => /-nixos-(confirm|guard-[a-z0-9]+-after)$/.test(n))
      .map((n) => n.replace(/-nixos-(confirm|guard-[a-z0-9]+-after)$/, "-nixos-confirm"));

  it("prod (maxParallel 1): quorum nodes switch one at a time; the Pi does not wait", () => {
    const s = runs.prod!;
    expect(activateWaitsFor(s, "queen")).toEqual([]);
    expect(activateWaitsFor(s, "drone-1")).toEqual(["queen-nixos-confirm"]);
    expect(activateWaitsFor(s, "drone-2")).toEqual(["drone-1-nixos-confirm"]);
    expect(activateWaitsFor(s, "drone-3")).toEqual(["drone-2-nixos-confirm"]);
    expect(activateWaitsFor(s, "edge-pi")).toEqual([]);
  });

  it("staging (maxParallel 2): two lanes", () => {
    const s = runs.staging!;
    expect(activateWaitsFor(s, "queen")).toEqual([]);
    expect(activateWaitsFor(s, "drone-1")).toEqual([]);
    expect(activateWaitsFor(s, "drone-2")).toEqual(["queen-nixos-confirm"]);
    // JetStream peers still switch one at a time: drone-1's guard runs on the queen once it is deployed.
    const guard = s.byName("drone-1-nixos-guard-nats-before");
    expect(guard.dependencies.map(s.nameOf)).toContain("queen-nixos-guard-nats-after");
    expect(s.byName("drone-1-nixos-activate").dependencies).toContain(guard.urn);
  });

  it("dev (no limit): everything in parallel", () => {
    const s = runs.dev!;
    for (const node of nodeNames(s)) expect(activateWaitsFor(s, node)).toEqual([]);
  });
});

describe("Proxmox VMs", () => {
  it("prod VMs are protected in Proxmox and in Pulumi; dev VMs are not", () => {
    for (const vm of runs.prod!.byType("proxmoxve:index/vmLegacy:VmLegacy")) {
      expect(vm.inputs.protection, vm.name).toBe(true);
      expect(vm.protect, vm.name).toBe(true);
    }
    for (const vm of runs.dev!.byType("proxmoxve:index/vmLegacy:VmLegacy")) {
      expect(vm.inputs.protection).toBe(false);
      expect(vm.protect).toBe(false);
    }
  });

  it("clones the template with firewall on, the guest agent, cloud-init keys without password and a host-key snippet", () => {
    const s = runs.prod!;
    const vm = s.byName("drone-3-vm-qemu");
    const inputs = vm.inputs as any;
    expect(vm.provider).toBe(s.byType("pulumi:providers:proxmoxve")[0]!.urn);
    expect(inputs.clone).toMatchObject({ vmId: 9000, full: true });
    expect(inputs.networkDevices).toEqual([expect.objectContaining({ bridge: "vmbr0", firewall: true })]);
    expect(inputs.agent.enabled).toBe(true);
    expect(inputs.tags).toEqual(["borg", "drone", "prod"]);
    expect(inputs.initialization.userAccount.username).toBe("borg");
    expect(inputs.initialization.userAccount.keys).toHaveLength(1);
    expect(inputs.initialization.userAccount).not.toHaveProperty("password");
    expect(inputs.initialization.ipConfigs[0].ipv4).toEqual({ address: "10.42.0.13/24", gateway: "10.42.0.1" });
    expect(inputs.initialization.vendorDataFileId).toBe("local:snippets/borg-prod-drone-3-vendor.yaml");
    expect(inputs.disks.map((d: any) => [d.interface, d.size])).toEqual([["virtio0", 64], ["virtio1", 500]]);
    expect(s.byName("drone-3-vm-vendor-data").inputs.sourceRaw).toEqual({ fileName: "borg-prod-drone-3-vendor.yaml", data: "[secret]" });
    // the queen has no OSD disk
    expect((s.byName("queen-vm-qemu").inputs as any).disks).toHaveLength(1);
  });

  it("exports a known_hosts line per node with the generated or pinned key", () => {
    const lines = String(runs.prod!.plan.outputs.knownHosts).split("\n");
    expect(lines).toHaveLength(5);
    expect(lines).toContain("10.42.0.50 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFKlVAYEfvI1rqHpDSNjnEIIOw+T0az8PUEWYmiJWTpY");
    for (const line of lines) expect(line).toMatch(/^10\.42\.0\.\d+ ssh-ed25519 [A-Za-z0-9+/=]+$/);
  });
});

describe("invalid config", () => {
  it("registers no resource at all", async () => {
    const values = stackValues("dev");
    values.drones[0].address = "10.43.0.9";
    const { runProgram } = await import("../scripts/lib/mockedProgram.js");
    const config = Object.fromEntries(Object.entries(values).map(([k, v]) => [`borg:${k}`, JSON.stringify(v)]));
    config["borg:sshPrivateKey"] = "<secret:borg:sshPrivateKey>";
    config["borg:proxmoxApiToken"] = "<secret:borg:proxmoxApiToken>";
    const registered: string[] = [];
    const secretKeys = ["borg:sshPrivateKey", "borg:proxmoxApiToken"];
    const run = (cfg: Record<string, string>) =>
      runProgram({ stack: "dev", config: cfg, secretKeys, bundleRoot: tempDir(), onRegister: (r) => registered.push(r.type) });
    const error = await run(config).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain("borg:drones[0].address: 10.43.0.9 is outside borg:network.cidr 10.42.2.0/24");
    expect(registered).toEqual([]);
    // control: the same harness does see registrations of a valid config
    values.drones[0].address = "10.42.2.11";
    await run({ ...config, "borg:drones": JSON.stringify(values.drones) });
    expect(registered).toContain("proxmoxve:index/vmLegacy:VmLegacy");
  });
});
