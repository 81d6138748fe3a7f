# The Consul agent's configuration from node.json's services.consul (rendered by
# components/services/consul.ts): what nixpkgs' services.consul writes to
# /etc/consul.json (extraConfig), and the API environment node scripts and
# operators on the node use (/etc/borg/consul.env). Nothing secret: the gossip
# key, the ACL block with its tokens and the TLS block are in the secret config
# file (c.secretConfigFile), which the agent reads with -config-file.
#
# Pure: no nixpkgs, so the tests evaluate it with nix-instantiate --eval --json
# and check the result against Consul's configuration schema.
let
  ports = import ./ports.nix;
  https = c: c.api.scheme == "https";
in
rec {
  extraConfig = c: {
    datacenter = c.datacenter;
    node_name = c.nodeName;
    server = c.server;
    # Static addresses from the stack: no interface names, which differ per machine
    # (ens18 on the VMs, end0 on the Pi) and would make the unit bind to a device.
    bind_addr = c.address;
    advertise_addr = c.address;
    # The API, DNS and the UI on loopback; the queen adds its address below.
    client_addr = "127.0.0.1";
    retry_join = c.retryJoin;
    ports = {
      server = ports.port "consul-server-rpc";
      serf_lan = ports.port "consul-serf-lan-tcp";
      # One datacenter, no service mesh: nothing listens that the firewall would close anyway.
      serf_wan = -1;
      grpc = -1;
      grpc_tls = -1;
      http = if https c then -1 else c.api.port;
      https = if https c then c.api.port else -1;
    };
    disable_update_check = true;
    # /v1/agent/metrics?format=prometheus for the platform's monitoring (needs agent:read).
    telemetry = {
      prometheus_retention_time = "60s";
      disable_hostname = true;
    };
  }
  // (if c.api.lan then { addresses.${c.api.scheme} = "127.0.0.1 ${c.address}"; } else { })
  // (if c.server then { bootstrap_expect = c.bootstrapExpect; } else { });

  # Consul's own CLI variables (so `consul members` on the node reaches its agent),
  # plus where the node scripts find the secret config (tokens).
  env = c:
    {
      CONSUL_HTTP_ADDR = "${c.api.scheme}://127.0.0.1:${toString c.api.port}";
      BORG_CONSUL_SECRETS = c.secretConfigFile;
    }
    // (if c.tls != null then { CONSUL_CACERT = c.tls.caFile; } else { });

  envText = c:
    builtins.concatStringsSep "" (map (k: "${k}=${(env c).${k}}\n") (builtins.attrNames (env c)));
}
