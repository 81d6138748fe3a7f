# Host firewall: deny by default, open what node.json lists, SSH always.
{ config, lib, ... }:
let
  inherit (lib) mkOption mkDefault types;
  cfg = config.borg.firewall;
in
{
  options.borg.firewall = {
    allowedTCPPorts = mkOption {
      type = types.listOf types.port;
      default = [ ];
      description = "TCP ports open to the node network (SSH is always added).";
    };
    allowedUDPPorts = mkOption {
      type = types.listOf types.port;
      default = [ ];
      description = "UDP ports open to the node network.";
    };
  };

  config = {
    # nftables backend: needed by later modules for source-restricted rules
    # (networking.firewall.extraInputRules).
    networking.nftables.enable = true;

    networking.firewall = {
      enable = true;
      # SSH stays reachable whatever the list says: the deployer and the
      # rollback guard depend on it. (NixOS de-duplicates the port list.)
      allowedTCPPorts = cfg.allowedTCPPorts ++ config.services.openssh.ports;
      allowedUDPPorts = cfg.allowedUDPPorts;
      # Off by default: on a LAN full of broadcasts and probes it floods the
      # (persistent) journal and wears the Pi's SD card; turn on when debugging.
      logRefusedConnections = mkDefault false;
    };
    services.openssh.openFirewall = true;
  };
}
