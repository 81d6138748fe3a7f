# MQTT broker (queen and edge Pi) from node.json's services.mqtt, through nixpkgs'
# services.mosquitto: users with `$7$` hash files handed over by systemd credentials, default-deny
# ACLs per user, TLS listeners, and on the edge a bridge to the queen authenticated by a client
# certificate. The values come from ../../lib/mosquitto.nix, which the tests run for real.
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption mkIf types;
  cfg = config.borg.services.mqtt;
  data = import ../../lib/mosquitto.nix;
  absPath = types.strMatching "/.+";
  topicAcl = types.strMatching "(read|write|readwrite|deny) [^ ]+";

  listenerType = types.submodule {
    options = {
      name = mkOption { type = types.enum [ "lan" "local" "bridge" ]; description = "lan: clients on the network; local: loopback; bridge: edge bridges (client certificates)."; };
      port = mkOption { type = types.port; description = "Port (from nix/lib/ports.json)."; };
      address = mkOption { type = types.strMatching "[0-9.]+"; description = "Address to listen on."; };
      allowAnonymous = mkOption { type = types.bool; default = false; description = "Accept clients without credentials (the policies forbid it)."; };
      tls = mkOption { type = types.bool; default = false; description = "TLS with the node's server certificate."; };
      clientCertificates = mkOption { type = types.bool; default = false; description = "Require a client certificate whose CN is the user name (no passwords)."; };
    };
  };
  userType = types.submodule {
    options = {
      name = mkOption { type = types.strMatching "[a-z_][a-z0-9_-]*"; description = "MQTT user name."; };
      acl = mkOption { type = types.listOf topicAcl; description = "Topics the user may use (default deny)."; };
      hashFile = mkOption { type = absPath; description = "File with the user's $7$ hash (never in the store)."; };
    };
  };
  bridgeUserType = types.submodule {
    options = {
      name = mkOption { type = types.str; description = "Certificate CN of an edge bridge."; };
      acl = mkOption { type = types.listOf topicAcl; description = "Topics the bridge may use."; };
    };
  };
in
{
  options.borg.services.mqtt = {
    enable = mkOption { type = types.bool; default = false; description = "Run the MQTT broker."; };
    listeners = mkOption { type = types.listOf listenerType; default = [ ]; description = "Listeners."; };
    users = mkOption { type = types.listOf userType; default = [ ]; description = "Password users (each on every password listener)."; };
    tls = mkOption {
      type = types.nullOr (types.submodule {
        options = {
          caFile = mkOption { type = absPath; description = "CA certificate (clients and bridges)."; };
          certFile = mkOption { type = absPath; description = "Server certificate."; };
          keyFile = mkOption { type = absPath; description = "Server key (owned by mosquitto)."; };
        };
      });
      default = null;
      description = "TLS material of the TLS listeners.";
    };
    bridgeUsers = mkOption { type = types.listOf bridgeUserType; default = [ ]; description = "Edge bridges allowed on the bridge listener."; };
    bridge = mkOption {
      type = types.nullOr (types.submodule {
        options = {
          address = mkOption { type = types.strMatching "[0-9.]+"; description = "The queen's address."; };
          port = mkOption { type = types.port; description = "The queen's bridge listener."; };
          tls = mkOption { type = types.bool; default = true; description = "Always true: the bridge authenticates by certificate."; };
          clientId = mkOption { type = types.strMatching "[a-z0-9-]+"; description = "Fixed client id (persistent session on the queen) = certificate CN."; };
          topics = mkOption { type = types.listOf types.str; description = "Topic patterns shared both ways."; };
          caFile = mkOption { type = absPath; description = "CA that signed the queen's certificate."; };
          certFile = mkOption { type = absPath; description = "The bridge's client certificate."; };
          keyFile = mkOption { type = absPath; description = "The bridge's client key."; };
        };
      });
      default = null;
      description = "The bridge to the queen's broker (edge Pi only).";
    };
  };

  config = mkIf cfg.enable {
    services.mosquitto = {
      enable = true;
      inherit (data.config cfg) listeners bridges settings;
    };
    # mosquitto_sub for the readiness gates (node-scripts/services/mqtt-gate.sh).
    environment.systemPackages = [ pkgs.mosquitto ];
  };
}
