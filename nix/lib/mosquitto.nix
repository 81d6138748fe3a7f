# Mosquitto as data: node.json's services.mqtt -> the exact `services.mosquitto` settings the
# NixOS module (../modules/services/mosquitto.nix) passes on, and `render`, which writes the files
# nixpkgs' mosquitto module makes of them (mosquitto.conf, acl-N.conf, passwd-N). Pure: no nixpkgs,
# so the tests evaluate it with a bare nix-instantiate and run the real broker on the result.
let
  b = builtins;
  nameValue = name: value: { inherit name value; };
  sortedAttrs = attrs: map (n: nameValue n attrs.${n}) (b.attrNames attrs); # attrNames is sorted
  optionToString = v: if b.isBool v then (if v then "true" else "false") else toString v;
  freeform = attrs: map (kv: "${kv.name} ${optionToString kv.value}") (sortedAttrs attrs);
in
rec {
  # Global settings: a persistent session per bridge and room to queue while the queen is away.
  globalSettings = {
    max_queued_messages = 10000;
    autosave_interval = 300;
    persistent_client_expiration = "14d";
  };

  listener = mqtt: l: {
    inherit (l) port address;
    # The bridge listener knows its clients by certificate: the CN is the user name.
    omitPasswordAuth = l.clientCertificates;
    acl = [ ];
    # Every listener carries every user, so all ACL files are the same: mosquitto 2.1's ACL plugin
    # may apply one listener's file to all (eclipse-mosquitto/mosquitto#3653), and then nothing
    # changes. A bridge identity has no password (it cannot log in on a password listener), and the
    # bridge listener takes no passwords (omitPasswordAuth), only certificates from the stack's CA.
    users = b.listToAttrs (
      map (u: nameValue u.name { hashedPasswordFile = u.hashFile; acl = u.acl; }) mqtt.users
      ++ map (u: nameValue u.name { acl = u.acl; }) mqtt.bridgeUsers
    );
    settings =
      { allow_anonymous = l.allowAnonymous; }
      // (if l.tls then {
        cafile = mqtt.tls.caFile;
        certfile = mqtt.tls.certFile;
        keyfile = mqtt.tls.keyFile;
        tls_version = "tlsv1.2";
      } else { })
      // (if l.clientCertificates then {
        require_certificate = true;
        use_identity_as_username = true;
      } else { });
  };

  bridges = mqtt:
    if mqtt.bridge == null then { } else {
      ${mqtt.bridge.clientId} = {
        addresses = [ { inherit (mqtt.bridge) address port; } ];
        # both ways, QoS 1: nothing acknowledged is lost while the link is down
        topics = map (t: "${t} both 1") mqtt.bridge.topics;
        settings = {
          bridge_cafile = mqtt.bridge.caFile;
          bridge_certfile = mqtt.bridge.certFile;
          bridge_keyfile = mqtt.bridge.keyFile;
          bridge_protocol_version = "mqttv311";
          remote_clientid = mqtt.bridge.clientId;
          cleansession = false;
          try_private = true;
          notifications = true;
          restart_timeout = "2 30";
        };
      };
    };

  # The `services.mosquitto` values for this node.
  config = mqtt: {
    listeners = map (listener mqtt) mqtt.listeners;
    bridges = bridges mqtt;
    settings = globalSettings;
  };

  # What nixpkgs' mosquitto module writes for `cfg` (nixos/modules/services/networking/mosquitto.nix:
  # formatGlobal, formatListener, formatBridge, makeACLFile and the preStart password files).
  # Default logDest/persistence as the module has them.
  render = { dataDir }: cfg:
    let
      indexed = b.genList (i: { idx = i; l = b.elemAt cfg.listeners i; }) (b.length cfg.listeners);
      listenerLines = { idx, l }:
        [ "listener ${toString l.port} ${l.address}" "acl_file ${dataDir}/acl-${toString idx}.conf" ]
        ++ (if l.omitPasswordAuth then [ ] else [ "password_file ${dataDir}/passwd-${toString idx}" ])
        ++ freeform l.settings;
      bridgeLines = kv:
        [ "connection ${kv.name}" "addresses ${b.concatStringsSep " " (map (a: "${a.address}:${toString a.port}") kv.value.addresses)}" ]
        ++ map (t: "topic ${t}") kv.value.topics
        ++ freeform kv.value.settings;
      aclFile = { idx, l }: b.concatStringsSep "\n" (l.acl ++ b.concatLists (map (kv: [ "user ${kv.name}" ] ++ map (t: "topic ${t}") kv.value.acl) (sortedAttrs l.users)));
      passwdEntries = { idx, l }: map (kv: { user = kv.name; hashFile = kv.value.hashedPasswordFile; })
        (b.filter (kv: kv.value ? hashedPasswordFile) (sortedAttrs l.users));
    in
    {
      conf = b.concatStringsSep "\n" (
        [ "per_listener_settings true" "persistence true" "log_dest stderr" ]
        ++ freeform cfg.settings
        ++ b.concatLists (map listenerLines indexed)
        ++ b.concatLists (map bridgeLines (sortedAttrs cfg.bridges))
      );
      acl = map (x: { name = "acl-${toString x.idx}.conf"; text = aclFile x; }) indexed;
      # passwd-N: one `user:<hash file content>` line per user, in this order.
      passwd = map (x: { name = "passwd-${toString x.idx}"; entries = passwdEntries x; }) (b.filter (x: !x.l.omitPasswordAuth) indexed);
    };
}
