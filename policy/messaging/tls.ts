// Broker traffic leaving the host is TLS: NATS clients, routes and leafnodes; MQTT listeners.
import { resourceRule, type Finding } from "../lib/define";
import { brokerFiles, dataField, entriesOf, findEntry, parseMosquittoConf, parseNatsConf, type ConfEntry } from "../lib/brokerConf";
import { asArray, asRecord, isLoopback, isOn } from "../lib/infraProps";
import { CONFIG_MAP } from "../lib/infraTypes";
import { NIXOS_HOST, nodeConfigOf } from "../lib/nodes";

function nodeFindings(props: Record<string, unknown>): Finding[] {
  const services = nodeConfigOf(props)?.services ?? {};
  const findings: Finding[] = [];
  const nats = asRecord(services.nats);
  if (nats && isOn(nats.enable) && !isOn(nats.tls)) {
    findings.push({
      field: "nodeConfig.services.nats.tls",
      problem: "is not true: NATS clients, cluster routes and leafnodes talk in clear text (credentials included)",
      fix: "set borg:security.tls: true so NATS serves TLS on client, route and leafnode ports",
    });
  }
  const mqtt = asRecord(services.mqtt);
  if (mqtt && isOn(mqtt.enable)) {
    asArray(mqtt.listeners).forEach((raw, i) => {
      const listener = asRecord(raw) ?? {};
      if (isOn(listener.tls) || isLoopback(listener.address)) return;
      findings.push({
        field: `nodeConfig.services.mqtt.listeners[${i}].tls`,
        problem: `is not true on ${String(listener.address || "all interfaces")}:${String(listener.port)}: MQTT passwords and messages cross the network in clear`,
        fix: "set borg:security.tls: true (TLS listener on the LAN, plaintext only on 127.0.0.1)",
      });
    });
    const bridge = asRecord(mqtt.bridge);
    if (bridge && !isOn(bridge.tls) && !isLoopback(bridge.address)) {
      findings.push({
        field: "nodeConfig.services.mqtt.bridge.tls",
        problem: `is not true: the bridge to ${String(bridge.address)}:${String(bridge.port)} sends its credentials in clear`,
        fix: "set borg:security.tls: true so the bridge uses the broker's TLS port",
      });
    }
  }
  return findings;
}

const hasTls = (entries: readonly ConfEntry[]) => {
  const tls = findEntry(entries, "tls");
  return tls !== undefined && tls.value.kind === "map" && !entriesOf(tls.value).some((e) => e.key.toLowerCase() === "no_tls");
};
const listenAddress = (entries: readonly ConfEntry[]) => {
  const listen = findEntry(entries, "listen", "host", "net");
  if (!listen || listen.value.kind !== "string") return "";
  return listen.value.text.replace(/:\d+$/, "");
};

function natsFindings(key: string, text: string): Finding[] {
  const entries = parseNatsConf(text);
  const findings: Finding[] = [];
  if (!hasTls(entries) && !isLoopback(listenAddress(entries))) {
    findings.push({
      field: dataField(key),
      problem: "has no top-level tls block: clients connect in clear text",
      fix: "add tls { cert_file, key_file } (from a Secret) at the top level",
    });
  }
  for (const block of ["cluster", "leafnodes", "gateway", "websocket", "mqtt"]) {
    const entry = findEntry(entries, block);
    if (!entry || entry.value.kind !== "map") continue;
    const inner = entriesOf(entry.value);
    const noTls = findEntry(inner, "no_tls");
    if (noTls && noTls.value.kind === "string" && noTls.value.text === "true") {
      findings.push({ field: dataField(key, noTls.line), problem: `sets ${block}.no_tls: the ${block} port is plaintext`, fix: `remove no_tls and give ${block} a tls block` });
      continue;
    }
    if (hasTls(inner)) continue;
    const listens = findEntry(inner, "listen", "port", "host") !== undefined;
    if (block === "leafnodes" && !listens) {
      // A leafnode client only: each remote must use TLS (tls block or tls:// url).
      const remotes = findEntry(inner, "remotes");
      const items = remotes?.value.kind === "array" ? remotes.value.items : [];
      const clear = items.filter((r) => {
        const re = entriesOf(r);
        const url = findEntry(re, "url", "urls");
        const urlText = url?.value.kind === "string" ? url.value.text : url?.value.kind === "array" ? url.value.items.map((u) => (u.kind === "string" ? u.text : "")).join(" ") : "";
        return !hasTls(re) && !/\btls:\/\//.test(urlText);
      });
      if (clear.length === 0) continue;
    }
    findings.push({
      field: dataField(key, entry.line),
      problem: `the ${block} block has no tls: ${block} traffic (and its credentials) crosses the network in clear`,
      fix: `add tls { cert_file, key_file, ca_file, verify: true } to the ${block} block`,
    });
  }
  return findings;
}

function mosquittoFindings(key: string, text: string): Finding[] {
  return parseMosquittoConf(text)
    .listeners.filter((l) => !l.tls && !isLoopback(l.address))
    .map((l) => ({
      field: dataField(key, l.line || undefined),
      problem: `listener ${l.address || "*"}:${l.port} has no certfile: MQTT passwords and messages cross the network in clear`,
      fix: "give the listener certfile/keyfile (from a Secret) or bind it to 127.0.0.1",
    }));
}

export const brokerTls = resourceRule({
  name: "broker-tls",
  description: "NATS (client, cluster, leafnode ports) and MQTT listeners reachable from the network must use TLS (enforced in prod via config).",
  appliesTo: (type) => type === NIXOS_HOST || type === CONFIG_MAP,
  check: ({ props, type }) => {
    if (type === NIXOS_HOST) return nodeFindings(props);
    const findings: Finding[] = [];
    for (const file of brokerFiles(props.data)) {
      if (file.kind === "nats") findings.push(...natsFindings(file.key, file.text));
      if (file.kind === "mosquitto") findings.push(...mosquittoFindings(file.key, file.text));
    }
    return findings;
  },
});
