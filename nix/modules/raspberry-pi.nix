# Raspberry Pi 4: self-contained equivalent of nixos-hardware's raspberry-pi/4
# (that repository is not a channel on the node), plus optional GPIO access.
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption mkEnableOption mkIf mkMerge mkDefault types;
  cfg = config.borg.raspberryPi;
in
{
  options.borg.raspberryPi = {
    enable = mkEnableOption "Raspberry Pi 4 hardware support";
    rootDevice = mkOption {
      type = types.str;
      default = "/dev/disk/by-label/NIXOS_SD";
      description = "Root file system device (the label NixOS' SD image gives it).";
    };
    gpio.enable = mkEnableOption "a `gpio` group with read/write access to /dev/gpiochip* and /dev/gpiomem";
  };

  config = mkIf cfg.enable (mkMerge [
    {
      assertions = [
        {
          # `or false`: this module may be imported without proxmox-guest.nix.
          assertion = !(config.borg.proxmoxGuest.enable or false);
          message = "borg.raspberryPi and borg.proxmoxGuest cannot both be enabled.";
        }
      ];

      nixpkgs.hostPlatform = mkDefault "aarch64-linux";

      # Mainline LTS kernel, as NixOS's own aarch64 SD image boots the Pi 4 with:
      # it is in the binary cache. nixpkgs 26.05 deprecates the Foundation kernel
      # (linux_rpi4: evaluation warning, not cached, so the Pi would compile it)
      # and later releases drop it; override here only for a peripheral that needs it.
      boot.kernelPackages = mkDefault pkgs.linuxPackages;
      boot.initrd.availableKernelModules = [
        "usbhid"
        "usb_storage"
        "vc4"
        "pcie_brcmstb" # PCIe bus (USB 3 controller sits behind it)
        "reset-raspberrypi" # loads the VL805 USB firmware
      ];

      # Firmware -> U-Boot -> extlinux.conf on /boot; no GRUB on this board.
      boot.loader.grub.enable = mkDefault false;
      boot.loader.generic-extlinux-compatible.enable = mkDefault true;

      hardware.deviceTree.filter = mkDefault "bcm2711-rpi-*.dtb";
      # Wi-Fi/Bluetooth firmware.
      hardware.enableRedistributableFirmware = mkDefault true;

      fileSystems."/" = {
        device = mkDefault cfg.rootDevice;
        fsType = mkDefault "ext4";
      };
    }

    (mkIf cfg.gpio.enable {
      users.groups.gpio = { };
      # Character devices only (libgpiod / lgpio). The legacy sysfs interface
      # and `iomem=relaxed` (pigpiod) are left out: both widen access well
      # beyond what a Home Assistant integration needs.
      services.udev.extraRules = ''
        SUBSYSTEM=="gpio", KERNEL=="gpiochip*", GROUP="gpio", MODE="0660"
        KERNEL=="gpiomem*", GROUP="gpio", MODE="0660"
      '';
    })
  ]);
}
