# Home Assistant on the edge Pi, from node.json's services.homeAssistant, through nixpkgs'
# services.home-assistant: configuration.yaml from ../../lib/home-assistant.nix (read-only, the
# stack is the source of truth), secrets.yaml linked from the secrets dir (never the store), the
# port opened by the ports table (firewall.nix) rather than openFirewall, curl and jq for the REST
# step and gate (node-scripts/services/hass-*.sh), and the timer that publishes the collective's
# health for the status sensor (../../lib/collective-status.sh).
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption mkIf types;
  cfg = config.borg.services.homeAssistant;
  data = import ../../lib/home-assistant.nix;
  absPath = types.strMatching "/.+";
  ipv4 = types.strMatching "[0-9]{1,3}(\\.[0-9]{1,3}){3}";
  status = cfg.collectiveStatus;
  # nixpkgs' default services.home-assistant.configDir, which this module keeps.
  hassDir = "/var/lib/hass";
  # nixpkgs types extraComponents as an enum of these; a clearer message than the enum's first.
  available = pkgs.home-assistant.availableComponents;
  unknown = builtins.filter (c: !(builtins.elem c available)) cfg.extraComponents;

  httpType = types.submodule {
    options = {
      port = mkOption { type = types.port; description = "Port (home-assistant in nix/lib/ports.json)."; };
      serverHosts = mkOption { type = types.listOf ipv4; description = "Addresses HA listens on: loopback and the node's LAN address."; };
      tls = mkOption {
        type = types.nullOr (types.submodule {
          options = {
            certFile = mkOption { type = absPath; description = "Server certificate (owned by hass)."; };
            keyFile = mkOption { type = absPath; description = "Server key (owned by hass)."; };
          };
        });
        default = null;
        description = "HTTPS with a certificate from the stack's Home Assistant CA; null: plain HTTP (dev).";
      };
      useXForwardedFor = mkOption { type = types.bool; default = false; description = "Trust X-Forwarded-For from trustedProxies (no proxy by default)."; };
      trustedProxies = mkOption { type = types.listOf types.str; default = [ ]; description = "Reverse proxies allowed to forward client addresses."; };
      ipBan = {
        enabled = mkOption { type = types.bool; default = true; description = "Ban addresses after repeated failed logins."; };
        loginAttemptsThreshold = mkOption { type = types.ints.between 1 100; default = 10; description = "Failed logins before a ban."; };
      };
    };
  };
  statusType = types.submodule {
    options = {
      topic = mkOption { type = types.strMatching "[^#+ ]+"; description = "MQTT topic of the status document."; };
      intervalSeconds = mkOption { type = types.ints.between 10 3600; description = "Timer period."; };
      expireAfterSeconds = mkOption { type = types.ints.between 10 86400; description = "The sensor turns unavailable after this long without an update."; };
      mqttPort = mkOption { type = types.port; description = "The local broker's loopback port."; };
      mqttUser = mkOption { type = types.strMatching "[a-z_][a-z0-9_-]*"; description = "Generated MQTT user allowed to publish the status topic only."; };
      passwordFile = mkOption { type = absPath; description = "Its password (root-only; handed over as a systemd credential)."; };
      consul = mkOption {
        type = types.nullOr (types.submodule {
          options = {
            url = mkOption { type = types.strMatching "https?://127\\.0\\.0\\.1:[0-9]+"; description = "The local Consul agent's API."; };
            caFile = mkOption { type = types.nullOr absPath; default = null; description = "Consul's CA (HTTPS)."; };
            servers = mkOption { type = types.ints.between 1 9; description = "Servers expected in the raft peer set."; };
          };
        });
        default = null;
        description = "Check Consul through the local agent.";
      };
      nats = mkOption {
        type = types.nullOr (types.submodule {
          options.monitorUrl = mkOption { type = types.strMatching "http://127\\.0\\.0\\.1:[0-9]+"; description = "The local NATS server's monitoring endpoint."; };
        });
        default = null;
        description = "Check the NATS leaf link.";
      };
    };
  };
in
{
  options.borg.services.homeAssistant = {
    enable = mkOption { type = types.bool; default = false; description = "Run Home Assistant (edge Pi)."; };
    name = mkOption { type = types.str; default = "Home"; description = "homeassistant.name."; };
    timeZone = mkOption { type = types.strMatching "[A-Za-z_]+(/[A-Za-z0-9_+-]+)*"; default = "Etc/UTC"; description = "IANA time zone."; };
    unitSystem = mkOption { type = types.enum [ "metric" "us_customary" ]; default = "metric"; description = "Unit system."; };
    extraComponents = mkOption { type = types.listOf (types.strMatching "[a-z0-9_]+"); default = [ ]; description = "Integrations whose dependencies are built in."; };
    location = mkOption { type = types.bool; default = false; description = "secrets.yaml holds latitude, longitude and elevation."; };
    http = mkOption { type = types.nullOr httpType; default = null; description = "HTTP server settings."; };
    secretsFile = mkOption { type = types.nullOr absPath; default = null; description = "secrets.yaml in the secrets dir (owned by hass)."; };
    mqtt = mkOption {
      type = types.nullOr (types.submodule {
        options = {
          broker = mkOption { type = ipv4; description = "The broker HA's MQTT entry points at (the node's own)."; };
          port = mkOption { type = types.port; description = "Its port."; };
          user = mkOption { type = types.strMatching "[a-z_][a-z0-9_-]*"; description = "HA's MQTT user (borg:services.homeAssistant.mqttUser)."; };
        };
      });
      default = null;
      description = "HA's broker connection (a config entry the REST step creates).";
    };
    collectiveStatus = mkOption { type = types.nullOr statusType; default = null; description = "The collective-status sensor and its timer."; };
  };

  config = mkIf cfg.enable {
    assertions = [
      { assertion = cfg.http != null && cfg.secretsFile != null && cfg.mqtt != null; message = "borg: services.homeAssistant needs http, secretsFile and mqtt"; }
      {
        assertion = unknown == [ ];
        message = "borg: borg:services.homeAssistant.extraComponents: ${builtins.concatStringsSep ", " unknown} is not a Home Assistant integration of this nixpkgs (pkgs.home-assistant.availableComponents)";
      }
    ];

    services.home-assistant = {
      enable = true;
      inherit (cfg) extraComponents;
      config = data.config cfg;
      # Overwritten on every start anyway: read-only makes that visible.
      configWritable = false;
      # The port is the ports table's (firewall.nix), like every other service's.
      openFirewall = false;
    };

    # HA resolves `!secret` from <configDir>/secrets.yaml: a link to the secrets dir, never the store.
    systemd.tmpfiles.rules = [ "L+ ${hassDir}/secrets.yaml - - - - ${cfg.secretsFile}" ];

    # The REST step and the gate (node-scripts/services/hass-mqtt.sh, hass-gate.sh) run with these.
    environment.systemPackages = [ pkgs.curl pkgs.jq ];

    systemd.services.borg-collective-status = mkIf (status != null) {
      description = "Publish the collective's health for Home Assistant's status sensor";
      after = [ "network-online.target" "mosquitto.service" ];
      wants = [ "network-online.target" ];
      path = [ pkgs.curl pkgs.jq pkgs.mosquitto pkgs.coreutils ];
      environment = data.statusEnvironment config.borg.hostName status;
      serviceConfig = {
        Type = "oneshot";
        ExecStart = "${pkgs.bash}/bin/bash ${../../lib/collective-status.sh}";
        # No account, no state: it reads its password (and Consul's CA) as credentials.
        DynamicUser = true;
        LoadCredential = data.statusCredentials status;
        PrivateTmp = true;
        ProtectSystem = "strict";
        ProtectHome = true;
        NoNewPrivileges = true;
        RestrictAddressFamilies = [ "AF_INET" "AF_INET6" "AF_UNIX" ];
        CapabilityBoundingSet = [ "" ];
        SystemCallFilter = [ "@system-service" ];
      };
    };
    systemd.timers.borg-collective-status = mkIf (status != null) {
      wantedBy = [ "timers.target" ];
      timerConfig = {
        OnBootSec = "1min";
        OnUnitActiveSec = "${toString status.intervalSeconds}s";
      };
    };
  };
}
