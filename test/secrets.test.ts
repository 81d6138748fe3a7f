// Secrets never land in a node bundle, a command line or a non-secret input: every user secret is
// a <secret:…> canary in the offline run, and no canary may appear anywhere but behind [secret].
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { decodeWire } from "../scripts/lib/mockedProgram.js";
import { listFiles, STACKS, stackValues, synth, synthFresh, toStackConfig, type Synth } from "./helpers.js";

const CANARY = "<secret:";
const runs: Record<string, Synth> = {};
beforeAll(async () => {
  for (const stack of STACKS) runs[stack] = await synth(stack);
});

/** Every place a canary must never be: each string in the plan, and each bundle file. */
function leaks(s: Synth): string[] {
  const found: string[] = [];
  const walk = (value: unknown, where: string) => {
    if (typeof value === "string" && value.includes(CANARY)) found.push(where);
    else if (Array.isArray(value)) value.forEach((v, i) => walk(v, `${where}[${i}]`));
    else if (value && typeof value === "object") for (const [k, v] of Object.entries(value)) walk(v, `${where}.${k}`);
  };
  for (const r of s.plan.resources) walk(r.inputs, `${r.name}.inputs`);
  walk(s.plan.outputs, "outputs");
  for (const file of listFiles(path.join(s.outDir, "nodes"))) {
    if (fs.readFileSync(file, "utf8").includes(CANARY)) found.push(path.relative(s.outDir, file));
  }
  return found;
}

describe("no secret outside secret places", () => {
  it.each(STACKS)("%s: no canary in any input, command, export or bundle file", (stack) => {
    expect(leaks(runs[stack]!)).toEqual([]);
  });

  it("the scan finds a canary smuggled into a non-secret field (control)", async () => {
    const values = stackValues("dev");
    values.ssh.authorizedKeys = [`${values.ssh.authorizedKeys[0].split(" ").slice(0, 2).join(" ")} ${CANARY}leak>`];
    const leaky = await synthFresh(toStackConfig("dev", values));
    const found = leaks(leaky);
    expect(found).toContain("nodes/queen/node.json");
    expect(found.some((w) => w.startsWith("queen-vm-qemu.inputs.initialization.userAccount.keys"))).toBe(true);
  });

  it("secret wire values are redacted leaf by leaf, keeping the structure", () => {
    const wire = { "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", value: { host: "10.0.0.1", hostKey: "ssh-ed25519 AAAA", port: 22 } };
    expect(decodeWire({ connection: wire, create: "true" })).toEqual({ connection: { host: "[secret]", hostKey: "[secret]", port: "[secret]" }, create: "true" });
  });

  it("the generated host private key reaches only secret inputs: the vendor-data snippet and the secrets stdin", () => {
    const s = runs.prod!;
    expect(s.byName("drone-1-vm-vendor-data").inputs.sourceRaw).toMatchObject({ data: "[secret]" });
    expect(s.byName("drone-1-nixos-secrets").inputs.stdin).toBe("[secret]");
  });
});

describe("node bundles", () => {
  it.each(STACKS)("%s: the bundle on disk is the one the plan ships, and its MANIFEST verifies", (stack) => {
    const s = runs[stack]!;
    for (const host of s.byType("borg:index:NixosHost")) {
      const node = host.name.replace(/-nixos$/, "");
      const dir = path.join(s.outDir, "nodes", node);
      const manifest = fs.readFileSync(path.join(dir, "MANIFEST"), "utf8");
      expect(createHash("sha256").update(manifest).digest("hex")).toBe(host.inputs.bundleHash);
      // the real tool: sha256sum -c
      execFileSync("sha256sum", ["--quiet", "-c", "MANIFEST"], { cwd: dir });
      const listed = manifest.trim().split("\n").map((l) => l.slice(66)).sort();
      const present = listFiles(dir).map((f) => path.relative(dir, f)).filter((f) => f !== "MANIFEST").sort();
      expect(listed).toEqual(present);
      expect(present).toEqual(expect.arrayContaining(["configuration.nix", "node.json", "node-scripts/activate.sh", "node-scripts/confirm.sh"]));
    }
  });

  it.each(STACKS)("%s: every node.json round-trips through Nix's builtins.fromJSON", (stack) => {
    const s = runs[stack]!;
    for (const host of s.byType("borg:index:NixosHost")) {
      const file = path.join(s.outDir, "nodes", host.name.replace(/-nixos$/, ""), "node.json");
      const viaNix = execFileSync(
        "nix-instantiate",
        ["--option", "build-users-group", "", "--eval", "--strict", "--json", "-E", `builtins.fromJSON (builtins.readFile ${file})`],
        { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
      );
      expect(JSON.parse(viaNix)).toEqual(JSON.parse(fs.readFileSync(file, "utf8")));
      expect(JSON.parse(viaNix)).toEqual(host.inputs.nodeConfig);
    }
  });

  it("node.json carries the node's role, address, keys and OSD disk, and no secret values", () => {
    const s = runs.prod!;
    const drone = JSON.parse(fs.readFileSync(path.join(s.outDir, "nodes", "drone-3", "node.json"), "utf8"));
    expect(drone).toMatchObject({
      name: "drone-3",
      role: "drone",
      platform: "proxmox-vm",
      securityLevel: "prod",
      network: { address: "10.42.0.13", prefixLength: 24, gateway: "10.42.0.1" },
      capabilities: ["gpu", "high-memory"],
      storage: { osdDevice: "/dev/vdb" },
      ssh: { user: "borg", hostKeyFile: "/var/lib/borg/secrets/ssh_host_ed25519_key" },
      secrets: {
        dir: "/var/lib/borg/secrets",
        // The host key, the K3s agent token, Consul's and NATS' files (names and owners only).
        files: expect.arrayContaining([
          { name: "ssh_host_ed25519_key", owner: "root", group: "root" },
          ...["ceph-fsid", "ceph-osd-keyring", "ceph-osd-uuid"].map((name) => ({ name, owner: "root", group: "root" })),
          { name: "k3s-agent-token", owner: "root", group: "root" },
          // owned by the service user (a dynamic uid: base.nix hands them over once it exists)
          { name: "consul-secrets.json", owner: "consul", group: "consul" },
          { name: "consul-ca.pem", owner: "consul", group: "consul" },
          { name: "consul-cert.pem", owner: "consul", group: "consul" },
          { name: "consul-key.pem", owner: "consul", group: "consul" },
          { name: "nats-auth.conf", owner: "root", group: "root" },
        ]),
      },
    });
    expect(drone.peers.map((p: { name: string }) => p.name)).toEqual(["queen", "drone-1", "drone-2", "edge-pi"]);
    const pi = JSON.parse(fs.readFileSync(path.join(s.outDir, "nodes", "edge-pi", "node.json"), "utf8"));
    expect(pi).toMatchObject({ role: "edge", platform: "raspberry-pi-4", storage: null, ssh: { hostKeyFile: null } });
    // the Pi's services' secret files: names and owners only (values travel on stdin)
    expect(pi.secrets.files.map((f: { name: string }) => f.name)).toEqual(expect.arrayContaining(["mqtt-homeassistant.hash", "mqtt-bridge.key", "consul-secrets.json", "consul-ca.pem", "consul-cert.pem", "consul-key.pem"]));
    for (const f of pi.secrets.files) expect(Object.keys(f).sort()).toEqual(["group", "name", "owner"]);
  });

  it("bundles are byte-identical across runs", async () => {
    const again = await synthFresh("staging");
    for (const node of ["queen", "drone-1", "drone-2", "edge-pi"]) {
      const a = fs.readFileSync(path.join(runs.staging!.outDir, "nodes", node, "MANIFEST"), "utf8");
      const b = fs.readFileSync(path.join(again.outDir, "nodes", node, "MANIFEST"), "utf8");
      expect(b).toBe(a);
    }
  });
});
