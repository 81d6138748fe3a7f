# node.json (schemaVersion 1) -> values for the typed `borg.*` options.
#
# Pure data in, pure data out: it needs neither nixpkgs nor `lib`, so the test
# suite evaluates it with a bare `nix-instantiate --eval`. Types, enums and
# defaults are enforced by the option declarations in ../modules, not here;
# this file only says which JSON field feeds which option.
node:
let
  # JSON `null` and a missing key mean the same thing to us.
  field = attrs: name: default:
    if attrs != null && builtins.isAttrs attrs && attrs ? ${name} && attrs.${name} != null
    then attrs.${name}
    else default;

  network = field node "network" { };
  ssh = field node "ssh" { };
  firewall = field node "firewall" { };
  storage = field node "storage" null;
  secrets = field node "secrets" { };
  platform = node.platform;
in
if (field node "schemaVersion" null) != 1 then
  throw "node.json: schemaVersion ${builtins.toJSON (field node "schemaVersion" null)} is not supported (expected 1)"
else {
  hostName = node.name;
  domain = field network "domain" null;
  role = node.role;
  inherit platform;
  stack = field node "stack" "";
  securityLevel = node.securityLevel;
  capabilities = field node "capabilities" [ ];

  network = {
    address = field network "address" null;
    prefixLength = field network "prefixLength" 24;
    gateway = field network "gateway" null;
    dns = field network "dns" [ ];
  };

  ssh = {
    user = ssh.user;
    authorizedKeys = field ssh "authorizedKeys" [ ];
    hostKeyFile = field ssh "hostKeyFile" null;
  };

  roles = field node "roles" [ ];

  firewall = {
    rules = map (r: { inherit (r) name protocol from to scope; }) (field firewall "rules" [ ]);
    clusterSources = field firewall "clusterSources" [ ];
  };

  storage.osdDevice = field storage "osdDevice" null;

  # Only the fields the modules know; extra keys in node.json are ignored so
  # the program can add data ahead of the modules that consume it.
  peers = map (p: { inherit (p) name role address; }) (field node "peers" [ ]);

  secrets = {
    dir = field secrets "dir" "/var/lib/borg/secrets";
    files = map (f: { inherit (f) name owner group; }) (field secrets "files" [ ]);
  };

  # Service settings go through unchanged to the service modules that declare them
  # (../modules/services/*.nix): add a service's name here with its module.
  services =
    let all = field node "services" { }; in
    builtins.listToAttrs (map (name: { inherit name; value = all.${name}; })
      (builtins.filter (name: all ? ${name}) [ "ceph" "consul" "k3s" "mqtt" "nats" "homeAssistant" ]));

  proxmoxGuest.enable = platform == "proxmox-vm";
  raspberryPi.enable = platform == "raspberry-pi-4";
}
