# The ports table (./ports.json) for the NixOS modules: `port "nats-client"` is
# the number every module and node.json's firewall agree on. Pure: no nixpkgs.
let
  table = (builtins.fromJSON (builtins.readFile ./ports.json)).ports;
  byName = builtins.listToAttrs (map (p: { name = p.name; value = p; }) table);
in
{
  inherit table;
  port = name:
    if byName ? ${name} then byName.${name}.port
    else throw "ports.json has no port named ${name}";
}
