# Consul agent (server or client) from node.json's services.consul, through
# nixpkgs' services.consul. The non-secret configuration comes from
# ../../lib/consul.nix (what the tests check against Consul's schema); the gossip
# key, the ACL block with its tokens and the TLS block are in the secret config
# file, which Pulumi delivers to the secrets dir (consul:consul 0400: the consul
# user is created by this activation, base.nix hands the file over right after)
# and which the agent reads with -config-file. A changed secret file restarts
# consul through the secrets step (nixpkgs does not restart on extraConfigFiles).
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption mkIf types;
  cfg = config.borg.services.consul;
  data = import ../../lib/consul.nix;
  absPath = types.strMatching "/.+";
  ipv4 = types.strMatching "[0-9]{1,3}(\\.[0-9]{1,3}){3}";
  name = types.strMatching "[a-z0-9]([a-z0-9-]*[a-z0-9])?";

  tlsType = types.submodule {
    options = {
      caFile = mkOption { type = absPath; description = "CA certificate (secrets dir)."; };
      certFile = mkOption { type = absPath; description = "This agent's certificate: server.<dc>.consul on servers, client.<dc>.consul on clients."; };
      keyFile = mkOption { type = absPath; description = "This agent's key (secrets dir, owned by consul)."; };
      verifyIncoming = mkOption { type = types.bool; description = "Internal RPC requires a certificate of the CA."; };
      verifyOutgoing = mkOption { type = types.bool; description = "Outgoing RPC verifies the peer's certificate."; };
      verifyServerHostname = mkOption { type = types.bool; description = "Servers must present server.<dc>.consul (a client certificate cannot act as a server)."; };
    };
  };
in
{
  options.borg.services.consul = {
    enable = mkOption { type = types.bool; default = false; description = "Run a Consul agent."; };
    server = mkOption { type = types.bool; default = false; description = "Run it as a server (raft voter) rather than a client."; };
    datacenter = mkOption { type = name; default = "hive"; description = "Consul datacenter."; };
    nodeName = mkOption { type = name; description = "Node name in Consul (the collective's node name)."; };
    address = mkOption { type = ipv4; description = "Bind and advertise address (the node's static address)."; };
    bootstrapExpect = mkOption { type = types.nullOr (types.ints.between 1 99); default = null; description = "Servers only: the number of servers (the first leader waits for them)."; };
    retryJoin = mkOption { type = types.listOf ipv4; default = [ ]; description = "Server addresses to join."; };
    ui = mkOption { type = types.bool; default = false; description = "Serve the web UI on the API port (the queen only)."; };
    api = {
      scheme = mkOption { type = types.enum [ "http" "https" ]; description = "https outside dev."; };
      port = mkOption { type = types.port; description = "API port (nix/lib/ports.json: consul-http or consul-https)."; };
      lan = mkOption { type = types.bool; default = false; description = "Also listen on the node address (the queen), not only on loopback."; };
    };
    acl = {
      enabled = mkOption { type = types.bool; description = "ACLs on (required)."; };
      defaultPolicy = mkOption { type = types.enum [ "allow" "deny" ]; description = "Must be deny."; };
      downPolicy = mkOption { type = types.enum [ "allow" "deny" "extend-cache" "async-cache" ]; description = "What the agent does while no server answers."; };
    };
    gossip = {
      encrypt = mkOption { type = types.bool; description = "Gossip encryption on (the key is in the secret config file)."; };
      verifyIncoming = mkOption { type = types.bool; description = "Reject unencrypted gossip."; };
      verifyOutgoing = mkOption { type = types.bool; description = "Send only encrypted gossip."; };
    };
    tls = mkOption { type = types.nullOr tlsType; default = null; description = "TLS for RPC and the API; null in dev."; };
    secretConfigFile = mkOption { type = absPath; description = "The secret config file (never in the store)."; };
  };

  config = mkIf cfg.enable {
    assertions = [
      { assertion = cfg.acl.enabled && cfg.acl.defaultPolicy == "deny"; message = "borg.services.consul: ACLs must be enabled with default policy deny."; }
      { assertion = cfg.gossip.encrypt; message = "borg.services.consul: gossip encryption must be on."; }
      { assertion = cfg.server == (cfg.bootstrapExpect != null); message = "borg.services.consul: bootstrapExpect is set on servers and only there."; }
      { assertion = (cfg.api.scheme == "https") == (cfg.tls != null); message = "borg.services.consul: the API is https exactly when TLS is configured."; }
    ];

    # Consul is BSL-licensed, unfree in nixpkgs (so built on the node: Hydra does not cache it).
    nixpkgs.config.allowUnfreePredicate = pkg: builtins.elem (lib.getName pkg) [ "consul" ];

    services.consul = {
      enable = true;
      webUi = cfg.ui;
      # interface.bind/advertise stay null: they take interface names; the address is in extraConfig.
      extraConfig = data.extraConfig cfg;
      extraConfigFiles = [ cfg.secretConfigFile ];
    };

    systemd.services.consul = {
      # The agent binds the node's static address: wait until the network has it.
      after = [ "network-online.target" ];
      wants = [ "network-online.target" ];
      # nixpkgs restarts on failure; space the attempts so a slow network does not exhaust them.
      serviceConfig.RestartSec = "5s";
    };

    # The API for node scripts (borg guards and gates) and operators: `consul members` on the node
    # only needs CONSUL_HTTP_TOKEN.
    environment.etc."borg/consul.env".text = data.envText cfg;
    environment.variables = {
      CONSUL_HTTP_ADDR = (data.env cfg).CONSUL_HTTP_ADDR;
    } // (if cfg.tls != null then { CONSUL_CACERT = cfg.tls.caFile; } else { });
    environment.systemPackages = [ pkgs.curl pkgs.jq ];
  };
}
