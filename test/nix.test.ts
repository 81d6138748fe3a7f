// Checks of the nix/ directory that need no nixpkgs (no network here, so the
// pinned nixpkgs is never fetched): every file parses, the node.json -> borg.*
// mapping evaluates, the values it produces fit the option declarations of the
// modules themselves, a node bundle holds exactly what a node builds from, and
// every build (nodes, template, SD image) uses the one pinned nixpkgs.
import { describe, it, expect, beforeAll, afterAll, inject } from "vitest";
import { execFileSync } from "node:child_process";
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { synth, type Synth } from "./helpers.js";
import { buildBundle, NIXOS_STATE_VERSION, readStaticFiles, writeBundle, type NodeJson } from "../components/bundle.js";

const root = resolve(fileURLToPath(new URL("..", import.meta.url)));
const nixDir = join(root, "nix");
// Evaluation only: no daemon, no build users, and a dummy store, so no user needs a
// writable /nix (tests run as root and as an unprivileged user).
const nixOpts = ["--option", "build-users-group", "", "--store", "dummy://"];

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

/** Every module configuration.nix imports: the base modules and whatever services/ holds. */
const ALL_MODULES = ["base.nix", "firewall.nix", "proxmox-guest.nix", "raspberry-pi.nix", ...readdirSync(join(nixDir, "modules", "services")).filter((f) => f.endsWith(".nix")).sort()];

const nixStr = (s: string) => JSON.stringify(s); // a JSON string is a valid Nix string literal here (no ${)
// The two lib functions configuration.nix itself uses.
const stubLib = "{ optional = c: x: if c then [ x ] else [ ]; mkDefault = v: v; }";

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
  # As the module system merges: attrsets recursively, lists (listOf) concatenated.
  deepMerge = a: c: a // b.mapAttrs (k: x:
    if b.isAttrs x && b.isAttrs (a.${"$"}{k} or null) then deepMerge a.${"$"}{k} x
    else if b.isList x && b.isList (a.${"$"}{k} or null) then a.${"$"}{k} ++ x
    else x) c;

  lib = {
    inherit types;
    mkOption = a: a // { _type = "option"; };
    mkEnableOption = d: { _type = "option"; type = types.bool; default = false; description = d; };
    mkIf = c: v: if c then v else { };
    mkMerge = xs: b.foldl' deepMerge { } xs;
    mkDefault = v: v;
    mkOverride = _: v: v;
    mkForce = v: v;
    optional = c: x: if c then [ x ] else [ ];
    hasPrefix = pre: s: b.substring 0 (b.stringLength pre) s == pre;
    concatMapStrings = f: l: b.concatStringsSep "" (map f l);
    escapeShellArg = s: "'" + b.replaceStrings [ "'" ] [ "'\\''" ] s + "'";
    getName = p: (b.parseDrvName p.name).name;
  };
  pkgs = {
    getent = "/nix/store/00000000000000000000000000000000-getent";
    mosquitto = "/nix/store/00000000000000000000000000000000-mosquitto";
    bash = "/nix/store/00000000000000000000000000000000-bash";
    coreutils = "/nix/store/00000000000000000000000000000000-coreutils";
    # A few of nixpkgs' Home Assistant integrations: enough for the committed stacks' lists.
    home-assistant.availableComponents = [ "default_config" "met" "esphome" "mqtt" "rpi_power" "zha" "shelly" ];
    k3s = { pname = "k3s"; version = "stub"; };
    curl = "/nix/store/00000000000000000000000000000000-curl";
    jq = "/nix/store/00000000000000000000000000000000-jq";
    path = /nonexistent/nixpkgs; # outside the store: the nixpkgs pin stays off
    linuxPackages = "linuxPackages";
    nats-server = "/nix/store/00000000000000000000000000000000-nats-server";
  } // b.listToAttrs (map (n: { name = n; value = "/nix/store/00000000000000000000000000000000-${"$"}{n}"; })
    [ "bash" "ceph" "coreutils" "diffutils" "findutils" "gnugrep" "util-linux" ]);

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
  consulModule = (call config (nixDir + "/modules/services/consul.nix")).config;
in
{
  problems = checkOpts [ "borg" ] declared.borg values;
  # Every module's config evaluates on these values (nothing throws).
  evaluated = b.deepSeq cfg true;
  modules = map b.baseNameOf moduleFiles;
  inherit values;
  out = {
    hostName = cfg.networking.hostName;
    ceph = cfg.services.ceph or null;
    units = cfg.systemd.services or { };
    # The merged lists above keep only the last module's (no list merge in this stub): the Ceph
    # module's own config, for its lists.
    cephOwn = (call config (servicesDir + "/ceph.nix")).config;
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
    # What the service modules hand to nixpkgs (null when the module is off on this node).
    mosquitto = cfg.services.mosquitto or null;
    homeAssistant = cfg.services.home-assistant or null;
    statusService = cfg.systemd.services.borg-collective-status or null;
    statusTimer = cfg.systemd.timers.borg-collective-status or null;
    assertions = map (a: { inherit (a) assertion message; }) (cfg.assertions or [ ]);
    tmpfiles = cfg.systemd.tmpfiles.rules;
    qemuGuest = cfg.services.qemuGuest.enable or false;
    cloudInit = cfg.services.cloud-init.enable or null;
    extlinux = cfg.boot.loader.generic-extlinux-compatible.enable or false;
    kernel = cfg.boot.kernelPackages or null;
    role = cfg.environment.etc."borg/role".text;
    # What the Consul module hands to nixpkgs (null when Consul is off on this node).
    consul = if consulModule ? services then {
      services = consulModule.services.consul;
      unit = consulModule.systemd.services.consul;
      env = consulModule.environment.etc."borg/consul.env".text;
      variables = consulModule.environment.variables;
      packages = consulModule.environment.systemPackages;
      failedAssertions = map (a: a.message) (b.filter (a: !a.assertion) consulModule.assertions);
      unfree = map consulModule.nixpkgs.config.allowUnfreePredicate [ { name = "consul-1.22.1"; } { name = "vault-1.19.0"; } ];
    } else null;
    nats = {
      service = cfg.services.nats or null;
      unit = cfg.systemd.services.nats or null;
      etc = b.listToAttrs (map (k: { name = k; value = cfg.environment.etc.${"$"}{k}.source or "text"; })
        (b.filter (k: b.substring 0 5 k == "nats/") (b.attrNames cfg.environment.etc)));
    };
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
    ceph: Record<string, any> | null;
    units: Record<string, any>;
    cephOwn: Record<string, any>;
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
    kernel: string | null;
    role: string;
    mosquitto: Record<string, any> | null;
    consul: {
      services: Record<string, any>;
      unit: Record<string, any>;
      env: string;
      variables: Record<string, string>;
      packages: string[];
      failedAssertions: string[];
      unfree: boolean[];
    } | null;
    nats: { service: any; unit: any; etc: Record<string, string> };
    homeAssistant: Record<string, any> | null;
    statusService: Record<string, any> | null;
    statusTimer: Record<string, any> | null;
    assertions: { assertion: boolean; message: string }[];
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
      "system.nix",
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

  it("configuration.nix wires a bundle (as the program writes it) to the mapping and the modules", () => {
    const bundle = join(tmp, "bundle");
    writeBundle(buildBundle(sampleNode as unknown as NodeJson), bundle);
    const top = evalJson(`
      let m = import ${nixStr(join(bundle, "configuration.nix"))} { lib = ${stubLib}; };
      in {
        imports = map builtins.baseNameOf m.imports;
        inherit (m) borg assertions;
        stateVersion = m.system.stateVersion;
      }`) as { imports: string[]; borg: Record<string, any>; assertions: unknown[]; stateVersion: string };
    expect(top.imports).toEqual(ALL_MODULES);
    // node.json as buildBundle renders it maps exactly as the raw sample does.
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
  it("every node of every committed stack: node.json as synth writes it fits every module, and every module evaluates", () => {
    const root = inject("synthRoot");
    for (const stack of ["dev", "staging", "prod"]) {
      const nodesDir = join(root, stack, "nodes");
      for (const node of readdirSync(nodesDir)) {
        const r = runHarness(join(nodesDir, node, "node.json"));
        expect(r.problems, `${stack}/${node}`).toEqual([]);
        expect(r.evaluated, `${stack}/${node}`).toBe(true);
      }
    }
  });

  it("mosquitto: the queen's broker gets exactly the listeners and bridges of nix/lib/mosquitto.nix; a drone runs none", () => {
    const root = inject("synthRoot");
    const queenFile = join(root, "prod", "nodes", "queen", "node.json");
    const queen = runHarness(queenFile).out.mosquitto!;
    const expected = evalJson(`(import ${nixStr(join(nixDir, "lib", "mosquitto.nix"))}).config (builtins.fromJSON (builtins.readFile ${nixStr(queenFile)})).services.mqtt`) as Record<string, any>;
    expect(queen.enable).toBe(true);
    expect(queen.listeners).toEqual(expected.listeners);
    expect(queen.listeners.map((l: any) => l.port)).toEqual([8883, 1883, 8884]);
    const pi = runHarness(join(root, "prod", "nodes", "edge-pi", "node.json")).out.mosquitto!;
    expect(Object.keys(pi.bridges)).toEqual(["bridge-edge-pi"]);
    expect(runHarness(join(root, "prod", "nodes", "drone-1", "node.json")).out.mosquitto).toBeNull(); // mkIf false
  });

  it("consul: every node runs an agent with exactly nix/lib/consul.nix's config, the secret file only by path", () => {
    const root = inject("synthRoot");
    for (const [stack, node] of [["prod", "queen"], ["prod", "drone-3"], ["prod", "edge-pi"], ["dev", "queen"]] as const) {
      const file = join(root, stack, "nodes", node, "node.json");
      const c = runHarness(file).out.consul!;
      const settings = `(builtins.fromJSON (builtins.readFile ${nixStr(file)})).services.consul`;
      const lib = `(import ${nixStr(join(nixDir, "lib", "consul.nix"))})`;
      expect(c.services.extraConfig, `${stack}/${node}`).toEqual(evalJson(`${lib}.extraConfig ${settings}`));
      expect(c.env).toBe(evalJson(`${lib}.envText ${settings}`));
      expect(c.services).toMatchObject({ enable: true, extraConfigFiles: ["/var/lib/borg/secrets/consul-secrets.json"] });
      // interface names differ per machine (ens18, end0): the module's interface.* stay unset.
      expect(c.services.interface).toBeUndefined();
      expect(c.failedAssertions).toEqual([]);
      expect(c.unit).toMatchObject({ after: ["network-online.target"], wants: ["network-online.target"] });
      expect(c.unfree).toEqual([true, false]); // consul is allowed as unfree, nothing else
      expect(c.packages).toEqual(["/nix/store/00000000000000000000000000000000-curl", "/nix/store/00000000000000000000000000000000-jq"]);
    }
    const queen = runHarness(join(root, "prod", "nodes", "queen", "node.json")).out.consul!;
    expect(queen.services.webUi).toBe(true);
    expect(queen.variables).toEqual({ CONSUL_HTTP_ADDR: "https://127.0.0.1:8501", CONSUL_CACERT: "/var/lib/borg/secrets/consul-ca.pem" });
    expect(runHarness(join(root, "prod", "nodes", "drone-3", "node.json")).out.consul!.services.webUi).toBe(false);
    expect(runHarness(join(root, "dev", "nodes", "queen", "node.json")).out.consul!.variables).toEqual({ CONSUL_HTTP_ADDR: "http://127.0.0.1:8500" });
  });

  it("consul: the module's assertions catch ACLs off, default allow, no gossip encryption, a client with bootstrapExpect, https without TLS", () => {
    const root = inject("synthRoot");
    const queen = JSON.parse(readFileSync(join(root, "prod", "nodes", "queen", "node.json"), "utf8"));
    const variant = (change: (c: Record<string, any>) => void) => {
      const copy = structuredClone(queen);
      change(copy.services.consul);
      return runHarness(nodeFile("consul-variant", copy)).out.consul!.failedAssertions;
    };
    expect(variant((c) => (c.acl.defaultPolicy = "allow"))).toEqual(["borg.services.consul: ACLs must be enabled with default policy deny."]);
    expect(variant((c) => (c.acl.enabled = false))).toEqual(["borg.services.consul: ACLs must be enabled with default policy deny."]);
    expect(variant((c) => (c.gossip.encrypt = false))).toEqual(["borg.services.consul: gossip encryption must be on."]);
    expect(variant((c) => (c.server = false))).toEqual(["borg.services.consul: bootstrapExpect is set on servers and only there."]);
    expect(variant((c) => (c.tls = null))).toEqual(["borg.services.consul: the API is https exactly when TLS is configured."]);
    // And a value of the wrong type never reaches the module: the option declarations refuse it.
    const bad = structuredClone(queen);
    bad.services.consul.address = "queen.hive.lan";
    bad.services.consul.api.scheme = "ftp";
    expect(runHarness(nodeFile("consul-bad", bad)).problems).toEqual([
      expect.stringMatching(/^type: borg\.services\.consul\.address is not strMatching/),
      'type: borg.services.consul.api.scheme is not enum: "ftp"',
    ]);
  });

  it("NATS (prod's node.json as synth writes it): every field declared and typed; the unit runs the rendered config with its credentials", async () => {
    const prod = await synth("prod");
    const run = (name: string) => runHarness(join(prod.outDir, "nodes", name, "node.json"));
    const nodeNats = (name: string) => JSON.parse(readFileSync(join(prod.outDir, "nodes", name, "node.json"), "utf8")).services.nats;
    const queen = run("queen");
    expect(queen.problems).toEqual([]);
    expect(queen.evaluated).toBe(true);
    expect(queen.values.services.nats).toEqual(nodeNats("queen"));
    const unit = queen.out.nats.unit;
    expect(unit.serviceConfig.ExecStart).toBe("/nix/store/00000000000000000000000000000000-nats-server/bin/nats-server -c /etc/nats/nats.conf");
    expect(unit.serviceConfig.LoadCredential).toEqual(
      ["nats-auth.conf", "nats-links.conf", "nats-ca.pem", "nats-cert.pem", "nats-key.pem"].map((f) => `${f}:/var/lib/borg/secrets/${f}`),
    );
    // The rendered config restarts the unit when it changes; it reads its secrets only through includes.
    expect(unit.restartTriggers[0]).toMatch(/^# nats-server configuration[^\n]*\ninclude "\.\/nats-auth\.conf"\ninclude "\.\/nats-links\.conf"\n/);
    expect(queen.out.nats.etc).toEqual({
      "nats/nats.conf": "text",
      "nats/nats-auth.conf": "/run/credentials/nats.service/nats-auth.conf",
      "nats/nats-links.conf": "/run/credentials/nats.service/nats-links.conf",
    });
    expect(queen.out.nats.service).toMatchObject({ enable: true, serverName: "queen", jetstream: true, validateConfig: false, dataDir: "/var/lib/nats" });

    // A cluster member outside the peer set: JetStream forced off (nixpkgs#531245 writes `jetstream: {}` otherwise).
    const d3 = run("drone-3");
    expect(d3.problems).toEqual([]);
    expect(d3.out.nats.service).toMatchObject({ jetstream: false, settings: { jetstream: false } });
    const pi = run("edge-pi");
    expect(pi.problems).toEqual([]);
    expect(pi.out.nats.unit.serviceConfig.LoadCredential).toContain("nats-links.conf:/var/lib/borg/secrets/nats-links.conf");

    // Negative control: a field the module does not declare, and a wrong type, are reported.
    const raw = JSON.parse(readFileSync(join(prod.outDir, "nodes", "queen", "node.json"), "utf8"));
    raw.services.nats.bogus = 1;
    raw.services.nats.ports.client = "4222";
    const bad = runHarness(nodeFile("nats-bad", raw));
    expect(bad.problems).toEqual(expect.arrayContaining(["undeclared: borg.services.nats.bogus", expect.stringMatching(/^type: borg\.services\.nats\.ports\.client/)]));
  });

  it("home-assistant: the Pi's HA gets exactly nix/lib/home-assistant.nix's config, secrets.yaml by link, the port from the table, the status timer", () => {
    const root = inject("synthRoot");
    const piFile = join(root, "prod", "nodes", "edge-pi", "node.json");
    const r = runHarness(piFile);
    expect(r.problems).toEqual([]);
    const ha = r.out.homeAssistant!;
    const lib = nixStr(join(nixDir, "lib", "home-assistant.nix"));
    const settings = `(builtins.fromJSON (builtins.readFile ${nixStr(piFile)})).services.homeAssistant`;
    const expected = evalJson(`let h = import ${lib}; s = ${settings}; in { config = h.config s; env = h.statusEnvironment "edge-pi" s.collectiveStatus; creds = h.statusCredentials s.collectiveStatus; }`) as Record<string, any>;
    expect(ha).toEqual({ enable: true, extraComponents: ["default_config", "met", "esphome", "mqtt", "rpi_power"], config: expected.config, configWritable: false, openFirewall: false });
    expect(ha.config.http).toMatchObject({ server_host: ["127.0.0.1", "10.42.0.50"], ssl_certificate: "/var/lib/borg/secrets/hass-tls.crt", ssl_key: "/var/lib/borg/secrets/hass-tls.key" });
    expect(ha.config.default_config).toEqual({});
    expect(ha.config.mqtt.sensor[0]).toMatchObject({ state_topic: "borg/collective/status", expire_after: 180, value_template: "{{ value_json.state }}" });
    // nothing secret in the configuration: the location (when set) is `!secret`, the rest are paths
    expect(JSON.stringify(ha.config)).not.toMatch(/password|BEGIN/i);
    expect(r.out.tmpfiles).toContain("L+ /var/lib/hass/secrets.yaml - - - - /var/lib/borg/secrets/hass-secrets.yaml");
    expect(r.out.tcp).toContain(8123); // the ports table's rule (firewall.nix), not openFirewall
    expect(r.out.assertions.filter((a) => !a.assertion)).toEqual([]);
    const status = r.out.statusService!;
    expect(status.environment).toEqual(expected.env);
    expect(status.serviceConfig).toMatchObject({ Type: "oneshot", DynamicUser: true, LoadCredential: expected.creds });
    expect(status.serviceConfig.ExecStart).toMatch(/^\/nix\/store\/0+-bash\/bin\/bash \/nix\/store\/[a-z0-9]{32}-collective-status\.sh$/);
    expect(status.path).toContain("/nix/store/00000000000000000000000000000000-mosquitto");
    expect(r.out.statusTimer).toEqual({ wantedBy: ["timers.target"], timerConfig: { OnBootSec: "1min", OnUnitActiveSec: "60s" } });
    // nowhere else
    for (const node of ["queen", "drone-1"]) expect(runHarness(join(root, "prod", "nodes", node, "node.json")).out.homeAssistant, node).toBeNull();
  });

  it("home-assistant: an integration nixpkgs does not know fails the build with the config path; a location becomes `!secret`", () => {
    const pi = JSON.parse(readFileSync(join(inject("synthRoot"), "prod", "nodes", "edge-pi", "node.json"), "utf8"));
    pi.services.homeAssistant.extraComponents.push("not_an_integration");
    pi.services.homeAssistant.location = true;
    const r = runHarness(nodeFile("ha-unknown", pi));
    expect(r.problems).toEqual([]);
    expect(r.out.assertions.filter((a) => !a.assertion).map((a) => a.message)).toEqual([
      "borg: borg:services.homeAssistant.extraComponents: not_an_integration is not a Home Assistant integration of this nixpkgs (pkgs.home-assistant.availableComponents)",
    ]);
    expect(r.out.homeAssistant!.config.homeassistant).toMatchObject({ latitude: "!secret latitude", longitude: "!secret longitude", elevation: "!secret elevation" });
    // a bad value in node.json is a type problem of the module's own options
    pi.services.homeAssistant.http.serverHosts = ["0.0.0.0/0"];
    expect(runHarness(nodeFile("ha-bad", pi)).problems.join("\n")).toMatch(/type: borg\.services\.homeAssistant\.http is not nullOr submodule: .*0\.0\.0\.0\/0/);
  });

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
    expect(r.modules).toEqual(ALL_MODULES);
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
    // Mainline, cached by Hydra: 26.05 deprecates linux_rpi4 and no longer caches it.
    expect(r.out.kernel).toBe("linuxPackages");
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

// --- the nixpkgs pin -------------------------------------------------------------------------

interface Pin {
  release: string;
  rev: string;
  narHash: string;
}

/**
 * Why the pin, the flake lock and the flake disagree, one line each: nodes build from pin.json,
 * the template and the SD image from flake.nix + flake.lock, and all must be the same nixpkgs.
 */
function pinProblems(pin: Pin, lock: any, flakeText: string): string[] {
  const problems: string[] = [];
  if (!/^\d\d\.(05|11)$/.test(pin.release)) problems.push(`pin.json release ${JSON.stringify(pin.release)} is not a NixOS release (YY.05 or YY.11)`);
  if (!/^[0-9a-f]{40}$/.test(pin.rev)) problems.push(`pin.json rev ${JSON.stringify(pin.rev)} is not a full commit id`);
  // SRI sha256: what flake locks record and what fetchTarball's sha256 accepts.
  if (!/^sha256-[A-Za-z0-9+/]{43}=$/.test(pin.narHash)) problems.push(`pin.json narHash ${JSON.stringify(pin.narHash)} is not an SRI sha256`);
  const branch = `nixos-${pin.release}`;
  const nodeName = lock?.nodes?.[lock?.root]?.inputs?.nixpkgs;
  const node = typeof nodeName === "string" ? lock.nodes[nodeName] : undefined;
  if (!node) problems.push("flake.lock has no nixpkgs input");
  else {
    const { locked = {}, original = {} } = node;
    if (locked.type !== "github" || locked.owner !== "NixOS" || locked.repo !== "nixpkgs") problems.push("flake.lock nixpkgs is not github:NixOS/nixpkgs");
    if (locked.rev !== pin.rev) problems.push(`flake.lock nixpkgs rev ${locked.rev} differs from pin.json ${pin.rev}`);
    if (locked.narHash !== pin.narHash) problems.push(`flake.lock nixpkgs narHash ${locked.narHash} differs from pin.json ${pin.narHash}`);
    if (original.ref !== branch) problems.push(`flake.lock nixpkgs follows ${original.ref}, pin.json is on ${branch}`);
  }
  const urls = [...flakeText.matchAll(/inputs\.nixpkgs\.url\s*=\s*"([^"]*)"/g)].map((m) => m[1]);
  if (urls.length !== 1 || urls[0] !== `github:NixOS/nixpkgs/${branch}`) {
    problems.push(`flake.nix nixpkgs input ${JSON.stringify(urls)} is not github:NixOS/nixpkgs/${branch}`);
  }
  return problems;
}

describe("nixpkgs pin (nix/pin.json = nix/flake.lock = what nodes build)", () => {
  const pin = JSON.parse(readFileSync(join(nixDir, "pin.json"), "utf8")) as Pin;
  const lock = JSON.parse(readFileSync(join(nixDir, "flake.lock"), "utf8"));
  const flakeText = readFileSync(join(nixDir, "flake.nix"), "utf8");
  const githubUrl = (rev: string) => `https://github.com/NixOS/nixpkgs/archive/${rev}.tar.gz`;

  it("pin.json, flake.lock and flake.nix name one nixpkgs revision of one release", () => {
    expect(pinProblems(pin, lock, flakeText)).toEqual([]);
    expect(Object.keys(pin).sort()).toEqual(["narHash", "release", "rev"]);
  });

  it("negative controls: each disagreement is reported", () => {
    const other = { ...pin, rev: "0".repeat(40) };
    expect(pinProblems(other, lock, flakeText).join("\n")).toMatch(/flake\.lock nixpkgs rev .* differs from pin\.json/);
    expect(pinProblems({ ...pin, narHash: `sha256-${"A".repeat(43)}=` }, lock, flakeText).join("\n")).toMatch(/narHash .* differs/);
    expect(pinProblems({ ...pin, narHash: "0dcslr2lwfaclfl4pmbwb3yw27bnvwlqiif394d3d66vyd163dvy" }, lock, flakeText).join("\n")).toMatch(/not an SRI sha256/);
    expect(pinProblems({ ...pin, rev: "nixos-26.05" }, lock, flakeText).join("\n")).toMatch(/not a full commit id/);
    expect(pinProblems({ ...pin, release: "unstable" }, lock, flakeText).join("\n")).toMatch(/not a NixOS release/);
    const moved = structuredClone(lock);
    moved.nodes.nixpkgs.original.ref = "nixos-unstable";
    expect(pinProblems(pin, moved, flakeText).join("\n")).toMatch(/follows nixos-unstable/);
    const fork = structuredClone(lock);
    fork.nodes.nixpkgs.locked.owner = "someone";
    expect(pinProblems(pin, fork, flakeText).join("\n")).toMatch(/not github:NixOS\/nixpkgs/);
    expect(pinProblems(pin, lock, flakeText.replace(/nixos-\d\d\.\d\d/, "nixos-24.11")).join("\n")).toMatch(/flake\.nix nixpkgs input/);
  });

  it("system.nix fetches exactly the pinned tarball and builds the bundle's configuration.nix with it", () => {
    const bundle = join(tmp, "pin-bundle");
    writeBundle(buildBundle(sampleNode as unknown as NodeJson), bundle);
    // A stand-in nixpkgs: its nixos/default.nix reports what it was asked to build.
    const fake = join(tmp, "fake-nixpkgs");
    mkdirSync(join(fake, "nixos"), { recursive: true });
    writeFileSync(
      join(fake, "nixos", "default.nix"),
      `{ configuration }: let m = import configuration { lib = ${stubLib}; }; in {
        system = { configuration = toString configuration; imports = map builtins.baseNameOf m.imports; stateVersion = m.system.stateVersion; };
      }\n`,
    );
    const expected = { url: githubUrl(pin.rev), sha256: pin.narHash };
    const built = (systemNix: string) =>
      evalJson(`
        let
          fetchTarball = args:
            if args == builtins.fromJSON ${nixStr(JSON.stringify(expected))} then ${nixStr(fake)}
            else throw "unexpected fetchTarball \${builtins.toJSON args}";
        in (scopedImport { inherit fetchTarball; builtins = builtins // { inherit fetchTarball; }; } ${nixStr(systemNix)}).system`);
    expect(built(join(bundle, "system.nix"))).toEqual({
      configuration: join(bundle, "configuration.nix"),
      imports: ALL_MODULES,
      stateVersion: NIXOS_STATE_VERSION,
    });
    // Negative control: a system.nix that fetched anything else (here: a branch, not the pinned rev) fails.
    const drifting = join(bundle, "system-branch.nix");
    writeFileSync(drifting, readFileSync(join(bundle, "system.nix"), "utf8").replace("${pin.rev}", "nixos-${pin.release}"));
    expect(() => built(drifting)).toThrow(/unexpected fetchTarball/);
  });

  it("fetchTarball verifies the pin's narHash (SRI, as in flake.lock) against the unpacked tree", () => {
    // A local tarball shaped like GitHub's archive (one top-level directory), fetched into a
    // throw-away store: works unprivileged, touches neither /nix nor the network.
    const dir = mkdtempSync(join(tmpdir(), "borg-nix-fetch-"));
    try {
      const rev = "1".repeat(40);
      const tree = join(dir, "src", `nixpkgs-${rev}`);
      mkdirSync(join(tree, "nixos"), { recursive: true });
      writeFileSync(join(tree, "nixos", "default.nix"), `{ configuration }: { system = "fetched:\${toString configuration}"; }\n`);
      execFileSync("tar", ["-C", join(dir, "src"), "-czf", join(dir, `${rev}.tar.gz`), `nixpkgs-${rev}`]);
      const narHash = execFileSync("nix", ["--extra-experimental-features", "nix-command", ...nixOpts, "hash", "path", "--type", "sha256", tree], {
        encoding: "utf8",
      }).trim();
      expect(narHash).toMatch(/^sha256-[A-Za-z0-9+/]{43}=$/);
      const fetchWith = (hash: string) => {
        const bundle = join(dir, `bundle-${hash.slice(7, 12).replace(/[+/]/g, "_")}`);
        writeBundle(buildBundle(sampleNode as unknown as NodeJson), bundle);
        writeFileSync(join(bundle, "pin.json"), JSON.stringify({ release: pin.release, rev, narHash: hash }));
        // Only the URL is redirected to the local file; the hash check is Nix's own.
        const expr = `
          let
            fetchTarball = args:
              if args.url == ${nixStr(githubUrl(rev))}
              then builtins.fetchTarball (args // { url = ${nixStr(`file://${dir}/${rev}.tar.gz`)}; })
              else throw "unexpected url \${args.url}";
          in (scopedImport { inherit fetchTarball; builtins = builtins // { inherit fetchTarball; }; } ${nixStr(join(bundle, "system.nix"))}).system`;
        const store = ["--option", "build-users-group", "", "--store", `local?root=${join(dir, "store")}`];
        return execFileSync("nix-instantiate", [...store, "--eval", "--json", "-E", expr], {
          stdio: "pipe",
          encoding: "utf8",
          env: { ...process.env, HOME: dir, XDG_CACHE_HOME: join(dir, "cache") },
        });
      };
      expect(JSON.parse(fetchWith(narHash))).toMatch(/^fetched:.*\/configuration\.nix$/);
      // Negative control: one changed character of the hash and the tarball is rejected.
      const wrong = narHash.startsWith("sha256-A") ? narHash.replace("sha256-A", "sha256-B") : narHash.replace(/^sha256-./, "sha256-A");
      expect(() => fetchWith(wrong)).toThrow(/hash mismatch/);
    } finally {
      execFileSync("chmod", ["-R", "u+w", dir]); // store paths are read-only
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("nothing a node builds looks up <…> paths (NIX_PATH and channels play no part)", () => {
    const files = [...readStaticFiles(root).keys()].filter((f) => f.endsWith(".nix"));
    expect(files).toContain("system.nix");
    const lookups = files.filter((f) => /__findFile|__nixPath/.test(execFileSync("nix-instantiate", [...nixOpts, "--parse", join(nixDir, f)], { encoding: "utf8" })));
    expect(lookups).toEqual([]);
    // Negative control: a lookup path is visible in the parsed form.
    const bad = join(tmp, "lookup.nix");
    writeFileSync(bad, "import <nixpkgs/nixos> { }\n");
    expect(execFileSync("nix-instantiate", [...nixOpts, "--parse", bad], { encoding: "utf8" })).toMatch(/__findFile/);
  });

  it("the template and the SD image install with the stateVersion every node keeps", () => {
    for (const image of ["images/proxmox-template.nix", "images/edge-pi-sd.nix"]) {
      const values = [...readFileSync(join(nixDir, image), "utf8").matchAll(/system\.stateVersion\s*=\s*"([^"]*)"/g)].map((m) => m[1]);
      expect({ image, values }).toEqual({ image, values: [NIXOS_STATE_VERSION] });
    }
  });
});

// --- what a node bundle carries ------------------------------------------------------------

describe("node bundle: exactly what a node builds from", () => {
  const node = sampleNode as unknown as NodeJson;

  it("ships configuration.nix, system.nix, pin.json, lib/, modules/, node-scripts/ and node.json; no flake, no images", () => {
    const files = [...buildBundle(node).files.keys()].sort();
    expect(files.filter((f) => !/^(lib|modules|node-scripts)\//.test(f))).toEqual(["MANIFEST", "configuration.nix", "node.json", "pin.json", "system.nix"]);
    expect(files).toContain("modules/base.nix");
    expect(files).toContain("lib/node-options.nix");
    expect(files).toContain("node-scripts/activate.sh");
    // Every .nix a node evaluates is in the bundle: the program's bundle builds the same
    // configuration as the source tree (checked above through system.nix).
    const shipped = new Set(files);
    for (const f of listNixFiles(nixDir).map((p) => relative(nixDir, p))) {
      if (f.startsWith("images/") || f === "flake.nix") expect(shipped.has(f)).toBe(false);
      else expect({ f, shipped: shipped.has(f) }).toEqual({ f, shipped: true });
    }
  });

  it("editing an image or the flake leaves every bundle hash alone; modules, lib, the pin and scripts change it", () => {
    const dir = mkdtempSync(join(tmpdir(), "borg-bundle-hash-"));
    try {
      const copyRoot = (name: string) => {
        const r = join(dir, name);
        cpSync(nixDir, join(r, "nix"), { recursive: true });
        cpSync(join(root, "node-scripts"), join(r, "node-scripts"), { recursive: true });
        return r;
      };
      const hashOf = (r: string) => buildBundle(node, readStaticFiles(r)).hash;
      const base = hashOf(copyRoot("base"));
      expect(hashOf(root)).toBe(base); // the copy is faithful
      const variant = (name: string, edit: (nix: string, r: string) => void) => {
        const r = copyRoot(name);
        edit(join(r, "nix"), r);
        return hashOf(r);
      };
      const untouched = {
        image: variant("image", (n) => appendFileSync(join(n, "images", "edge-pi-sd.nix"), "# new SD image tweak\n")),
        operatorKeys: variant("keys", (n) => writeFileSync(join(n, "images", "operator-keys.nix"), '[ "ssh-ed25519 AAAA op" ]\n')),
        flake: variant("flake", (n) => appendFileSync(join(n, "flake.nix"), "# flake tweak\n")),
        flakeLock: variant("lock", (n) => appendFileSync(join(n, "flake.lock"), "\n")),
        strayTopLevel: variant("stray", (n) => writeFileSync(join(n, "notes.md"), "scratch\n")),
      };
      expect(untouched).toEqual(Object.fromEntries(Object.keys(untouched).map((k) => [k, base])));
      const changed = {
        module: variant("module", (n) => appendFileSync(join(n, "modules", "base.nix"), "# changed\n")),
        serviceModule: variant("service", (n) => {
          mkdirSync(join(n, "modules", "services"), { recursive: true });
          writeFileSync(join(n, "modules", "services", "zz-test-only.nix"), "{ ... }: { }\n");
        }),
        lib: variant("lib", (n) => appendFileSync(join(n, "lib", "node-options.nix"), "# changed\n")),
        pin: variant("pin", (n) => writeFileSync(join(n, "pin.json"), readFileSync(join(n, "pin.json"), "utf8").replace(/"rev": "[0-9a-f]/, '"rev": "f'))),
        systemNix: variant("system", (n) => appendFileSync(join(n, "system.nix"), "# changed\n")),
        configuration: variant("configuration", (n) => appendFileSync(join(n, "configuration.nix"), "# changed\n")),
        script: variant("script", (_n, r) => appendFileSync(join(r, "node-scripts", "confirm.sh"), "# changed\n")),
      };
      for (const [what, hash] of Object.entries(changed)) expect({ what, differs: hash !== base }).toEqual({ what, differs: true });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the Ceph module on the program's own node.json (nix/modules/services/ceph.nix, stub lib)", () => {
  // Every services.ceph option the module may set, as declared by nixpkgs' ceph module
  // (nixos/modules/services/network-filesystems/ceph.nix, newest text read: 37dc645e).
  const NIXPKGS_CEPH_OPTIONS = [
    "enable", "extraConfig",
    ...["fsid", "clusterName", "mgrModulePath", "monInitialMembers", "monHost", "maxOpenFiles", "authClusterRequired",
      "authServiceRequired", "authClientRequired", "publicNetwork", "clusterNetwork", "rgwMimeTypesFile"].map((o) => `global.${o}`),
    ...["mgr", "mon", "osd", "mds"].flatMap((d) => ["enable", "daemons", "package", "extraConfig"].map((o) => `${d}.${o}`)),
    "rgw.enable", "rgw.daemons", "rgw.package", "client.enable", "client.extraConfig",
  ];
  const leaves = (value: Record<string, any>, prefix = ""): string[] =>
    Object.entries(value).flatMap(([k, v]) =>
      v && typeof v === "object" && !Array.isArray(v) && !["extraConfig"].includes(k) ? leaves(v, `${prefix}${k}.`) : [`${prefix}${k}`],
    );
  let dev: Synth;
  beforeAll(async () => {
    dev = await synth("dev");
  });
  /** The node's real node.json (as synth wrote it), optionally edited. */
  const nodeOf = (name: string, edit: (n: any) => void = () => {}) => {
    const node = JSON.parse(readFileSync(join(dev.outDir, "nodes", name, "node.json"), "utf8"));
    edit(node);
    return nodeFile(`ceph-${name}-${Math.random().toString(36).slice(2)}`, node);
  };

  it("queen: monitor and manager with their oneshots, cephx everywhere, the admin keyring for `sudo ceph`", () => {
    const r = runHarness(nodeOf("queen"));
    expect(r.problems).toEqual([]);
    expect(r.evaluated).toBe(true);
    const ceph = r.out.ceph!;
    expect(ceph.global).toEqual({
      // Ceph's "unset": the Pulumi-generated fsid exists only after node.json; it reaches the monmap.
      fsid: "00000000-0000-0000-0000-000000000000",
      monInitialMembers: "queen",
      monHost: "[v2:10.42.2.10:3300,v1:10.42.2.10:6789]",
      publicNetwork: "10.42.2.0/24",
      authClusterRequired: "cephx",
      authServiceRequired: "cephx",
      authClientRequired: "cephx",
    });
    expect(ceph.extraConfig).toMatchObject({ "osd pool default size": "1", "osd crush chooseleaf type": "0", "mon allow pool size one": "true", "auth allow insecure global id reclaim": "false" });
    expect(ceph.mon).toEqual({ enable: true, daemons: ["queen"] });
    expect(ceph.mgr).toEqual({ enable: true, daemons: ["queen"] });
    expect(ceph.osd).toMatchObject({ enable: false, daemons: [] });
    for (const option of leaves(ceph)) expect(NIXPKGS_CEPH_OPTIONS, option).toContain(option);

    const mon = r.out.units["borg-ceph-mon-queen"];
    expect(mon).toMatchObject({ before: ["ceph-mon-queen.service"], requiredBy: ["ceph-mon-queen.service"], serviceConfig: { Type: "oneshot", RemainAfterExit: true } });
    expect(mon.serviceConfig.ExecStart).toMatch(/^'\/nix\/store\/[0-9a-z]{32}-bash\/bin\/bash' '\/nix\/store\/[0-9a-z]{32}-borg-node-scripts\/services\/ceph-mon.sh' 'queen' 'queen' 'queen=\[v2:10\.42\.2\.10:3300,v1:10\.42\.2\.10:6789\]'$/);
    expect(r.out.units["borg-ceph-mgr-queen"].serviceConfig.ExecStart).toMatch(/ceph-mgr.sh' 'queen' 'queen'$/);
    expect(r.out.units).not.toHaveProperty("borg-ceph-osd-0");
    expect(r.out.cephOwn.systemd.tmpfiles.rules).toEqual(["L+ /etc/ceph/ceph.client.admin.keyring - - - - /var/lib/borg/secrets/ceph-admin-keyring"]);
    expect(r.out.cephOwn.environment.systemPackages).toEqual(["/nix/store/00000000000000000000000000000000-ceph", "/nix/store/00000000000000000000000000000000-jq"]);
  });

  it("drone: only its OSD, on /dev/vdb with its pinned id, the monmap members for the offline mkfs", () => {
    const r = runHarness(nodeOf("drone-1"));
    expect(r.problems).toEqual([]);
    expect(r.out.ceph!.osd).toEqual({ enable: true, daemons: ["0"], extraConfig: {} });
    expect(r.out.ceph!.mon.enable).toBe(false);
    const osd = r.out.units["borg-ceph-osd-0"];
    expect(osd.requiredBy).toEqual(["ceph-osd-0.service"]);
    expect(osd.serviceConfig.ExecStart).toMatch(/ceph-osd.sh' 'drone-1' '0' '\/dev\/vdb' 'queen=\[v2:10\.42\.2\.10:3300,v1:10\.42\.2\.10:6789\]'$/);
    expect(Object.keys(r.out.units).filter((u) => u.startsWith("borg-ceph"))).toEqual(["borg-ceph-osd-0"]);
    expect(r.out.cephOwn.systemd.tmpfiles.rules).toEqual([]); // only the admin host holds client.admin
  });

  it("a node without Ceph gets nothing", () => {
    const r = runHarness(nodeOf("drone-1", (n) => (n.services.ceph.enable = false)));
    expect(r.problems).toEqual([]);
    expect(r.out.ceph).toBeNull();
    expect(Object.keys(r.out.units).filter((u) => u.startsWith("borg-ceph"))).toEqual([]);
  });

  it("negative controls: bad settings are type errors, unknown ones undeclared", () => {
    const bad = runHarness(nodeOf("queen", (n) => {
      n.services.ceph.failureDomain = "rack";
      n.services.ceph.auth.cluster = "kerberos";
      n.services.ceph.monitors[0].address = "queen.lan";
      n.services.ceph.keyring = "/etc/ceph/x";
    }));
    expect(bad.problems.join("\n")).toMatch(/type: borg\.services\.ceph\.failureDomain/);
    expect(bad.problems.join("\n")).toMatch(/type: borg\.services\.ceph\.auth\.cluster/);
    expect(bad.problems.join("\n")).toMatch(/type: borg\.services\.ceph\.monitors\.address/);
    expect(bad.problems.join("\n")).toMatch(/undeclared: borg\.services\.ceph\.keyring/);
  });
});
