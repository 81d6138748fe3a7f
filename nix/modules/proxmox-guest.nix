# Proxmox VE guest: what virtualisation/proxmox-image.nix gives the template,
# restated for the deployed system. That image module is deliberately NOT
# imported here: with its cloud-init enabled it forces networking.hostName to ""
# and would silently override borg.hostName.
{ config, lib, ... }:
let
  inherit (lib) mkOption mkEnableOption mkIf mkDefault types;
  cfg = config.borg.proxmoxGuest;
in
{
  options.borg.proxmoxGuest = {
    enable = mkEnableOption "Proxmox VE guest settings (disk layout of the borg template image)";
    rootDevice = mkOption {
      type = types.str;
      default = "/dev/vda";
      description = "Disk GRUB is installed on (the template's virtio0 disk).";
    };
  };

  config = mkIf cfg.enable {
    nixpkgs.hostPlatform = mkDefault "x86_64-linux";

    services.qemuGuest.enable = true;

    # virtio devices in the initrd (as profiles/qemu-guest.nix), plus uas as the image module.
    boot.initrd.availableKernelModules = [
      "virtio_net" "virtio_pci" "virtio_mmio" "virtio_blk" "virtio_scsi" "uas"
    ];
    boot.initrd.kernelModules = [ "virtio_balloon" "virtio_console" "virtio_rng" ];

    # Same layout as the template image: legacy (SeaBIOS) disk, ext4 root labelled
    # "nixos" that grows with the virtual disk.
    fileSystems."/" = {
      device = mkDefault "/dev/disk/by-label/nixos";
      fsType = mkDefault "ext4";
      autoResize = mkDefault true;
    };
    boot.growPartition = mkDefault true;
    boot.loader.grub.enable = mkDefault true;
    boot.loader.grub.device = mkDefault cfg.rootDevice;
    # A few seconds to pick an older generation from the Proxmox console.
    boot.loader.timeout = mkDefault 3;
    # Serial console for `qm terminal` (the template has serial0), VGA for noVNC.
    boot.kernelParams = [ "console=tty0" "console=ttyS0,115200" ];

    # cloud-init did its job on the first boot of the clone (user, keys, address,
    # host key). From now on networkd and the host name are declared by borg.*,
    # and the pinned host key is read from the secrets directory, so a later
    # cloud-init run could only fight this configuration. Plain (not mkDefault):
    # re-importing the image module must fail loudly instead of winning.
    services.cloud-init.enable = false;
  };
}
