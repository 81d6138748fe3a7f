# nats-server's configuration as pure data, from node.json's services.nats
# (components/services/nats.ts), and its rendering to nats-server's own format.
#
# No nixpkgs and no `lib`: the tests evaluate `settings` with a bare
# `nix-instantiate --eval --json`, render it with `render` and run the real
# nats-server on the result.
#
# Secrets never appear here. The rendered config first includes two files from
# the credentials directory that only define variables (password hashes; route
# and leaf URLs with their credentials) and then refers to them as $NAME. That
# is why nodes do not use services.nats.settings: its JSON quotes every value,
# and a quoted "$NAME" or "include" is plain text to nats-server.
let
  b = builtins;

  # A reference to a variable of the secret files: rendered as $NAME.
  var = name: { "$var" = name; };
  isVar = v: b.isAttrs v && b.attrNames v == [ "$var" ];

  hostPort = host: port: "${host}:${toString port}";
  # Null-valued keys are left out (a block that does not apply).
  clean = attrs: b.removeAttrs attrs (b.filter (k: attrs.${k} == null) (b.attrNames attrs));
  optional = cond: value: if cond then value else null;

  # Variable names shared with the secret files (components/services/nats.ts, NATS_VARS).
  vars = {
    routeHash = "NATS_ROUTE_HASH";
    leafHash = "NATS_LEAF_HASH";
    routes = "NATS_ROUTES";
    leafUrls = "NATS_LEAF_URLS";
  };

  settings = n:
    let
      cred = file: "${n.credentials.dir}/${file}";
      tlsFiles = t: {
        cert_file = cred t.cert;
        key_file = cred t.key;
        ca_file = cred t.ca;
        timeout = 5;
      };
      # Clients log in with passwords; routes and the leaf link also prove a certificate of our CA.
      clientTls = t: tlsFiles t;
      mutualTls = t: tlsFiles t // { verify = true; };
      t = n.credentials.tls;
      withTls = tlsOf: optional (t != null) (tlsOf t);

      user = u: clean {
        user = u.name;
        password = var u.hashVariable;
        permissions = optional (u.permissions != null) (clean {
          publish.allow = u.permissions.publish;
          subscribe.allow = u.permissions.subscribe;
          allow_responses = optional u.permissions.allowResponses true;
        });
      };
      usersOf = account: map user (b.filter (u: u.account == account) n.users);
      cluster = n.routes != [ ];
      leaf = n.leafnodeRemotes != [ ];
    in
    clean {
      server_name = n.serverName;
      listen = hostPort "0.0.0.0" n.ports.client;
      # Monitoring has no authentication: loopback only (gates and guards run on the node).
      http = hostPort "127.0.0.1" n.ports.monitor;
      # A restart in a rollout lane hands clients over within 30 s, not the default 2 minutes.
      lame_duck_duration = "30s";
      lame_duck_grace_period = "10s";
      tls = withTls clientTls;
      # Only the odd peer set stores streams; `false`, never `{}` (an empty map turns JetStream on).
      jetstream =
        if n.jetstream then {
          store_dir = n.storeDir;
          max_memory_store = n.maxMemoryStore;
          max_file_store = n.maxFileStore;
        } else false;
      system_account = n.accounts.system;
      accounts = {
        ${n.accounts.app} = {
          jetstream = "enabled";
          users = usersOf n.accounts.app;
        };
        ${n.accounts.system}.users = usersOf n.accounts.system;
      };
      cluster = optional cluster (clean {
        name = n.clusterName;
        listen = hostPort "0.0.0.0" n.ports.cluster;
        # The address the other servers dial; it matches their configured route, so no
        # server tries an extra (implicit) route with other credentials.
        advertise = hostPort n.address n.ports.cluster;
        authorization = {
          user = "route";
          password = var vars.routeHash;
          timeout = 2;
        };
        routes = var vars.routes;
        tls = withTls mutualTls;
      });
      leafnodes =
        if n.leafnodeHub then clean {
          listen = hostPort "0.0.0.0" n.ports.leafnodeHub;
          authorization = {
            user = "leaf";
            password = var vars.leafHash;
            account = n.accounts.app;
            timeout = 2;
          };
          tls = withTls mutualTls;
        }
        else if leaf then {
          remotes = [
            (clean {
              urls = var vars.leafUrls;
              account = n.accounts.app;
              tls = withTls tlsFiles;
            })
          ];
        }
        else null;
    };

  # Files the config includes, relative to its own directory (nats-server joins them to it).
  includes = n:
    [ "./${n.credentials.auth}" ]
    ++ (if n.routes != [ ] || n.leafnodeRemotes != [ ] then [ "./${n.credentials.links}" ] else [ ]);

  # nats-server config text: `key: value`, maps in braces, sorted keys, strings JSON-quoted.
  render = { includes, settings }:
    let
      indent = depth: b.concatStringsSep "" (b.genList (_: "  ") depth);
      value = depth: v:
        if isVar v then "$" + v."$var"
        else if b.isAttrs v then "{\n" + block (depth + 1) v + indent depth + "}"
        else if b.isList v then
          (if v == [ ] then "[]"
          else "[\n" + b.concatStringsSep "" (map (x: indent (depth + 1) + value (depth + 1) x + "\n") v) + indent depth + "]")
        else if b.isBool v then (if v then "true" else "false")
        else if b.isInt v then toString v
        else if b.isString v then b.toJSON v
        else throw "nats.nix: cannot render ${b.typeOf v}";
      block = depth: attrs:
        b.concatStringsSep "" (map (k: "${indent depth}${k}: ${value depth attrs.${k}}\n") (b.attrNames attrs));
    in
    "# nats-server configuration (borg-collective; generated from node.json)\n"
    + b.concatStringsSep "" (map (i: "include ${b.toJSON i}\n") includes)
    + block 0 settings;

  conf = n: render { includes = includes n; settings = settings n; };
in
{
  inherit vars settings includes render conf;
  # Every secret file the node's nats reads (LoadCredential names).
  credentialFiles = n:
    [ n.credentials.auth ]
    ++ (if n.routes != [ ] || n.leafnodeRemotes != [ ] then [ n.credentials.links ] else [ ])
    ++ (if n.credentials.tls != null then [ n.credentials.tls.ca n.credentials.tls.cert n.credentials.tls.key ] else [ ]);
}
