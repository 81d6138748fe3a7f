# Images and reusable modules of borg-collective. The nodes themselves are built
# from their bundle by system.nix, which fetches the nixpkgs revision in
# pin.json; this flake builds the Proxmox template and the Pi SD image from the
# same revision, locked in the committed flake.lock (a test keeps the two equal).
# Bumping nixpkgs: see "nixpkgs pin" in the README.
{
  description = "borg-collective: NixOS modules, Proxmox template and edge Pi SD image";

  # Must name the branch of pin.json's release (nixos-<release>).
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-26.05";

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
