# node.json's services.k3s (components/services/k3s.ts) -> the values of nixpkgs' services.k3s
# options and what else the module sets. Pure: builtins only, so the tests evaluate it with a bare
# `nix-instantiate --eval --json`. Tokens are referenced by path only: the files live under
# /var/lib/borg/secrets, outside the store, and no token ever reaches a flag.
cfg:
let
  isServer = cfg.role == "server";
  bare = builtins.substring 1 (-1) cfg.version; # "v1.36.3+k3s1" -> "1.36.3+k3s1"
  minor = builtins.match "([0-9]+)\\.([0-9]+)\\..*" bare;
  flag = name: value: "--${name}=${value}";
in
{
  role = cfg.role;
  # nixpkgs ships one package per K3s minor (k3s_1_36, ...); the module checks its exact version.
  packageAttr = "k3s_${builtins.elemAt minor 0}_${builtins.elemAt minor 1}";
  packageVersion = bare;
  serverAddr = if cfg.serverAddr == null then "" else cfg.serverAddr;
  clusterInit = cfg.clusterInit;
  tokenFile = cfg.tokenFile;
  agentTokenFile = if isServer then cfg.agentTokenFile else null;
  nodeName = cfg.nodeName;
  nodeIP = cfg.nodeIp;
  nodeLabel = cfg.nodeLabels;
  disable = if isServer then cfg.disable else [ ];
  # Server-only settings; agents learn them from the server.
  extraFlags =
    if isServer then
      [
        (flag "cluster-cidr" cfg.podCidr)
        (flag "service-cidr" cfg.serviceCidr)
        (flag "cluster-dns" cfg.clusterDns)
        (flag "cluster-domain" cfg.clusterDomain)
        # The admin kubeconfig holds a client key: root only.
        (flag "write-kubeconfig-mode" "0600")
      ]
      ++ (if cfg.secretsEncryption then [ "--secrets-encryption" ] else [ ])
      ++ map (flag "tls-san") cfg.tlsSans
    else
      [ ];
  kernelModules = cfg.kernelModules;
  # Pods reach host ports (API, kubelet, DNS on the node) from the pod network: accept it, and
  # only it, instead of trusting whole interfaces (nixpkgs#98766, #175513).
  firewallRule = "ip saddr ${cfg.podCidr} accept comment \"borg k3s pod network\"\n";
}
