# K3s on the queen and drones (never the edge Pi), from node.json's services.k3s: a server (the
# queen, plus two or four drones for embedded etcd) or an agent joining the first server. Tokens are
# files under /var/lib/borg/secrets (root-owned; K3s runs as root), installed before the first
# start, so a joining node can never start a cluster of its own. The flags are pure data in
# ../../lib/k3s.nix; this module only hands them to nixpkgs' services.k3s (rancher module).
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkIf mkOption types;
  cfg = config.borg.services.k3s;
  k3s = import ../../lib/k3s.nix cfg;
  # The pinned release: nixpkgs' package for its minor, whose exact version an assertion checks.
  package = pkgs.${k3s.packageAttr} or null;
  secretPath = types.strMatching "/var/lib/borg/secrets/[A-Za-z0-9._-]+";
  cidr = types.strMatching "[0-9]{1,3}(\\.[0-9]{1,3}){3}/[0-9]{1,2}";
in
{
  options.borg.services.k3s = {
    enable = mkOption { type = types.bool; default = false; description = "Run K3s on this node."; };
    role = mkOption { type = types.nullOr (types.enum [ "server" "agent" ]); default = null; description = "Server or agent."; };
    version = mkOption {
      type = types.strMatching "v[0-9]+\\.[0-9]+\\.[0-9]+\\+k3s[0-9]+";
      default = "v0.0.0+k3s0";
      description = "Exact K3s release (borg:services.k3s.version); the build fails if nixpkgs has another.";
    };
    serverAddr = mkOption { type = types.nullOr (types.strMatching "https://[0-9.]+:[0-9]+"); default = null; description = "Server to join; null on the first server."; };
    clusterInit = mkOption { type = types.bool; default = false; description = "First server of an embedded-etcd cluster."; };
    etcd = mkOption { type = types.bool; default = false; description = "This server holds an etcd member (informational: the port rules come from the roles)."; };
    nodeName = mkOption { type = types.nullOr types.str; default = null; description = "Kubernetes node name (the host name)."; };
    nodeIp = mkOption { type = types.strMatching "[0-9]{1,3}(\\.[0-9]{1,3}){3}"; default = "0.0.0.0"; description = "Address the node advertises (its LAN address)."; };
    podCidr = mkOption { type = cidr; default = "10.244.0.0/16"; description = "Pod network (validated against the node network)."; };
    serviceCidr = mkOption { type = cidr; default = "10.96.0.0/16"; description = "Service network."; };
    clusterDns = mkOption { type = types.strMatching "[0-9]{1,3}(\\.[0-9]{1,3}){3}"; default = "10.96.0.10"; description = "CoreDNS service address, inside the service network."; };
    clusterDomain = mkOption { type = types.str; default = "cluster.local"; description = "Cluster DNS domain."; };
    nodeLabels = mkOption {
      # Never node-role.kubernetes.io/*: kubelet refuses to start with those.
      type = types.listOf (types.strMatching "borg\\.io/[a-z0-9]([a-z0-9.-]*[a-z0-9])?=true");
      default = [ ];
      description = "Capability labels borg.io/<cap>=true, set at registration.";
    };
    tlsSans = mkOption { type = types.listOf types.str; default = [ ]; description = "Extra names in the API certificate."; };
    disable = mkOption { type = types.listOf (types.enum [ "coredns" "servicelb" "traefik" "local-storage" "metrics-server" "runtimes" ]); default = [ ]; description = "Bundled components not installed."; };
    secretsEncryption = mkOption { type = types.bool; default = false; description = "Encrypt Secrets at rest in the datastore."; };
    tokenFile = mkOption { type = types.nullOr secretPath; default = null; description = "Token file (servers: cluster token; agents: agent token)."; };
    agentTokenFile = mkOption { type = types.nullOr secretPath; default = null; description = "Agent token file (servers)."; };
    kernelModules = mkOption { type = types.listOf types.str; default = [ ]; description = "Kernel modules K3s workloads need (rbd for Ceph CSI)."; };
  };

  config = mkIf cfg.enable {
    assertions = [
      { assertion = cfg.role != null && cfg.tokenFile != null; message = "borg: services.k3s needs a role and a token file"; }
      {
        assertion = package != null;
        message = "borg: K3s ${cfg.version} (borg:services.k3s.version) needs nixpkgs' ${k3s.packageAttr}, which this nixpkgs pin does not have";
      }
      {
        assertion = package == null || package.version == k3s.packageVersion;
        message = "borg: borg:services.k3s.version is ${cfg.version} but nixpkgs' ${k3s.packageAttr} is ${if package == null then "missing" else "v${package.version}"}: set the version to that release or move the nixpkgs pin";
      }
    ];

    services.k3s = {
      enable = true;
      package = if package != null then package else pkgs.k3s;
      inherit (k3s) role serverAddr clusterInit tokenFile agentTokenFile nodeName nodeIP nodeLabel disable extraFlags;
    };

    boot.kernelModules = k3s.kernelModules;
    networking.firewall.extraInputRules = k3s.firewallRule;
  };
}
