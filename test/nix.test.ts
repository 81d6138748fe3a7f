// Checks of the nix/ directory that need no nixpkgs (<nixpkgs> is not available
// here): every file parses, the node.json -> borg.* mapping evaluates, and the
// values it produces fit the option declarations of the modules themselves.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(fileURLToPath(new URL("..", import.meta.url)));
const nixDir = join(root, "nix");
// No daemon and no build users in this sandbox: evaluation only.
const nixOpts = ["--option", "build-users-group", ""];

function listNixFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    const p = join(dir, entry);
    if (statSync(p).isDirectory()) out.push(...listNixFiles(p));
    else if (entry.endsWith(".nix")) out.push(p);
  }
  return out.sort();
}

function parse(file: string): void {
  execFileSync("nix-instantiate", [...nixOpts, "--parse", file], { stdio: "pipe" });
}

function evalJson(expr: string): unknown {
  const out = execFileSync("nix-instantiate", [...nixOpts, "--eval", "--strict", "--json", "-E", expr], {
    stdio: "pipe",
    encoding: "utf8",
  });
  return JSON.parse(out);
}

/** The error text of a failing evaluation (fails the test if it succeeds). */
function evalError(expr: string): string {
  try {
    evalJson(expr);
  } catch (e) {
    return String((e as { stderr?: unknown }).stderr ?? e);
  }
  throw new Error(`expected evaluation to fail: ${expr}`);
}

const nixStr = (s: string) => JSON.stringify(s); // a JSON string is a valid Nix string literal here (no ${)

const sampleNode = {
  schemaVersion: 1,
  name: "drone-1",
  role: "drone",
  platform: "proxmox-vm",
  stack: "dev",
  securityLevel: "dev",
  stateVersion: "24.11",
  network: { address: "10.42.0.11", prefixLength: 24, gateway: "10.42.0.1", dns: ["10.42.0.1"], domain: "hive.lan" },
  ssh: {
    user: "borg",
    authorizedKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOperatorKeyForTestsOnly operator"],
    hostKeyFile: "/var/lib/borg/secrets/ssh_host_ed25519_key",
  },
  roles: ["ssh", "ceph-osd", "k3s-agent"],
  firewall: {
    rules: [
      { name: "ssh", protocol: "tcp", from: 22, to: 22, scope: "lan" },
      { name: "ceph-daemons", protocol: "tcp", from: 6800, to: 7300, scope: "cluster" },
      { name: "kubelet", protocol: "tcp", from: 10250, to: 10250, scope: "cluster" },
      { name: "flannel-vxlan", protocol: "udp", from: 8472, to: 8472, scope: "cluster" },
      { name: "nats-client", protocol: "tcp", from: 4222, to: 4222, scope: "lan" },
    ],
    clusterSources: ["10.42.0.10", "10.42.0.11"],
  },
  capabilities: ["gpu"],
  storage: { osdDevice: "/dev/vdb" },
  peers: [{ name: "queen", role: "queen", address: "10.42.0.10" }],
  secrets: {
    dir: "/var/lib/borg/secrets",
    files: [
      { name: "ssh_host_ed25519_key", owner: "root", group: "root" },
      { name: "k3s-token", owner: "root", group: "root" },
    ],
  },
  futureField: { ignored: true },
};

const edgeNode = {
  ...sampleNode,
  name: "edge-pi",
  role: "edge",
  platform: "raspberry-pi-4",
  ssh: { ...sampleNode.ssh, hostKeyFile: null },
  storage: null,
  peers: [],
  secrets: { dir: "/var/lib/borg/secrets", files: [] },
};

// A stand-in for the few nixpkgs `lib` functions the modules use, enough to read
// their option declarations and run their `config` functions on sample values.
// It type-checks values the way the module system would (enum, regex, port...).
const harness = String.raw`
{ nixDir, nodeFile }:
let
  b = builtins;
  t = name: extra: { _type = "stub-type"; inherit name; } // extra;
  types = {
    str = t "str" { check = v: b.isString v; };
    bool = t "bool" { check = v: b.isBool v; };
    port = t "port" { check = v: b.isInt v && v >= 0 && v <= 65535; };
    strMatching = re: t "strMatching ${"$"}{re}" { check = v: b.isString v && b.match re v != null; };
    nullOr = ty: t "nullOr ${"$"}{ty.name}" { check = v: v == null || ty.check v; inner = ty; };
    listOf = ty: t "listOf ${"$"}{ty.name}" { check = v: b.isList v && b.all ty.check v; elem = ty; };
    enum = xs: t "enum" { check = v: b.elem v xs; };
    ints.between = lo: hi: t "int ${"$"}{toString lo}-${"$"}{toString hi}" { check = v: b.isInt v && v >= lo && v <= hi; };
    submodule = m: t "submodule" { sub = m.options; check = v: b.isAttrs v && checkOpts [ ] m.options v == [ ]; };
  };
  isOpt = o: b.isAttrs o && (o._type or null) == "option";
  # Problems of value v against an option tree: undeclared keys, type errors, missing required values.
  checkOpts = path: opts: v:
    (b.concatMap (k:
      let p = path ++ [ k ]; o = opts.${"$"}{k} or null; in
      if o == null then [ "undeclared: ${"$"}{b.concatStringsSep "." p}" ]
      else if isOpt o then checkValue p o.type v.${"$"}{k}
      else checkOpts p o v.${"$"}{k}) (b.attrNames v))
    ++ b.concatMap (k:
      let o = opts.${"$"}{k}; in
      if isOpt o && !(o ? default) && !(v ? ${"$"}{k}) then [ "missing: ${"$"}{b.concatStringsSep "." (path ++ [ k ])}" ] else [ ])
      (b.attrNames opts);
  checkValue = p: ty: v:
    let sub = ty.sub or (ty.elem.sub or null); in
    if sub != null && b.isList v then b.concatMap (checkOpts p sub) v
    else if sub != null && b.isAttrs v then checkOpts p sub v
    else if ty.check v then [ ] else [ "type: ${"$"}{b.concatStringsSep "." p} is not ${"$"}{ty.name}: ${"$"}{b.toJSON v}" ];
  # Fill declared defaults so module config functions see a complete config.borg.
  withDefaults = opts: v: b.mapAttrs (k: o:
    if isOpt o then (if v ? ${"$"}{k} then v.${"$"}{k} else o.default or null)
    else withDefaults o (v.${"$"}{k} or { })) opts;
  deepMerge = a: c: a // b.mapAttrs (k: x: if b.isAttrs x && b.isAttrs (a.${"$"}{k} or null) then deepMerge a.${"$"}{k} x else x) c;

  lib = {
    inherit types;
    mkOption = a: a // { _type = "option"; };
    mkEnableOption = d: { _type = "option"; type = types.bool; default = false; description = d; };
    mkIf = c: v: if c then v else { };
    mkMerge = xs: b.foldl' deepMerge { } xs;
    mkDefault = v: v;
    mkOverride = _: v: v;
    optional = c: x: if c then [ x ] else [ ];
    hasPrefix = pre: s: b.substring 0 (b.stringLength pre) s == pre;
    concatMapStrings = f: l: b.concatStringsSep "" (map f l);
    escapeShellArg = s: "'" + b.replaceStrings [ "'" ] [ "'\\''" ] s + "'";
  };
  pkgs = {
    getent = "/nix/store/00000000000000000000000000000000-getent";
    path = /nonexistent/nixpkgs; # outside the store: the nixpkgs pin stays off
    linuxKernel.packages.linux_rpi4 = "linux_rpi4";
  };

  node = b.fromJSON (b.readFile nodeFile);
  values = import (nixDir + "/lib/node-options.nix") node;
  nixFilesIn = dir: map (n: dir + "/${"$"}{n}")
    (b.filter (n: b.match ".*\\.nix" n != null) (b.attrNames (b.readDir dir)));
  servicesDir = nixDir + "/modules/services";
  moduleFiles = nixFilesIn (nixDir + "/modules")
    ++ (if b.pathExists servicesDir then nixFilesIn servicesDir else [ ]);
  call = config: f: import f { inherit config lib pkgs; };
  declared = b.foldl' deepMerge { } (map (f: (call (throw "options must not read config") f).options or { }) moduleFiles);
  borg = withDefaults declared.borg values;
  config = {
    inherit borg;
    services.openssh.ports = [ 22 ];
    nixpkgs.flake.source = null;
  };
  cfg = b.foldl' deepMerge { } (map (f: (call config f).config or { }) moduleFiles);
in
{
  problems = checkOpts [ "borg" ] declared.borg values;
  # Every module's config evaluates on these values (nothing throws).
  evaluated = b.deepSeq cfg true;
  modules = map b.baseNameOf moduleFiles;
  inherit values;
  out = {
    hostName = cfg.networking.hostName;
    tcp = cfg.networking.firewall.allowedTCPPorts;
    udp = cfg.networking.firewall.allowedUDPPorts;
    tcpRanges = cfg.networking.firewall.allowedTCPPortRanges;
    clusterRules = cfg.networking.firewall.extraInputRules;
    rolesFile = cfg.environment.etc."borg/roles".text;
    lan = cfg.systemd.network.networks."10-lan";
    hostKeys = cfg.services.openssh.hostKeys or null;
    allowUsers = cfg.services.openssh.settings.AllowUsers;
    mutableUsers = cfg.users.mutableUsers;
    sudoUsers = map (r: r.users) cfg.security.sudo.extraRules;
    activation = cfg.system.activationScripts.borg-secrets;
    tmpfiles = cfg.systemd.tmpfiles.rules;
    qemuGuest = cfg.services.qemuGuest.enable or false;
    cloudInit = cfg.services.cloud-init.enable or null;
    extlinux = cfg.boot.loader.generic-extlinux-compatible.enable or false;
    role = cfg.environment.etc."borg/role".text;
  };
}
`;

interface HarnessOut {
  problems: string[];
  evaluated: boolean;
  modules: string[];
  values: Record<string, any>;
  out: {
    hostName: string;
    tcp: number[];
    udp: number[];
    tcpRanges: { from: number; to: number }[];
    clusterRules: string;
    rolesFile: string;
    lan: { address: string[]; gateway: string[]; dns: string[]; DHCP: string; matchConfig: { Name: string } };
    hostKeys: { type: string; path: string }[] | null | Record<string, never>;
    allowUsers: string[] | Record<string, never>;
    mutableUsers: boolean;
    sudoUsers: string[][];
    activation: { deps: string[]; text: string };
    tmpfiles: string[];
    qemuGuest: boolean;
    cloudInit: boolean | null;
    extlinux: boolean;
    role: string;
  };
}

let tmp = "";
const nodeFile = (name: string, data: unknown): string => {
  const p = join(tmp, `${name}.json`);
  writeFileSync(p, JSON.stringify(data, null, 2));
  return p;
};
const runHarness = (file: string): HarnessOut =>
  evalJson(`(import ${nixStr(join(tmp, "harness.nix"))}) { nixDir = ${nixStr(nixDir)}; nodeFile = ${nixStr(file)}; }`) as HarnessOut;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "borg-nix-test-"));
  writeFileSync(join(tmp, "harness.nix"), harness);
});
afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe("nix/ parses", () => {
  const files = listNixFiles(nixDir);
  const rel = files.map((f) => relative(nixDir, f));

  it("finds the entry point, the four modules, the mapping, the flake and the images", () => {
    expect(files.length).toBeGreaterThan(0);
    for (const f of [
      "configuration.nix",
      "modules/base.nix",
      "modules/firewall.nix",
      "modules/proxmox-guest.nix",
      "modules/raspberry-pi.nix",
      "lib/node-options.nix",
      "flake.nix",
      "images/proxmox-template.nix",
      "images/edge-pi-sd.nix",
    ]) {
      expect(rel).toContain(f);
    }
  });

  it.each(rel)("%s parses with nix-instantiate --parse", (f) => {
    expect(() => parse(join(nixDir, f))).not.toThrow();
  });

  it("negative control: broken Nix fails to parse (syntax and undefined variable)", () => {
    const dir = mkdtempSync(join(tmpdir(), "borg-nix-bad-"));
    try {
      const bad1 = join(dir, "syntax.nix");
      writeFileSync(bad1, "{ lib, ... }: { x = cond ? 1 : 2; }\n"); // the seeds' ternary: not Nix
      expect(() => parse(bad1)).toThrow();
      const bad2 = join(dir, "unbound.nix");
      writeFileSync(bad2, "{ lib, ... }: { x = mkIf true 1; }\n"); // parse also binds variables
      expect(() => parse(bad2)).toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("nix/ avoids invalid and unsafe constructs", () => {
  const sources = listNixFiles(nixDir).map((f) => ({ f: relative(nixDir, f), text: readFileSync(f, "utf8") }));
  const invalid = [
    "services.mosquitto.port",
    "services.mosquitto.users",
    "services.mosquitto.allowAnonymous",
    "hardware.gpio.enable",
    "boot.loader.raspberryPi",
    "virtualisation.proxmox",
    "services.pve-cluster",
    "services.qemu-server",
    "pkgs.proxmox-ve",
    "services.nats.host",
    "jetstream.enable",
    "services.home-assistant.port",
    "<nixos-hardware",
  ];

  it.each(invalid)("no .nix file uses %s", (needle) => {
    const hits = sources.filter((s) => s.text.includes(needle)).map((s) => s.f);
    expect(hits).toEqual([]);
  });

  it("readFile is only used on node.json and committed data beside the reader (a secret read would land in the store)", () => {
    for (const { f, text } of sources) {
      for (const m of text.matchAll(/readFile\s+([^\s;)]+)/g)) {
        expect({ f, arg: m[1] }).toEqual({ f, arg: expect.stringMatching(/node\.json|nodeFile|^\.\/[a-z-]+\.json$/) });
      }
    }
  });

  it("the node configuration does not import the Proxmox image module (it blanks the host name)", () => {
    const nodeSide = sources.filter((s) => s.f === "configuration.nix" || s.f.startsWith("modules/"));
    const importing = nodeSide.filter((s) => /modulesPath\s*\+\s*"\/virtualisation\/proxmox-image\.nix"/.test(s.text));
    expect(importing.map((s) => s.f)).toEqual([]);
    // ...while the template image does (positive control for the pattern).
    const template = sources.find((s) => s.f === "images/proxmox-template.nix");
    expect(template?.text).toMatch(/modulesPath\s*\+\s*"\/virtualisation\/proxmox-image\.nix"/);
  });
});

describe("node.json -> borg.* mapping (nix/lib/node-options.nix)", () => {
  const mapping = join(nixDir, "lib", "node-options.nix");
  const evalMapping = (file: string) =>
    evalJson(`import ${nixStr(mapping)} (builtins.fromJSON (builtins.readFile ${nixStr(file)}))`) as Record<string, any>;

  it("maps a drone's node.json onto the options", () => {
    const v = evalMapping(nodeFile("drone", sampleNode));
    expect(v.hostName).toBe("drone-1");
    expect(v.role).toBe("drone");
    expect(v.securityLevel).toBe("dev");
    expect(v.domain).toBe("hive.lan");
    expect(v.network).toEqual({ address: "10.42.0.11", prefixLength: 24, gateway: "10.42.0.1", dns: ["10.42.0.1"] });
    expect(v.roles).toEqual(["ssh", "ceph-osd", "k3s-agent"]);
    expect(v.firewall).toEqual(sampleNode.firewall);
    expect(v.storage).toEqual({ osdDevice: "/dev/vdb" });
    expect(v.ssh.hostKeyFile).toBe("/var/lib/borg/secrets/ssh_host_ed25519_key");
    expect(v.capabilities).toEqual(["gpu"]);
    expect(v.peers).toEqual([{ name: "queen", role: "queen", address: "10.42.0.10" }]);
    expect(v.secrets.files.map((f: { name: string }) => f.name)).toEqual(["ssh_host_ed25519_key", "k3s-token"]);
    expect(v.proxmoxGuest).toEqual({ enable: true });
    expect(v.raspberryPi).toEqual({ enable: false });
    expect(v).not.toHaveProperty("futureField");
  });

  it("handles null storage and a null host key (edge Pi)", () => {
    const v = evalMapping(nodeFile("edge", edgeNode));
    expect(v.storage).toEqual({ osdDevice: null });
    expect(v.ssh.hostKeyFile).toBeNull();
    expect(v.raspberryPi).toEqual({ enable: true });
    expect(v.proxmoxGuest).toEqual({ enable: false });
    expect(v.peers).toEqual([]);
  });

  it("configuration.nix wires a bundle (nix/ + node.json) to the mapping and the modules", () => {
    // The bundle layout the program ships: nix/ copied verbatim, node.json next to configuration.nix.
    const bundle = join(tmp, "bundle");
    cpSync(nixDir, bundle, { recursive: true });
    writeFileSync(join(bundle, "node.json"), JSON.stringify(sampleNode));
    const top = evalJson(`
      let m = import ${nixStr(join(bundle, "configuration.nix"))} { lib = { optional = c: x: if c then [ x ] else [ ]; }; };
      in {
        imports = map builtins.baseNameOf m.imports;
        inherit (m) borg assertions;
        stateVersion = m.system.stateVersion;
      }`) as { imports: string[]; borg: Record<string, any>; assertions: unknown[]; stateVersion: string };
    expect(top.imports).toEqual(["base.nix", "firewall.nix", "proxmox-guest.nix", "raspberry-pi.nix"]);
    expect(top.borg).toEqual(evalMapping(nodeFile("drone-cfg", sampleNode)));
    expect(top.stateVersion).toBe("24.11");
    expect(top.assertions).toEqual([]);
  });

  it("rejects an unknown schemaVersion", () => {
    const err = evalError(
      `import ${nixStr(mapping)} (builtins.fromJSON (builtins.readFile ${nixStr(nodeFile("v2", { ...sampleNode, schemaVersion: 2 }))}))`,
    );
    expect(err).toMatch(/schemaVersion 2 is not supported/);
  });
});

describe("the mapping fits the modules' own option declarations (stub lib)", () => {
  it("an existing (generic) host keeps its own accounts and its operators' SSH logins", () => {
    const r = runHarness(nodeFile("generic-h", { ...sampleNode, platform: "generic", storage: null }));
    expect(r.problems).toEqual([]);
    expect(r.out.mutableUsers).toBe(true);
    expect(r.out.allowUsers).toEqual({}); // not restricted (mkIf false)
    expect(r.out.sudoUsers).toEqual([["borg"]]);
  });

  it("drone: every value is declared and well-typed; modules render the expected settings", () => {
    const r = runHarness(nodeFile("drone-h", sampleNode));
    expect(r.problems).toEqual([]);
    expect(r.evaluated).toBe(true);
    expect(r.modules).toEqual(["base.nix", "firewall.nix", "proxmox-guest.nix", "raspberry-pi.nix"]);
    const o = r.out;
    expect(o.hostName).toBe("drone-1");
    expect(o.role).toBe("drone");
    // lan rules open to the node network; SSH appended (NixOS de-duplicates)
    expect(o.tcp).toEqual([22, 4222, 22]);
    expect(o.udp).toEqual([]);
    expect(o.tcpRanges).toEqual([]);
    // cluster rules accept only the collective's addresses
    expect(o.clusterRules.trim().split("\n")).toEqual([
      'ip saddr { 10.42.0.10, 10.42.0.11 } tcp dport 6800-7300 accept comment "borg ceph-daemons"',
      'ip saddr { 10.42.0.10, 10.42.0.11 } tcp dport 10250 accept comment "borg kubelet"',
      'ip saddr { 10.42.0.10, 10.42.0.11 } udp dport 8472 accept comment "borg flannel-vxlan"',
    ]);
    expect(o.rolesFile).toBe("ssh\nceph-osd\nk3s-agent\n");
    expect(o.lan.address).toEqual(["10.42.0.11/24"]);
    expect(o.lan.gateway).toEqual(["10.42.0.1"]);
    expect(o.lan.DHCP).toBe("no");
    expect(o.hostKeys).toEqual([{ type: "ed25519", path: "/var/lib/borg/secrets/ssh_host_ed25519_key" }]);
    expect(o.allowUsers).toEqual(["borg"]);
    expect(o.mutableUsers).toBe(false);
    expect(o.sudoUsers).toEqual([["borg"]]);
    expect(o.activation.deps).toEqual(["users", "groups"]);
    expect(o.activation.text).toContain("chown 'root:root' '/var/lib/borg/secrets/k3s-token'");
    expect(o.activation.text).toContain("chmod 0400 '/var/lib/borg/secrets/ssh_host_ed25519_key'");
    expect(o.activation.text).not.toMatch(/cat |readFile/);
    expect(o.tmpfiles).toContain("d /var/lib/borg/secrets 0711 root root -");
    expect(o.tmpfiles).toContain("d /var/lib/borg 0711 root root -");
    expect(o.qemuGuest).toBe(true);
    expect(o.cloudInit).toBe(false);
    expect(o.extlinux).toBe(false);
  });

  it("edge Pi: no pinned host key keeps the default keys; Pi boot loader on", () => {
    const r = runHarness(nodeFile("edge-h", edgeNode));
    expect(r.problems).toEqual([]);
    expect(r.out.hostKeys).toEqual({}); // mkIf false: option left to its NixOS default
    expect(r.out.qemuGuest).toBe(false);
    expect(r.out.extlinux).toBe(true);
  });

  it("negative control: bad values are reported (regex, enum, port, secret file name)", () => {
    const bad = {
      ...sampleNode,
      name: "Drone_1",
      role: "worker",
      firewall: { rules: [{ name: "x", protocol: "sctp", from: 70000, to: 70000, scope: "lan" }], clusterSources: [] },
      secrets: { dir: "/var/lib/borg/secrets", files: [{ name: "../etc/shadow", owner: "root", group: "root" }] },
    };
    const r = runHarness(nodeFile("bad-h", bad));
    const joined = r.problems.join("\n");
    expect(joined).toMatch(/type: borg\.hostName/);
    expect(joined).toMatch(/type: borg\.role/);
    expect(joined).toMatch(/type: borg\.firewall\.rules\.from/);
    expect(joined).toMatch(/type: borg\.firewall\.rules\.protocol/);
    expect(joined).toMatch(/type: borg\.secrets\.files\.name/);
  });
});
