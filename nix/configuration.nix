# The NixOS configuration of a node bundle; system.nix builds it on the node
# against the pinned nixpkgs (nix-build <bundle>/system.nix -A system).
# Everything node-specific comes from ./node.json (never a secret); the
# modules hold the logic, ./lib/node-options.nix the one JSON -> option mapping.
{ lib, ... }:
let
  node = builtins.fromJSON (builtins.readFile ./node.json);

  # Every module under ./modules and ./modules/services, so a new concern or
  # service is picked up by dropping a file in.
  nixFilesIn = dir: map (n: dir + "/${n}")
    (builtins.filter (n: builtins.match ".*\\.nix" n != null)
      (builtins.attrNames (builtins.readDir dir)));
  servicesDir = ./modules/services;
  modules = nixFilesIn ./modules
    ++ (if builtins.pathExists servicesDir then nixFilesIn servicesDir else [ ]);

  # Existing NixOS hosts keep what only they know. "generic": its disks and boot
  # loader, from the host's generated hardware file plus an optional operator
  # file; the edge Pi: only the optional operator file (e.g. another root label).
  # Proxmox VMs are fully described by the bundle and import nothing from the host.
  hardwareFile = /etc/nixos/hardware-configuration.nix;
  localFile = /etc/nixos/borg-local.nix;
  generic = node.platform == "generic";
  hostFiles = builtins.filter builtins.pathExists (
    if generic then [ hardwareFile localFile ]
    else if node.platform == "raspberry-pi-4" then [ localFile ]
    else [ ]
  );
in
{
  imports = modules ++ hostFiles;

  borg = import ./lib/node-options.nix node;

  # The state format of the machine's first install (the template's first boot),
  # not the release it runs: the same for every node and never changed by a
  # nixpkgs bump. An existing host installed with another value sets its own in
  # /etc/nixos/borg-local.nix.
  system.stateVersion = lib.mkDefault node.stateVersion;

  assertions = lib.optional generic {
    assertion = builtins.pathExists hardwareFile;
    message = "borg: platform \"generic\" needs /etc/nixos/hardware-configuration.nix on the host (file systems); put its boot loader settings in /etc/nixos/borg-local.nix.";
  };
}
