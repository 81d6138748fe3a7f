// Mosquitto: a broker on the queen and one on the edge Pi, bridged to the queen's.
import { SECRETS_DIR } from "../bundle-paths.js";
import type { ServiceContext } from "./context.js";
import { port } from "./ports.js";

export interface MqttListener {
  port: number;
  address: string;
  allowAnonymous: boolean;
  tls: boolean;
}

export interface MqttSettings {
  enable: boolean;
  listeners: MqttListener[];
  users: { name: string; acl: string[] }[];
  passwordFile: string;
  bridge: { address: string; port: number; tls: boolean } | null;
}

export function mqttSettings({ spec, node, queen, isEdge }: ServiceContext): MqttSettings {
  const { mqtt } = spec.services;
  const tls = spec.security.tls;
  const broker = mqtt.enabled && (node.role === "queen" || isEdge);
  return {
    enable: broker,
    listeners: broker ? listeners(mqtt.allowAnonymous, tls) : [],
    users: mqtt.users.map((u) => ({ name: u.name, acl: [...u.acl] })),
    passwordFile: `${SECRETS_DIR}/mosquitto-passwd`,
    // The Pi's broker keeps working when the link drops and forwards to the queen's when it is up.
    bridge: broker && isEdge ? { address: queen.address, port: port(tls ? "mqtt-tls" : "mqtt"), tls } : null,
  };
}

/** With TLS the LAN listener is TLS-only and plaintext stays on loopback (local clients). */
function listeners(allowAnonymous: boolean, tls: boolean): MqttListener[] {
  if (tls) {
    return [
      { port: port("mqtt-tls"), address: "0.0.0.0", allowAnonymous, tls: true },
      { port: port("mqtt"), address: "127.0.0.1", allowAnonymous, tls: false },
    ];
  }
  return [{ port: port("mqtt"), address: "0.0.0.0", allowAnonymous, tls: false }];
}

export function mqttRoles(s: MqttSettings): string[] {
  if (!s.enable) return [];
  return s.listeners.filter((l) => l.address !== "127.0.0.1").map((l) => (l.tls ? "mqtt-tls" : "mqtt-plain"));
}
