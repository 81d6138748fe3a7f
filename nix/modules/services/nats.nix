# NATS on a node: a cluster server (queen, drones; JetStream on the peer set)
# or the edge Pi's leaf node. Driven only by borg.services.nats (node.json's
# services.nats, see components/services/nats.ts); the config itself is pure
# data from ../../lib/nats.nix.
#
# nixpkgs' services.nats provides the user, the data directory and the hardened
# unit. Its JSON `settings` cannot carry secrets (no `include`, no variables),
# so the unit runs our rendered /etc/nats/nats.conf, which includes the secret
# files systemd hands over with LoadCredential (root-owned in the secrets dir;
# the nats user, created by this very activation, never needs to own them).
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption mkIf mkForce types;
  cfg = config.borg.services.nats;
  natsLib = import ../../lib/nats.nix;
  confText = natsLib.conf cfg;
  credentialFiles = natsLib.credentialFiles cfg;

  str = default: mkOption { type = types.str; inherit default; };
  strList = mkOption { type = types.listOf types.str; default = [ ]; };
  absPath = types.strMatching "/.+";
  fileName = types.strMatching "[A-Za-z0-9][A-Za-z0-9._-]*";
  size = types.strMatching "[0-9]+[KMGT]?";

  userType = types.submodule {
    options = {
      name = mkOption { type = types.str; description = "User name."; };
      account = mkOption { type = types.str; description = "Account the user belongs to."; };
      hashVariable = mkOption { type = types.strMatching "[A-Z][A-Z0-9_]*"; description = "Variable of the auth secret file holding the bcrypt hash."; };
      permissions = mkOption {
        type = types.nullOr (types.submodule {
          options = {
            publish = strList;
            subscribe = strList;
            allowResponses = mkOption { type = types.bool; default = false; };
          };
        });
        default = null;
        description = "Subject permissions; null = unrestricted (only the system account's user).";
      };
    };
  };
in
{
  options.borg.services.nats = {
    enable = mkOption { type = types.bool; default = false; description = "Run a NATS server on this node."; };
    serverName = str "nats";
    clusterName = str "hive";
    jetstream = mkOption { type = types.bool; default = false; description = "This server is a JetStream peer (stores streams)."; };
    maxMemoryStore = mkOption { type = size; default = "512M"; };
    maxFileStore = mkOption { type = size; default = "10G"; };
    storeDir = mkOption { type = absPath; default = "/var/lib/nats"; };
    address = mkOption { type = types.str; default = "127.0.0.1"; description = "Address the routes advertise."; };
    ports = {
      client = mkOption { type = types.port; default = 4222; };
      cluster = mkOption { type = types.nullOr types.port; default = null; };
      leafnodeHub = mkOption { type = types.nullOr types.port; default = null; };
      monitor = mkOption { type = types.port; default = 8222; };
    };
    routes = strList;
    leafnodeHub = mkOption { type = types.bool; default = false; };
    leafnodeRemotes = strList;
    tls = mkOption { type = types.bool; default = false; };
    authorization.required = mkOption { type = types.bool; default = true; };
    accounts = {
      app = str "CIM";
      system = str "SYS";
    };
    users = mkOption { type = types.listOf userType; default = [ ]; };
    credentials = {
      dir = mkOption { type = absPath; default = "/run/credentials/nats.service"; description = "Where nats reads its secret files (LoadCredential)."; };
      sourceDir = mkOption { type = absPath; default = "/var/lib/borg/secrets"; description = "Where the deployer installs them."; };
      auth = mkOption { type = fileName; default = "nats-auth.conf"; };
      links = mkOption { type = fileName; default = "nats-links.conf"; };
      tls = mkOption {
        type = types.nullOr (types.submodule {
          options = {
            ca = mkOption { type = fileName; };
            cert = mkOption { type = fileName; };
            key = mkOption { type = fileName; };
          };
        });
        default = null;
      };
    };
  };

  config = mkIf cfg.enable {
    assertions = [
      {
        assertion = cfg.authorization.required && cfg.users != [ ];
        message = "borg.services.nats: every client must log in (authorization.required with users).";
      }
    ];

    services.nats = {
      enable = true;
      serverName = cfg.serverName;
      jetstream = cfg.jetstream;
      dataDir = cfg.storeDir;
      # The config includes files that exist only at run time (credentials).
      validateConfig = false;
      # nixpkgs#531245: with jetstream = false the module still writes `jetstream: {}`,
      # which nats-server reads as on. That file is unused here; keep it right anyway.
      settings.jetstream = mkIf (!cfg.jetstream) (mkForce false);
    };

    environment.etc = {
      "nats/nats.conf".text = confText;
    } // builtins.listToAttrs (map (f: {
      # nats-server joins `include` paths to the config's directory: link the credentials in.
      name = "nats/${f}";
      value.source = "${cfg.credentials.dir}/${f}";
    }) (builtins.filter (f: f == cfg.credentials.auth || f == cfg.credentials.links) credentialFiles));

    systemd.services.nats = {
      wants = [ "network-online.target" ];
      after = [ "network-online.target" ];
      # /etc/nats/nats.conf is not part of the unit: a changed config must still restart nats
      # (in the node's rollout lane, behind the JetStream guard).
      restartTriggers = [ confText ];
      serviceConfig = {
        ExecStart = mkForce "${pkgs.nats-server}/bin/nats-server -c /etc/nats/nats.conf";
        LoadCredential = map (f: "${f}:${cfg.credentials.sourceDir}/${f}") credentialFiles;
      };
    };

    # The gates and guards (node-scripts/services/nats-*.sh) read the monitoring endpoint.
    environment.systemPackages = [ pkgs.curl pkgs.jq ];
  };
}
