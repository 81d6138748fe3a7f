// The NATS / MQTT policies: node broker settings judged on the real prod NixosHosts (queen and Pi
// run mosquitto, every node NATS), broker files judged on a compliant ConfigMap (its nats.conf
// passes `nats-server -t`, its mosquitto.conf starts mosquitto 2.0, its passwd comes from
// mosquitto_passwd). Each mutated copy fails with resource, field and fix.
import type { ResourceValidationPolicy } from "@pulumi/policy";
import * as fs from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { messagingPolicies } from "../../policy/messaging/index.ts";
import { runPolicies, runResourcePolicy, type EnforcementConfig, type PlanResource, type SingleRun } from "../../scripts/lib/policyRunner.js";
import { synth, type Synth } from "../helpers.js";
import { mutate, expectViolation, INFRA_FIXTURE, type Obj } from "./harness.js";

const NAMES = ["broker-no-anonymous", "broker-tls", "broker-hashed-passwords", "mqtt-acl-per-user", "nats-user-permissions"];
const FIXTURE = INFRA_FIXTURE;

const policy = (name: string): ResourceValidationPolicy => {
  const p = messagingPolicies.find((q) => q.name === name);
  if (!p) throw new Error(`no policy ${name}`);
  return p;
};
const run = (name: string, r: PlanResource, config: EnforcementConfig = {}) => runResourcePolicy(policy(name), r, config);

const BCRYPT = "$2a$11$PWIFAL8RsWyGI3jVZtO9Nu8.6jOxzxfZo7c/W0eLk017hjgUKWrhy";
const NATS_CONF = `server_name: nats-0
listen: 0.0.0.0:4222
tls {
  cert_file: /etc/nats/tls/tls.crt
  key_file: /etc/nats/tls/tls.key
  ca_file: /etc/nats/tls/ca.crt
}
accounts {
  APP {
    users: [
      { user: app, password: "${BCRYPT}", permissions: { publish: ["app.>"], subscribe: ["app.>", "_INBOX.>"] } }
    ]
  }
}
jetstream {
  store_dir: /data
}
cluster {
  name: hive
  listen: 0.0.0.0:6222
  tls {
    cert_file: /etc/nats/tls/tls.crt
    key_file: /etc/nats/tls/tls.key
    ca_file: /etc/nats/tls/ca.crt
    verify: true
  }
  routes: ["nats-route://nats-1.nats:6222"]
}
leafnodes {
  port: 7422
  tls {
    cert_file: /etc/nats/tls/tls.crt
    key_file: /etc/nats/tls/tls.key
  }
}
`;
const MOSQUITTO_CONF = `per_listener_settings false
allow_anonymous false
password_file /mosquitto/config/passwd
listener 8883
certfile /mosquitto/certs/tls.crt
keyfile /mosquitto/certs/tls.key
listener 1883 127.0.0.1
`;
const PASSWD = "homeassistant:$7$101$klrCHMHnBRhswTub$k2FEEb+oKNYUi4PFvpQ5QTcIOVRpEA3rA66+y78dKr+9sMKB7tcpeEmVt0p6vcCXZJDEzlp49ZULXheakFGmVA==\n";

const configMap: PlanResource = {
  urn: "urn:pulumi:test::borg-collective::kubernetes:core/v1:ConfigMap::brokers",
  type: "kubernetes:core/v1:ConfigMap",
  name: "brokers",
  inputs: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "brokers", namespace: "messaging" }, data: { "nats.conf": NATS_CONF, "mosquitto.conf": MOSQUITTO_CONF, passwd: PASSWD } },
};
const withData = (key: string, text: string) => mutate(configMap, (i) => (i.data[key] = text));

let prod: Synth;
let queen: PlanResource;
let pi: PlanResource;
beforeAll(async () => {
  prod = await synth("prod");
  queen = prod.byName("queen-nixos");
  pi = prod.byName("edge-pi-nixos");
});

describe("the committed prod plan", () => {
  it("runs brokers with listeners and NATS on every node", () => {
    expect(queen.inputs.nodeConfig).toMatchObject({ services: { mqtt: { enable: true }, nats: { enable: true } } });
    expect((pi.inputs.nodeConfig as Obj).services.mqtt.bridge).toMatchObject({ tls: true });
  });

  it.each(NAMES)("%s: zero violations on every resource", async (name) => {
    for (const r of prod.plan.resources) expect((await run(name, r)).violations, r.name).toEqual([]);
  });

  it.each(NAMES)("%s: zero violations on the compliant ConfigMap", async (name) => {
    expect((await run(name, configMap)).violations).toEqual([]);
  });

  it("every rule is exported once, named and described", () => {
    expect(messagingPolicies.map((p) => p.name)).toEqual(NAMES);
  });
});

describe("broker-no-anonymous", () => {
  it("fails an anonymous MQTT listener on the LAN, not on loopback", async () => {
    const lan = mutate(queen, (i) => (i.nodeConfig.services.mqtt.listeners[0].allowAnonymous = true));
    expectViolation(await run("broker-no-anonymous", lan), "queen-nixos", "nodeConfig.services.mqtt.listeners[0].allowAnonymous", /0\.0\.0\.0:8883/);
    const loopback = mutate(queen, (i) => (i.nodeConfig.services.mqtt.listeners[1].allowAnonymous = true));
    expect((await run("broker-no-anonymous", loopback)).violations).toEqual([]);
  });

  it("fails NATS without required authorization", async () => {
    const r = mutate(pi, (i) => (i.nodeConfig.services.nats.authorization.required = false));
    expectViolation(await run("broker-no-anonymous", r), "edge-pi-nixos", "nodeConfig.services.nats.authorization.required", /without credentials/);
  });

  it("fails allow_anonymous true in mosquitto.conf (global without per_listener_settings)", async () => {
    const r = withData("mosquitto.conf", MOSQUITTO_CONF.replace("allow_anonymous false", "allow_anonymous true"));
    expectViolation(await run("broker-no-anonymous", r), "brokers", 'data["mosquitto.conf"] (line 2)', /\*:8883/);
  });

  it("with per_listener_settings, allows anonymous only on the loopback listener", async () => {
    const perListener = `per_listener_settings true\nlistener 8883\ncertfile /c\nkeyfile /k\nallow_anonymous false\npassword_file /p\nlistener 1883 127.0.0.1\nallow_anonymous true\n`;
    expect((await run("broker-no-anonymous", withData("mosquitto.conf", perListener))).violations).toEqual([]);
    const open = perListener.replace("allow_anonymous false", "allow_anonymous true");
    expectViolation(await run("broker-no-anonymous", withData("mosquitto.conf", open)), "brokers", 'data["mosquitto.conf"] (line 5)');
  });

  it("fails nats.conf without an authorization or accounts block", async () => {
    const r = withData("nats.conf", "port: 4222\njetstream {\n  store_dir: /data\n}\n");
    expectViolation(await run("broker-no-anonymous", r), "brokers", 'data["nats.conf"]', /no authorization or accounts block/);
  });

  it("fails nats.conf with no_auth_user, and an authorization block without users", async () => {
    const r = withData("nats.conf", NATS_CONF.replace("accounts {", "no_auth_user: app\naccounts {"));
    expectViolation(await run("broker-no-anonymous", r), "brokers", 'data["nats.conf"] (line 8)', /no_auth_user/);
    const empty = withData("nats.conf", "port: 4222\nauthorization {\n  timeout: 2\n}\n");
    expectViolation(await run("broker-no-anonymous", empty), "brokers", 'data["nats.conf"] (line 2)', /without users or a token/);
  });

  it("does not judge other types", async () => {
    expect((await run("broker-no-anonymous", prod.byName("queen-vm-qemu"))).notApplicable).toBeDefined();
  });
});

describe("broker-tls", () => {
  it("fails NATS without TLS on a node", async () => {
    expectViolation(await run("broker-tls", mutate(queen, (i) => (i.nodeConfig.services.nats.tls = false))), "queen-nixos", "nodeConfig.services.nats.tls", /clear text/);
  });

  it("fails a plaintext MQTT listener on the LAN, not on loopback", async () => {
    const r = mutate(queen, (i) => (i.nodeConfig.services.mqtt.listeners[0].tls = false));
    const result = await run("broker-tls", r);
    expectViolation(result, "queen-nixos", "nodeConfig.services.mqtt.listeners[0].tls", /0\.0\.0\.0:8883/);
    expect(result.violations).toHaveLength(1); // listeners[1] is 127.0.0.1 without TLS: fine
  });

  it("fails a plaintext MQTT bridge", async () => {
    expectViolation(await run("broker-tls", mutate(pi, (i) => (i.nodeConfig.services.mqtt.bridge.tls = false))), "edge-pi-nixos", "nodeConfig.services.mqtt.bridge.tls");
  });

  it("fails nats.conf cluster and leafnodes blocks without tls, and no client tls", async () => {
    const text = "port: 4222\naccounts { A { users: [ {user: a, password: \"" + BCRYPT + "\"} ] } }\ncluster {\n  name: hive\n  listen: 0.0.0.0:6222\n}\nleafnodes {\n  port: 7422\n}\n";
    const result = await run("broker-tls", withData("nats.conf", text));
    expectViolation(result, "brokers", 'data["nats.conf"]', /no top-level tls block/);
    expectViolation(result, "brokers", 'data["nats.conf"] (line 3)', /cluster block has no tls/);
    expectViolation(result, "brokers", 'data["nats.conf"] (line 7)', /leafnodes block has no tls/);
  });

  it("accepts a leafnode client whose remotes use tls://", async () => {
    const text = NATS_CONF.replace(/leafnodes \{[\s\S]*$/, 'leafnodes {\n  remotes: [ { url: "tls://hub.hive.lan:7422", credentials: /etc/nats/leaf.creds } ]\n}\n');
    expect((await run("broker-tls", withData("nats.conf", text))).violations).toEqual([]);
    const clear = text.replace("tls://", "nats-leaf://");
    expectViolation(await run("broker-tls", withData("nats.conf", clear)), "brokers", 'data["nats.conf"] (line 29)', /leafnodes block has no tls/);
  });

  it("fails a mosquitto listener on the LAN without certfile", async () => {
    const r = withData("mosquitto.conf", MOSQUITTO_CONF.replace(/certfile.*\nkeyfile.*\n/, ""));
    expectViolation(await run("broker-tls", r), "brokers", 'data["mosquitto.conf"] (line 4)', /listener \*:8883 has no certfile/);
  });

  it("does not judge other types", async () => {
    expect((await run("broker-tls", prod.byName("queen-nixos-activate"))).notApplicable).toBeDefined();
  });
});

describe("broker-hashed-passwords", () => {
  it("fails a plaintext NATS password (quoted or bare) and token", async () => {
    const text = NATS_CONF.replace(`"${BCRYPT}"`, '"app-plaintext-pw"').replace("accounts {", "authorization {\n  token: s3cr3t-token\n}\naccounts {");
    const result = await run("broker-hashed-passwords", withData("nats.conf", text));
    expectViolation(result, "brokers", 'data["nats.conf"] (line 9)', /authorization\.token is a plaintext token/);
    expectViolation(result, "brokers", 'data["nats.conf"] (line 14)', /accounts\.APP\.users\[0\]\.password is a plaintext password/);
  });

  it("accepts bcrypt (even unquoted) and $VARIABLE references", async () => {
    const bare = NATS_CONF.replace(`"${BCRYPT}"`, BCRYPT);
    expect((await run("broker-hashed-passwords", withData("nats.conf", bare))).violations).toEqual([]);
    const variable = NATS_CONF.replace(`"${BCRYPT}"`, "$APP_PASSWORD");
    expect((await run("broker-hashed-passwords", withData("nats.conf", variable))).violations).toEqual([]);
  });

  it("fails a plaintext line in a mosquitto password file", async () => {
    const result = await run("broker-hashed-passwords", withData("passwd", `${PASSWD}sensor:plaintext\n`));
    expectViolation(result, "brokers", 'data["passwd"] (line 2)', /entry for sensor is a plaintext password/);
  });

  it("finds the password file by the name password_file gives it", async () => {
    const r = mutate(configMap, (i) => {
      delete i.data.passwd;
      i.data["mosquitto.conf"] = MOSQUITTO_CONF.replace("/mosquitto/config/passwd", "/mosquitto/config/users.txt");
      i.data["users.txt"] = "ha:plain\n";
    });
    expectViolation(await run("broker-hashed-passwords", r), "brokers", 'data["users.txt"] (line 1)');
  });

  it("does not judge other types", async () => {
    expect((await run("broker-hashed-passwords", queen)).notApplicable).toBeDefined();
  });
});

describe("infra-insecure.json", () => {
  it("trips every NATS / MQTT rule", async () => {
    const fixture = JSON.parse(fs.readFileSync(FIXTURE, "utf8")) as { resources: PlanResource[] };
    const report = await runPolicies(messagingPolicies, fixture.resources, { all: "mandatory" });
    const tripped = new Set(report.violations.map((v) => v.policy));
    expect(NAMES.filter((n) => !tripped.has(n))).toEqual([]);
  });
});

describe("mqtt-acl-per-user", () => {
  const acl = messagingPolicies.find((p) => p.name === "mqtt-acl-per-user")!;
  let prod: Synth;
  beforeAll(async () => {
    prod = await synth("prod");
  });
  const mqttOf = (i: Obj) => i.nodeConfig.services.mqtt as Obj;

  it("passes the committed brokers (queen with its bridge identity, the Pi)", async () => {
    for (const host of ["queen-nixos", "edge-pi-nixos"]) expect((await runResourcePolicy(acl, prod.byName(host))).violations, host).toEqual([]);
  });

  it("is not applicable where no broker runs", async () => {
    expect((await runResourcePolicy(acl, prod.byName("drone-1-nixos"))).notApplicable).toMatch(/no MQTT broker/);
  });

  it("fails a user without ACL lines", async () => {
    const r = mutate(prod.byName("queen-nixos"), (i) => (mqttOf(i).users[0].acl = []));
    expectViolation(await runResourcePolicy(acl, r), "queen-nixos", "nodeConfig.services.mqtt.users[0].acl", /'homeassistant' has no ACL lines/);
  });

  it("fails a user or a bridge that may write the whole tree, unless it is an admin", async () => {
    const r = mutate(prod.byName("queen-nixos"), (i) => mqttOf(i).users[0].acl.push("readwrite #"));
    expectViolation(await runResourcePolicy(acl, r), "queen-nixos", "nodeConfig.services.mqtt.users[0].acl", /may readwrite '#'/);
    expect((await runResourcePolicy(acl, r, { "mqtt-acl-per-user": { adminUsers: ["homeassistant"] } })).violations).toEqual([]);
    const bridge = mutate(prod.byName("queen-nixos"), (i) => (mqttOf(i).bridgeUsers[0].acl = ["write +/#"]));
    expectViolation(await runResourcePolicy(acl, bridge), "queen-nixos", "nodeConfig.services.mqtt.bridgeUsers[0].acl", /'bridge-edge-pi' may write '\+\/#'/);
    // reading everything is not writing everything
    const reader = mutate(prod.byName("queen-nixos"), (i) => (mqttOf(i).users[0].acl = ["read #"]));
    expect((await runResourcePolicy(acl, reader)).violations).toEqual([]);
  });
});

describe("nats-user-permissions", () => {
  const perms = messagingPolicies.find((p) => p.name === "nats-user-permissions")!;
  const natsOf = (i: Obj) => i.nodeConfig.services.nats as Obj;
  const userIndex = (r: PlanResource, name: string) => (r.inputs.nodeConfig as Obj).services.nats.users.findIndex((u: Obj) => u.name === name);

  it("passes every committed node: role users and the stream admin are scoped, the system user is the exception", async () => {
    for (const stack of ["dev", "staging", "prod"]) {
      const s = await synth(stack);
      for (const host of s.byType("borg:index:NixosHost")) expect((await runResourcePolicy(perms, host)).violations, `${stack}/${host.name}`).toEqual([]);
    }
    expect(natsOf(queen.inputs).users.find((u: Obj) => u.name === "sys")).toMatchObject({ account: "SYS", permissions: null });
  });

  it("is not applicable where NATS does not run, nor to a ConfigMap without nats.conf", async () => {
    const off = mutate(queen, (i) => (natsOf(i).enable = false));
    expect((await runResourcePolicy(perms, off)).notApplicable).toMatch(/no NATS server/);
    const mqttOnly = mutate(configMap, (i) => delete i.data["nats.conf"]);
    expect((await runResourcePolicy(perms, mqttOnly)).notApplicable).toMatch(/no nats\.conf/);
  });

  it("fails a user that may publish or subscribe '>', and one without permissions outside the system account", async () => {
    const i = userIndex(queen, "cim-events");
    const pub = mutate(queen, (n) => natsOf(n).users[i].permissions.publish.push(">"));
    expectViolation(await runResourcePolicy(perms, pub), "queen-nixos", `nodeConfig.services.nats.users[${i}].permissions.publish`, /'cim-events' may publish '>'/);
    const sub = mutate(pi, (n) => (natsOf(n).users[userIndex(pi, "borg-admin")].permissions.subscribe = [">"]));
    expectViolation(await runResourcePolicy(perms, sub), "edge-pi-nixos", `nodeConfig.services.nats.users[${userIndex(pi, "borg-admin")}].permissions.subscribe`, /'borg-admin' may subscribe '>'/);
    const none = mutate(queen, (n) => (natsOf(n).users[i].permissions = null));
    expectViolation(await runResourcePolicy(perms, none), "queen-nixos", `nodeConfig.services.nats.users[${i}].permissions`, /no permissions/);
    // The same user moved into the system account is the one exception.
    const system = mutate(queen, (n) => Object.assign(natsOf(n).users[i], { account: "SYS", permissions: null }));
    expect((await runResourcePolicy(perms, system)).violations).toEqual([]);
  });

  it("judges nats.conf in a ConfigMap: users and default_permissions, the system account exempt", async () => {
    const open = withData("nats.conf", NATS_CONF.replace(', permissions: { publish: ["app.>"], subscribe: ["app.>", "_INBOX.>"] }', ""));
    expectViolation(await runResourcePolicy(perms, open), "brokers", 'data["nats.conf"] (line 11)', /account APP user 'app' has no permissions/);
    const everything = withData("nats.conf", NATS_CONF.replace('subscribe: ["app.>", "_INBOX.>"]', 'subscribe: ">"'));
    expectViolation(await runResourcePolicy(perms, everything), "brokers", 'data["nats.conf"] (line 11)', /user 'app' may subscribe '>'/);
    const denyOnly = withData("nats.conf", NATS_CONF.replace('publish: ["app.>"]', 'publish: { deny: ["secret.>"] }'));
    expectViolation(await runResourcePolicy(perms, denyOnly), "brokers", 'data["nats.conf"] (line 11)', /user 'app' may publish '>'/);
    const defaults = `authorization {\n  default_permissions: { publish: ">", subscribe: "app.>" }\n  users: [ { user: a, password: "${BCRYPT}" } ]\n}\n`;
    expectViolation(await runResourcePolicy(perms, withData("nats.conf", defaults)), "brokers", 'data["nats.conf"] (line 2)', /authorization user 'a' may publish '>'/);
    const sys = `system_account: OPS\naccounts {\n  OPS { users: [ { user: admin, password: "${BCRYPT}" } ] }\n}\n`;
    expect((await runResourcePolicy(perms, withData("nats.conf", sys))).violations).toEqual([]);
  });
});
