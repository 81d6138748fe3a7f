# SD card image for the edge Raspberry Pi 4: the borg base (deploy user, keys-only
# SSH, firewall) on the Pi hardware module, DHCP until the first borg deploy
# gives it its static address.
#
#   nix build ./nix#packages.aarch64-linux.edge-pi-sd-image   (an aarch64 builder or binfmt emulation)
#   zstdcat result/sd-image/*.img.zst | sudo dd of=/dev/sdX bs=4M conv=fsync
#
# Operator keys: create nix/images/operator-keys.nix holding a list of public keys,
#   [ "ssh-ed25519 AAAA... you@laptop" ]
# (public keys only; with the flake, `git add` it, untracked files are invisible
# to flakes). The deploy user is borg:ssh.user, "borg" by default: set
# borg.ssh.user below if your stack uses another name.
{ lib, modulesPath, ... }:
let
  keysFile = ./operator-keys.nix;
  operatorKeys =
    if builtins.pathExists keysFile then import keysFile
    else throw "edge-pi-sd: create nix/images/operator-keys.nix with your SSH public keys, e.g. [ \"ssh-ed25519 AAAA... you@host\" ]";
in
{
  imports = [
    (modulesPath + "/installer/sd-card/sd-image-aarch64.nix")
    ../modules/base.nix
    ../modules/firewall.nix
    ../modules/proxmox-guest.nix
    ../modules/raspberry-pi.nix
  ];

  borg = {
    hostName = "edge-pi";
    role = "edge";
    platform = "raspberry-pi-4";
    raspberryPi.enable = true;
    ssh.authorizedKeys = operatorKeys;
    network.address = null; # DHCP on first boot
  };

  # The SD image pulls in the all-hardware initrd module list; the Raspberry Pi
  # kernel lacks some of those modules, which must not fail the image build.
  nixpkgs.overlays = [
    (final: prev: {
      makeModulesClosure = args: prev.makeModulesClosure (args // { allowMissing = true; });
    })
  ];

  # Deploys never look up <nixpkgs> (system.nix fetches the pinned revision); an
  # operator's nix-shell before the first deploy resolves nixpkgs=flake:nixpkgs,
  # which needs this feature.
  nix.settings.experimental-features = [ "nix-command" "flakes" ];

  # Must equal NIXOS_STATE_VERSION (components/bundle.ts); a test checks it.
  system.stateVersion = "24.11";
}
