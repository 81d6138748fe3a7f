# Images and reusable modules of borg-collective. The nodes themselves are built
# channel-style from the bundle (configuration.nix + node.json); this flake pins
# the nixpkgs the images (and so the nodes' `<nixpkgs>`) come from.
# No flake.lock is committed: run `nix flake lock` on the first build.
{
  description = "borg-collective: NixOS modules, Proxmox template and edge Pi SD image";

  # 24.11 everywhere: node.json's stateVersion and the VMA output name follow it.
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-24.11";

  outputs = { self, nixpkgs }:
    let
      modules = {
        base = ./modules/base.nix;
        firewall = ./modules/firewall.nix;
        proxmoxGuest = ./modules/proxmox-guest.nix;
        raspberryPi = ./modules/raspberry-pi.nix;
      };
    in
    {
      nixosModules = modules // {
        default = { imports = builtins.attrValues modules; };
      };

      # node.json -> borg.* values, for configurations built from this flake.
      lib.nodeOptions = import ./lib/node-options.nix;

      nixosConfigurations = {
        proxmox-template = nixpkgs.lib.nixosSystem {
          modules = [ ./images/proxmox-template.nix ];
        };
        edge-pi-sd = nixpkgs.lib.nixosSystem {
          modules = [ ./images/edge-pi-sd.nix ];
        };
      };

      packages.x86_64-linux.proxmox-template =
        self.nixosConfigurations.proxmox-template.config.system.build.VMA;
      packages.aarch64-linux.edge-pi-sd-image =
        self.nixosConfigurations.edge-pi-sd.config.system.build.sdImage;
    };
}
