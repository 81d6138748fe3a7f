# Ceph on a borg node, driven by node.json's services.ceph (components/services/ceph.ts):
# ceph.conf from nix/lib/ceph.nix through nixpkgs' services.ceph options, the nixpkgs
# daemons for the roles this node runs, and before each daemon the idempotent oneshot
# that makes its data (node-scripts/services/ceph-{mon,mgr,osd}.sh). Cross-node steps
# (OSD registration, the pool, the gate) are the deployer's, not this module's.
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption mkIf mkMerge types;
  cfg = config.borg.services.ceph;
  host = config.borg.hostName;
  secrets = config.borg.secrets.dir;

  name = types.strMatching "[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?";
  ipv4 = types.strMatching "[0-9]{1,3}(\\.[0-9]{1,3}){3}";
  absPath = types.strMatching "/.+";
  authMode = types.enum [ "cephx" "none" ];

  # ceph.conf needs nothing generated: the fsid reaches the monmap from the secrets (see ../../lib/ceph.nix).
  data = import ../../lib/ceph.nix { settings = cfg; };

  # The node scripts of this bundle (beside nix/ in the repository, at the bundle root on a node).
  scriptsDir = if builtins.pathExists ../../node-scripts then ../../node-scripts else ../../../node-scripts;
  scripts = builtins.path { name = "borg-node-scripts"; path = scriptsDir; };
  members = map (m: "${m.name}=${m.addrs}") data.monmap;

  # A oneshot that must succeed before `daemon` starts; it runs again on every boot and
  # switch and does nothing once its data exists (the scripts' markers).
  oneshot = description: daemon: script: args: {
    inherit description;
    before = [ daemon ];
    requiredBy = [ daemon ];
    after = [ "local-fs.target" ];
    path = [ pkgs.ceph pkgs.jq pkgs.util-linux pkgs.coreutils pkgs.diffutils pkgs.gnugrep pkgs.findutils ];
    serviceConfig = {
      Type = "oneshot";
      RemainAfterExit = true;
      ExecStart = builtins.concatStringsSep " "
        (map lib.escapeShellArg ([ "${pkgs.bash}/bin/bash" "${scripts}/services/${script}" host ] ++ args));
    };
  };
  osd = cfg.osdId != null;
  osdId = toString cfg.osdId;
in
{
  options.borg.services.ceph = {
    enable = mkOption { type = types.bool; default = false; description = "Run Ceph on this node (queen and drones)."; };
    monitor = mkOption { type = types.bool; default = false; description = "Run a monitor (mon.<host>)."; };
    manager = mkOption { type = types.bool; default = false; description = "Run a manager (mgr.<host>): active on the queen, standby elsewhere."; };
    admin = mkOption { type = types.bool; default = false; description = "Hold client.admin (the queen): the deployer's cross-node steps, guards and the operator's `ceph` run here."; };
    osdDevice = mkOption { type = types.nullOr absPath; default = null; description = "Whole disk of this node's bluestore OSD."; };
    osdId = mkOption { type = types.nullOr (types.ints.between 0 4095); default = null; description = "Pinned id of this node's OSD (the drone's place among the OSD drones)."; };
    monitors = mkOption {
      type = types.listOf (types.submodule {
        options = {
          name = mkOption { type = name; description = "Monitor id (its host name)."; };
          address = mkOption { type = ipv4; description = "Monitor address."; };
        };
      });
      default = [ ];
      description = "Every monitor of the cluster: the initial monmap and `mon host`.";
    };
    publicNetwork = mkOption { type = types.nullOr (types.strMatching "[0-9.]+/[0-9]+"); default = null; description = "The node network (Ceph's public network)."; };
    pool = mkOption { type = types.strMatching "[a-z0-9_-]+"; default = "kubernetes"; description = "The RBD pool (created by the deployer)."; };
    poolSize = mkOption { type = types.ints.between 1 3; default = 3; description = "Replicas per pool (osd pool default size)."; };
    poolMinSize = mkOption { type = types.ints.between 1 3; default = 2; description = "Replicas needed to serve I/O (osd pool default min size)."; };
    failureDomain = mkOption { type = types.enum [ "host" "osd" ]; default = "host"; description = "Where replicas must differ: host (3 or more OSD hosts) or osd."; };
    auth = {
      cluster = mkOption { type = authMode; default = "cephx"; description = "auth cluster required (the ceph-auth-required policy wants cephx)."; };
      service = mkOption { type = authMode; default = "cephx"; description = "auth service required."; };
      client = mkOption { type = authMode; default = "cephx"; description = "auth client required."; };
    };
  };

  config = mkIf cfg.enable {
    assertions = [
      { assertion = cfg.monitors != [ ]; message = "borg.services.ceph.monitors is empty"; }
      { assertion = osd -> cfg.osdDevice != null; message = "borg.services.ceph.osdId is set without an osdDevice"; }
    ];

    services.ceph = {
      enable = true;
      global = data.global;
      extraConfig = data.extraConfig;
      mon = { enable = cfg.monitor; daemons = [ host ]; };
      mgr = { enable = cfg.manager; daemons = [ host ]; };
      # nixpkgs' default [osd] section holds pool defaults the monitors never read: ours are in [global].
      osd = { enable = osd; daemons = lib.optional osd osdId; extraConfig = { }; };
    };

    # The CLI for operators and for the deployer's steps (run through sudo on the system PATH).
    environment.systemPackages = [ pkgs.ceph pkgs.jq ];

    systemd.services = mkMerge [
      (mkIf cfg.monitor {
        "borg-ceph-mon-${host}" = oneshot "Create the store of Ceph monitor ${host} (once)" "ceph-mon-${host}.service" "ceph-mon.sh" ([ host ] ++ members);
      })
      (mkIf cfg.manager {
        "borg-ceph-mgr-${host}" = oneshot "Install the keyring of Ceph manager ${host}" "ceph-mgr-${host}.service" "ceph-mgr.sh" [ host ];
      })
      (mkIf osd {
        "borg-ceph-osd-${osdId}" = oneshot "Create Ceph OSD ${osdId} on ${toString cfg.osdDevice} (once)" "ceph-osd-${osdId}.service" "ceph-osd.sh" ([ osdId cfg.osdDevice ] ++ members);
      })
    ];

    # `sudo ceph -s` on the admin host; the key itself stays in the root-only secrets dir.
    systemd.tmpfiles.rules = lib.optional cfg.admin "L+ /etc/ceph/ceph.client.admin.keyring - - - - ${secrets}/ceph-admin-keyring";
  };
}
