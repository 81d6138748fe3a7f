# What a node builds: the NixOS system of ./configuration.nix against the one
# nixpkgs revision the repository pins in ./pin.json.
#
#   nix-build <bundle>/system.nix -A system --no-out-link      (node-scripts/activate.sh)
#
# There is no <nixpkgs> lookup anywhere on the node side, so channels and
# NIX_PATH on the node play no part: every node of a stack builds from the same
# revision, and only a reviewed change of pin.json (which is in the bundle hash)
# moves it. nix/flake.lock pins the same revision for the template and SD image.
let
  pin = builtins.fromJSON (builtins.readFile ./pin.json);

  # fetchTarball's sha256 is the NAR hash of the unpacked tree (the single
  # top-level directory of GitHub's archive stripped), the same value as a flake
  # lock's narHash: a tarball that does not match is rejected before evaluation.
  # The default name "source" gives the same store path as the flake input, so a
  # template built from the flake already holds it and the first deploy
  # downloads nothing.
  nixpkgs = builtins.fetchTarball {
    url = "https://github.com/NixOS/nixpkgs/archive/${pin.rev}.tar.gz";
    sha256 = pin.narHash;
  };
in
import "${nixpkgs}/nixos" { configuration = ./configuration.nix; }
