// The service settings each node's node.json carries: who runs which Ceph/K3s/Consul/NATS/MQTT/
// Home Assistant role, with which peers, and the roles that decide its open ports. Pure, derived
// from the spec; never a secret (secret material is referenced by file path under the secrets dir).
// One file per service; this one only composes them.
import type { CollectiveSpec, NodeSpec } from "../config/validate.js";
import { cephRoles, cephSettings, type CephSettings } from "./ceph.js";
import { consulRoles, consulSettings, type ConsulSettings } from "./consul.js";
import { serviceContext } from "./context.js";
import { homeAssistantRoles, homeAssistantSettings, type HomeAssistantSettings } from "./homeAssistant.js";
import { k3sRoles, k3sSettings, type K3sSettings } from "./k3s.js";
import { mqttRoles, mqttSettings, type MqttSettings } from "./mqtt.js";
import { natsRoles, natsSettings, type NatsSettings } from "./nats.js";

export type { MqttListener } from "./mqtt.js";

export interface NodeServices {
  ceph: CephSettings;
  k3s: K3sSettings;
  consul: ConsulSettings;
  nats: NatsSettings;
  mqtt: MqttSettings;
  homeAssistant: HomeAssistantSettings;
}

export function renderServices(spec: CollectiveSpec, node: NodeSpec): NodeServices {
  const ctx = serviceContext(spec, node);
  return {
    ceph: cephSettings(ctx),
    k3s: k3sSettings(ctx),
    consul: consulSettings(ctx),
    nats: natsSettings(ctx),
    mqtt: mqttSettings(ctx),
    homeAssistant: homeAssistantSettings(ctx),
  };
}

/** The roles a node runs (each opens the ports the table lists for it); SSH always. */
export function rolesOf(s: NodeServices): string[] {
  return [
    "ssh",
    ...cephRoles(s.ceph),
    ...k3sRoles(s.k3s),
    ...consulRoles(s.consul),
    ...natsRoles(s.nats),
    ...mqttRoles(s.mqtt),
    ...homeAssistantRoles(s.homeAssistant),
  ];
}
