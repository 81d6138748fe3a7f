# The Proxmox VM template every queen/drone is cloned from.
#   nix build ./nix#proxmox-template            (flake; 24.11: config.system.build.VMA)
#   then on the PVE host: qmrestore vzdump-qemu-*.vma.zst <templateVmId> --unique true && qm template <templateVmId>
#
# Cloud-init stays ENABLED here: on the first boot of a clone Proxmox hands it
# the deploy user, its keys, the static address and
# the pinned SSH host key (vendor-data snippet). The first borg deploy then takes over and turns
# cloud-init off (modules/proxmox-guest.nix).
{ lib, modulesPath, ... }:
{
  imports = [ (modulesPath + "/virtualisation/proxmox-image.nix") ];

  nixpkgs.hostPlatform = "x86_64-linux";

  proxmox.qemuConf = {
    name = "borg-nixos-template";
    cores = 2;
    memory = 2048;
  };
  proxmox.cloudInit.enable = true;

  # The user Proxmox' `ciuser` names (borg:ssh.user) is cloud-init's default
  # user: put it in wheel so it can sudo for the first deploy. system_info is
  # restated whole because setting it replaces the module's default.
  services.cloud-init.settings = {
    system_info = {
      distro = "nixos";
      network.renderers = [ "networkd" ];
      default_user = {
        name = "borg";
        groups = [ "wheel" ];
        lock_passwd = true;
        shell = "/run/current-system/sw/bin/bash";
      };
    };
    users = [ "default" ];
    disable_root = true;
    ssh_pwauth = false;
  };
  # The cloud-init user has no password: sudo must not ask for one.
  security.sudo.wheelNeedsPassword = false;

  services.qemuGuest.enable = true;

  services.openssh = {
    enable = true;
    settings = {
      PasswordAuthentication = false;
      KbdInteractiveAuthentication = false;
      PermitRootLogin = "no";
    };
  };

  # nixpkgs.flake.setNixPath keeps its default (on for flake builds): NIX_PATH
  # gets nixpkgs=flake:nixpkgs, resolved through the system registry to the
  # nixpkgs this image was built from. Resolving a `flake:` entry needs the
  # flakes feature; after the first deploy base.nix pins a plain store path.
  nix.settings.experimental-features = [ "nix-command" "flakes" ];
  nix.settings.trusted-users = [ "root" "@wheel" ];

  system.stateVersion = "24.11";
}
