# Home Assistant as data: node.json's services.homeAssistant -> the `services.home-assistant.config`
# attrset nixpkgs renders into configuration.yaml, and the environment of the collective-status
# timer (./collective-status.sh). Pure: no nixpkgs, so the tests evaluate it with a bare
# nix-instantiate. Nothing secret: the location is `!secret` (secrets.yaml, linked from the
# secrets dir), certificates and passwords are paths.
let
  b = builtins;
  secret = name: "!secret ${name}";
in
rec {
  # homeassistant: what the UI would otherwise ask at onboarding. With these keys in YAML the UI
  # shows them read-only: the stack is the source of truth.
  core = ha:
    {
      inherit (ha) name;
      time_zone = ha.timeZone;
      unit_system = ha.unitSystem;
    }
    // (if ha.location then {
      latitude = secret "latitude";
      longitude = secret "longitude";
      elevation = secret "elevation";
    } else { });

  # http: loopback and the node's LAN address only, HTTPS when a certificate is given, banned
  # after repeated failed logins; forwarded headers only from listed proxies (none by default).
  http = h:
    {
      server_port = h.port;
      server_host = h.serverHosts;
      ip_ban_enabled = h.ipBan.enabled;
      login_attempts_threshold = h.ipBan.loginAttemptsThreshold;
    }
    // (if h.tls != null then {
      ssl_certificate = h.tls.certFile;
      ssl_key = h.tls.keyFile;
    } else { })
    // (if h.useXForwardedFor then {
      use_x_forwarded_for = true;
      trusted_proxies = h.trustedProxies;
    } else { });

  # The collective's health as one sensor: the state is healthy/degraded/down, the rest of the
  # JSON document (problems, Consul, NATS, time) its attributes. Unavailable once the timer stops.
  statusSensor = s: {
    name = "Collective status";
    unique_id = "borg_collective_status";
    state_topic = s.topic;
    value_template = "{{ value_json.state }}";
    json_attributes_topic = s.topic;
    expire_after = s.expireAfterSeconds;
    icon = "mdi:hexagon-multiple";
  };

  # The `services.home-assistant.config` value. default_config is a YAML key as well as a
  # component: listing it in extraComponents only builds its dependencies.
  config = ha:
    {
      homeassistant = core ha;
      http = http ha.http;
    }
    // (if b.elem "default_config" ha.extraComponents then { default_config = { }; } else { })
    // (if ha.collectiveStatus != null then { mqtt.sensor = [ (statusSensor ha.collectiveStatus) ]; } else { });

  # The status timer's environment; its password (and Consul's CA) arrive as systemd credentials.
  statusEnvironment = node: s:
    {
      BORG_NODE = node;
      BORG_STATUS_TOPIC = s.topic;
      BORG_STATUS_MQTT_PORT = toString s.mqttPort;
      BORG_STATUS_MQTT_USER = s.mqttUser;
    }
    // (if s.consul != null then {
      BORG_STATUS_CONSUL_URL = s.consul.url;
      BORG_STATUS_CONSUL_SERVERS = toString s.consul.servers;
    } else { })
    // (if s.nats != null then { BORG_STATUS_NATS_URL = s.nats.monitorUrl; } else { });

  # systemd credentials of the status unit: name -> file (root-only files, handed over by systemd).
  statusCredentials = s:
    [ "mqtt-password:${s.passwordFile}" ]
    ++ (if s.consul != null && s.consul.caFile != null then [ "consul-ca:${s.consul.caFile}" ] else [ ]);
}
