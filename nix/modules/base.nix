# Identity, network, deploy user, SSH, secrets ownership and host hardening:
# what every borg node (queen, drone, edge) has in common.
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption mkIf mkDefault types;
  cfg = config.borg;

  # Absolute paths are kept as strings on purpose: a Nix path value would be
  # copied into the world-readable store when interpolated.
  absPath = types.strMatching "/.+";
  accountName = types.strMatching "[a-z_][a-z0-9_-]*";
  ipv4 = types.strMatching "[0-9]{1,3}(\\.[0-9]{1,3}){3}";

  # Beats NixOS' own mkDefault sysctls, still loses to a plain definition elsewhere.
  soft = lib.mkOverride 900;

  peerType = types.submodule {
    options = {
      name = mkOption { type = types.str; description = "Peer host name."; };
      role = mkOption { type = types.enum [ "queen" "drone" "edge" ]; description = "Peer role."; };
      address = mkOption { type = ipv4; description = "Peer IPv4 address."; };
    };
  };

  secretFileType = types.submodule {
    options = {
      # A bare file name: no slash, so it cannot point outside the secrets directory.
      name = mkOption { type = types.strMatching "[A-Za-z0-9][A-Za-z0-9._-]*"; description = "File name inside the secrets directory."; };
      owner = mkOption { type = accountName; default = "root"; description = "User that must own the file (the consuming service)."; };
      group = mkOption { type = accountName; default = "root"; description = "Group of the file."; };
    };
  };

  esc = lib.escapeShellArg;
  getent = "${pkgs.getent}/bin/getent";

  # Secrets are uploaded before activation, possibly before their owner exists
  # (the service user is created by this very activation). Re-apply ownership
  # once users and groups are in place; never read the content.
  secretsScript = ''
    if [ -d ${esc cfg.secrets.dir} ]; then
      chmod 0711 ${esc cfg.secrets.dir}
    fi
  '' + lib.concatMapStrings (f:
    let path = "${cfg.secrets.dir}/${f.name}"; in ''
      if [ -e ${esc path} ]; then
        if ${getent} passwd ${esc f.owner} >/dev/null && ${getent} group ${esc f.group} >/dev/null; then
          chown ${esc "${f.owner}:${f.group}"} ${esc path}
        else
          echo ${esc "borg-secrets: ${f.owner}:${f.group} does not exist; ${f.name} keeps its current owner"} >&2
        fi
        chmod 0400 ${esc path}
      fi
    '') cfg.secrets.files;

  # Point `<nixpkgs>` at the nixpkgs this system was built from (the revision
  # pinned in pin.json), so an operator's nix-shell on the node uses the same
  # packages. Deploys do not depend on it: system.nix fetches the pin itself.
  nixpkgsSrc = toString pkgs.path;
  pinNixpkgs = cfg.pinNixpkgs
    && config.nixpkgs.flake.source == null # flake builds pin through nixpkgs.flake.* already
    && lib.hasPrefix "${builtins.storeDir}/" nixpkgsSrc;
  # storePath gives the string a store context: the sources stay in the closure (GC-safe).
  pinnedNixPath = [ "nixpkgs=${builtins.storePath nixpkgsSrc}" ];
in
{
  options.borg = {
    hostName = mkOption {
      type = types.strMatching "[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?";
      description = "Host name of the node (also its name in the collective).";
    };
    domain = mkOption {
      type = types.nullOr types.str;
      default = null;
      description = "DNS domain of the node network.";
    };
    role = mkOption {
      type = types.enum [ "queen" "drone" "edge" ];
      description = "Role of the node in the collective.";
    };
    platform = mkOption {
      type = types.enum [ "proxmox-vm" "raspberry-pi-4" "generic" ];
      default = "generic";
      description = "What the node runs on; selects the hardware module.";
    };
    stack = mkOption {
      type = types.str;
      default = "";
      description = "Pulumi stack that deployed the node (informational).";
    };
    securityLevel = mkOption {
      type = types.enum [ "dev" "staging" "prod" ];
      default = "prod";
      description = "Security level of the stack; later modules tighten settings on staging/prod.";
    };
    capabilities = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "gpu" "high-memory" ];
      description = "Capabilities of the node (become Kubernetes node labels).";
    };

    network = {
      address = mkOption {
        type = types.nullOr ipv4;
        default = null;
        description = "Static IPv4 address; null means DHCP (first boot of an image).";
      };
      prefixLength = mkOption {
        type = types.ints.between 1 32;
        default = 24;
        description = "IPv4 prefix length of the node network.";
      };
      gateway = mkOption {
        type = types.nullOr ipv4;
        default = null;
        description = "Default IPv4 gateway.";
      };
      dns = mkOption {
        type = types.listOf types.str;
        default = [ ];
        description = "DNS servers.";
      };
    };

    ssh = {
      user = mkOption {
        type = accountName;
        default = "borg";
        description = "Deploy user: the only user allowed to log in over SSH, passwordless sudo.";
      };
      authorizedKeys = mkOption {
        type = types.listOf types.str;
        default = [ ];
        description = "Public keys allowed to log in as the deploy user.";
      };
      hostKeyFile = mkOption {
        type = types.nullOr absPath;
        default = null;
        example = "/var/lib/borg/secrets/ssh_host_ed25519_key";
        description = "Pinned ed25519 host key (a path, never read by Nix); null keeps the keys in /etc/ssh.";
      };
    };

    storage.osdDevice = mkOption {
      type = types.nullOr absPath;
      default = null;
      example = "/dev/vdb";
      description = "Block device reserved for a Ceph OSD, or null.";
    };

    peers = mkOption {
      type = types.listOf peerType;
      default = [ ];
      description = "Other nodes of the collective.";
    };

    secrets = {
      dir = mkOption {
        type = absPath;
        default = "/var/lib/borg/secrets";
        description = "Directory the deployer uploads secret files to (outside the Nix store).";
      };
      files = mkOption {
        type = types.listOf secretFileType;
        default = [ ];
        description = "Secret files expected in the secrets directory, with their owners.";
      };
    };

    pinNixpkgs = mkOption {
      type = types.bool;
      default = true;
      description = "Point NIX_PATH's nixpkgs at the (store) nixpkgs this system was built from.";
    };
  };

  config = {
    assertions = [
      {
        assertion = cfg.ssh.authorizedKeys != [ ];
        message = "borg.ssh.authorizedKeys is empty: the node would be unreachable (password login is off).";
      }
      {
        assertion = cfg.network.address != null -> cfg.network.gateway != null;
        message = "borg.network.gateway must be set with a static borg.network.address.";
      }
    ];

    # --- identity ---
    networking.hostName = cfg.hostName;
    networking.domain = cfg.domain;
    environment.etc."borg/role".text = cfg.role;

    # --- network: systemd-networkd, static IPv4 (DHCP only when no address is given) ---
    networking.useNetworkd = true;
    networking.useDHCP = false;
    networking.nameservers = cfg.network.dns;
    systemd.network.networks."10-lan" = {
      # Proxmox virtio NICs are ens18 etc., the Pi 4 is end0; older naming gives eth0.
      matchConfig.Name = "en* eth*";
      address = lib.optional (cfg.network.address != null)
        "${cfg.network.address}/${toString cfg.network.prefixLength}";
      gateway = lib.optional (cfg.network.gateway != null) cfg.network.gateway;
      dns = cfg.network.dns;
      domains = lib.optional (cfg.domain != null) cfg.domain;
      DHCP = if cfg.network.address == null then "ipv4" else "no";
      linkConfig.RequiredForOnline = "routable";
    };

    # --- deploy user: keys only, no password, passwordless sudo for this user alone ---
    # On machines built from our images accounts are declared, not accumulated.
    # An existing host ("generic") keeps its own accounts: switching it to
    # immutable users would delete or lock every account it did not declare.
    users.mutableUsers = mkDefault (cfg.platform == "generic");
    users.users.${cfg.ssh.user} = {
      isNormalUser = true;
      # wheel: needed to execute sudo at all (execWheelOnly below).
      extraGroups = [ "wheel" ];
      homeMode = "700";
      openssh.authorizedKeys.keys = cfg.ssh.authorizedKeys;
    };
    security.sudo.enable = true;
    security.sudo.execWheelOnly = true;
    security.sudo.extraRules = [
      {
        users = [ cfg.ssh.user ];
        commands = [ { command = "ALL"; options = [ "NOPASSWD" ]; } ];
      }
    ];

    # --- SSH ---
    services.openssh = {
      enable = true;
      settings = {
        PasswordAuthentication = false;
        KbdInteractiveAuthentication = false;
        PermitRootLogin = "no";
        X11Forwarding = false;
        # Only the deployer may log in on our images; an existing host keeps its
        # operators' key logins (passwords and root are off everywhere).
        AllowUsers = mkIf (cfg.platform != "generic") [ cfg.ssh.user ];
      };
      # The pinned key the deployer already trusts (uploaded before activation);
      # without one, keep the NixOS default keys in /etc/ssh.
      hostKeys = mkIf (cfg.ssh.hostKeyFile != null) [
        { type = "ed25519"; path = cfg.ssh.hostKeyFile; }
      ];
    };

    # --- secrets: root-owned 0711 directory, files 0400 owned by their consumer ---
    systemd.tmpfiles.rules = [
      "d /var/lib/borg 0711 root root -"
      "d ${cfg.secrets.dir} 0711 root root -"
    ];
    system.activationScripts.borg-secrets = {
      deps = [ "users" "groups" ];
      text = secretsScript;
    };

    # --- Nix daemon: only root and the deployer talk to it ---
    nix.settings.allowed-users = mkDefault [ "root" cfg.ssh.user ];
    # The deployer is root through sudo anyway; trusting it lets it build/copy closures.
    nix.settings.trusted-users = [ "root" cfg.ssh.user ];
    # No nixos-config entry: the deployer builds <bundle>/system.nix, and a bare
    # `nixos-rebuild` on the node should fail rather than build something else.
    nix.nixPath = mkIf pinNixpkgs (mkDefault pinnedNixPath);
    # Same value in nix.conf: `sudo` resets the environment, NIX_PATH included.
    nix.settings.nix-path = mkIf pinNixpkgs (lib.mkOverride 900 pinnedNixPath);

    # --- kernel hardening safe for routers of pod traffic (k3s) ---
    boot.kernel.sysctl = {
      # Loose reverse-path filtering: strict mode drops the asymmetric paths of
      # overlay networks; the firewall's own reverse-path check still applies.
      "net.ipv4.conf.all.rp_filter" = soft 2;
      "net.ipv4.conf.default.rp_filter" = soft 2;
      # Never let the LAN rewrite our routes, never tell it to rewrite its own.
      "net.ipv4.conf.all.accept_redirects" = soft 0;
      "net.ipv4.conf.default.accept_redirects" = soft 0;
      "net.ipv4.conf.all.secure_redirects" = soft 0;
      "net.ipv4.conf.default.secure_redirects" = soft 0;
      "net.ipv6.conf.all.accept_redirects" = soft 0;
      "net.ipv6.conf.default.accept_redirects" = soft 0;
      "net.ipv4.conf.all.send_redirects" = soft 0;
      "net.ipv4.conf.default.send_redirects" = soft 0;
      "net.ipv4.conf.all.accept_source_route" = soft 0;
      "net.ipv6.conf.all.accept_source_route" = soft 0;
      "net.ipv4.tcp_syncookies" = soft 1;
      "net.ipv4.icmp_echo_ignore_broadcasts" = soft 1;
      "kernel.dmesg_restrict" = soft 1;
    };
    # fail2ban is left out on purpose: password logins are off, and on a LAN it
    # would mostly ban the deployer after a burst of failed key attempts.

    # --- logs survive reboots (the rollback guard is debugged from them), bounded for SD cards ---
    services.journald.extraConfig = ''
      Storage=persistent
      SystemMaxUse=1G
    '';
  };
}
