# The Proxmox VM template every queen/drone is cloned from.
#   nix build ./nix#proxmox-template            (config.system.build.VMA, nixpkgs from flake.lock)
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

  # Deploys never look up <nixpkgs> (system.nix fetches the pinned revision, the
  # same one this image is built from, so it is already in the store). For an
  # operator's nix-shell before the first deploy, NIX_PATH here is
  # nixpkgs=flake:nixpkgs (the flake default), which needs the flakes feature.
  nix.settings.experimental-features = [ "nix-command" "flakes" ];
  nix.settings.trusted-users = [ "root" "@wheel" ];

  # The state format of every clone's first boot: must equal NIXOS_STATE_VERSION
  # (components/bundle.ts), which the deployed nodes keep (a test checks it).
  system.stateVersion = "24.11";
}
