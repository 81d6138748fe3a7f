// No broker lets clients in without credentials on anything but loopback.
import { resourceRule, type Finding } from "../lib/define";
import { brokerFiles, dataField, entriesOf, findEntry, parseMosquittoConf, parseNatsConf, walkConf } from "../lib/brokerConf";
import { asArray, asRecord, isLoopback, isOn } from "../lib/infraProps";
import { CONFIG_MAP } from "../lib/infraTypes";
import { NIXOS_HOST, nodeConfigOf } from "../lib/nodes";

function nodeFindings(props: Record<string, unknown>): Finding[] {
  const services = nodeConfigOf(props)?.services ?? {};
  const findings: Finding[] = [];
  const mqtt = asRecord(services.mqtt);
  if (mqtt && isOn(mqtt.enable)) {
    asArray(mqtt.listeners).forEach((raw, i) => {
      const listener = asRecord(raw) ?? {};
      if (!isOn(listener.allowAnonymous) || isLoopback(listener.address)) return;
      findings.push({
        field: `nodeConfig.services.mqtt.listeners[${i}].allowAnonymous`,
        problem: `is true on ${String(listener.address || "all interfaces")}:${String(listener.port)}: anyone on the network can publish and subscribe`,
        fix: "set borg:services.mqtt.allowAnonymous to false and give each client a user (borg:services.mqtt.users) with a password",
      });
    });
  }
  const nats = asRecord(services.nats);
  if (nats && isOn(nats.enable) && !isOn(asRecord(nats.authorization)?.required)) {
    findings.push({
      field: "nodeConfig.services.nats.authorization.required",
      problem: "is not true: clients connect to NATS without credentials",
      fix: "require authorization (authorization.required = true with a users file from the secrets dir)",
    });
  }
  return findings;
}

function configMapFindings(data: unknown): Finding[] {
  const findings: Finding[] = [];
  for (const file of brokerFiles(data)) {
    if (file.kind === "mosquitto") {
      const conf = parseMosquittoConf(file.text);
      const open = conf.listeners.filter((l) => l.anonymousLine !== undefined && !isLoopback(l.address));
      const lines = new Set(open.map((l) => l.anonymousLine!));
      for (const line of lines) {
        const where = open.filter((l) => l.anonymousLine === line).map((l) => `${l.address || "*"}:${l.port}`).join(", ");
        findings.push({
          field: dataField(file.key, line),
          problem: `allow_anonymous true applies to ${where}: anyone on the network can publish and subscribe`,
          fix: "set allow_anonymous false and authenticate clients with password_file (hashed entries, from a Secret)",
        });
      }
    }
    if (file.kind === "nats") {
      const entries = parseNatsConf(file.text);
      const include = entries.find((e) => e.key.toLowerCase() === "include" && e.value.kind === "string" && /auth|account|user/i.test(e.value.text));
      const auth = findEntry(entries, "authorization");
      const authEntries = entriesOf(auth?.value);
      const authHasUsers = authEntries.some((e) => ["user", "users", "token", "auth_callout"].includes(e.key.toLowerCase()));
      const hasAuth = authHasUsers || findEntry(entries, "accounts", "operator", "trusted", "trusted_keys") !== undefined || include !== undefined;
      if (!hasAuth) {
        findings.push({
          field: dataField(file.key, auth?.line),
          problem: auth ? "has an authorization block without users or a token: clients connect without credentials" : "has no authorization or accounts block: clients connect without credentials",
          fix: "add an accounts (or authorization) block with users whose passwords are bcrypt hashes, loaded from a Secret",
        });
      }
      for (const { path, entry } of walkConf(entries)) {
        if (entry.key.toLowerCase() !== "no_auth_user") continue;
        findings.push({
          field: dataField(file.key, entry.line),
          problem: `sets ${path}: clients without credentials are logged in as that user`,
          fix: "remove no_auth_user so every client authenticates",
        });
      }
    }
  }
  return findings;
}

export const brokerNoAnonymous = resourceRule({
  name: "broker-no-anonymous",
  description: "MQTT and NATS brokers must not accept anonymous clients on non-loopback listeners (node settings and mosquitto.conf/nats.conf in ConfigMaps).",
  appliesTo: (type) => type === NIXOS_HOST || type === CONFIG_MAP,
  check: ({ props, type }) => (type === NIXOS_HOST ? nodeFindings(props) : configMapFindings(props.data)),
});
