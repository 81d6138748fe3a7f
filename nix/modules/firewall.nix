# Host firewall: deny by default; open exactly the rules node.json lists (derived from the node's
# roles and nix/lib/ports.json), SSH always. "lan" rules are open to the node network; "cluster"
# rules accept only the collective's own node addresses.
{ config, lib, ... }:
let
  inherit (lib) mkOption mkDefault types;
  cfg = config.borg.firewall;

  ruleType = types.submodule {
    options = {
      name = mkOption { type = types.str; description = "Name of the port in nix/lib/ports.json."; };
      protocol = mkOption { type = types.enum [ "tcp" "udp" ]; description = "Transport protocol."; };
      from = mkOption { type = types.port; description = "First port of the rule."; };
      to = mkOption { type = types.port; description = "Last port of the rule (equal to from for one port)."; };
      scope = mkOption { type = types.enum [ "lan" "cluster" ]; description = "Who may connect: the node network, or only the collective's nodes."; };
    };
  };

  pick = scope: protocol: builtins.filter (r: r.scope == scope && r.protocol == protocol) cfg.rules;
  single = r: r.from == r.to;
  ports = rules: map (r: r.from) (builtins.filter single rules);
  ranges = rules: map (r: { inherit (r) from to; }) (builtins.filter (r: !(single r)) rules);
  dport = r: if single r then toString r.from else "${toString r.from}-${toString r.to}";
  clusterRule = r:
    "ip saddr { ${builtins.concatStringsSep ", " cfg.clusterSources} } ${r.protocol} dport ${dport r} accept comment \"borg ${r.name}\"\n";
  clusterRules = builtins.filter (r: r.scope == "cluster") cfg.rules;
in
{
  options.borg.roles = mkOption {
    type = types.listOf types.str;
    default = [ ];
    description = "Roles the node runs (informational: the firewall rules are derived from them by the deployer).";
  };

  options.borg.firewall = {
    rules = mkOption {
      type = types.listOf ruleType;
      default = [ ];
      description = "Ports to open (SSH is always added).";
    };
    clusterSources = mkOption {
      type = types.listOf (types.strMatching "[0-9]{1,3}(\\.[0-9]{1,3}){3}");
      default = [ ];
      description = "Addresses of the collective's nodes: the only sources cluster-scope rules accept.";
    };
  };

  config = {
    # nftables backend: cluster rules are source-restricted (networking.firewall.extraInputRules).
    networking.nftables.enable = true;

    environment.etc."borg/roles".text = builtins.concatStringsSep "\n" config.borg.roles + "\n";

    networking.firewall = {
      enable = true;
      # SSH stays reachable whatever the list says: the deployer and the
      # rollback guard depend on it. (NixOS de-duplicates the port list.)
      allowedTCPPorts = ports (pick "lan" "tcp") ++ config.services.openssh.ports;
      allowedUDPPorts = ports (pick "lan" "udp");
      allowedTCPPortRanges = ranges (pick "lan" "tcp");
      allowedUDPPortRanges = ranges (pick "lan" "udp");
      # No sources, no cluster rule: an empty nft set is a syntax error.
      extraInputRules = if cfg.clusterSources == [ ] then "" else lib.concatMapStrings clusterRule clusterRules;
      # Off by default: on a LAN full of broadcasts and probes it floods the
      # (persistent) journal and wears the Pi's SD card; turn on when debugging.
      logRefusedConnections = mkDefault false;
    };
    services.openssh.openFirewall = true;
  };
}
