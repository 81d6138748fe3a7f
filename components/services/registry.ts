// The services of a stack, in bootstrap order. Each is one ComponentResource (see ./types.ts);
// a service that is disabled in the stack is simply not created.
import type * as pulumi from "@pulumi/pulumi";
import type { CollectiveSpec } from "../config/validate.js";
import { HomeAssistant } from "./homeAssistant.js";
import { Ceph } from "./ceph.js";
import { K3s } from "./k3s.js";
import { Mqtt } from "./mqtt.js";
import { Consul } from "./consul.js";
import { Nats } from "./natsService.js";
import type { CollectiveService } from "./types.js";

export interface ServiceArgs {
  readonly spec: CollectiveSpec;
  readonly stack: string;
}

export function createServices(args: ServiceArgs, opts: pulumi.ComponentResourceOptions): CollectiveService[] {
  const { services, nodes } = args.spec;
  // Storage first: after a switch, noout is cleared (Ceph back to health) before K3s uncordons.
  const ceph = services.ceph.enabled ? new Ceph("ceph", { spec: args.spec }, opts) : undefined;
  const k3s = services.k3s.enabled ? new K3s("borg-k3s", args, opts) : undefined;
  const consul = services.consul.enabled ? new Consul("consul", args, opts) : undefined;
  const mqtt = services.mqtt.enabled ? new Mqtt("mqtt", args, opts) : undefined;
  const nats = services.nats.enabled ? new Nats("nats", args, opts) : undefined;
  // Home Assistant runs on the edge Pi only, logged in to its broker (the config rules require MQTT).
  const homeAssistant = mqtt && services.homeAssistant.enabled && nodes.some((n) => n.role === "edge") ? new HomeAssistant("home-assistant", { ...args, mqtt }, opts) : undefined;
  return [ceph, k3s, consul, mqtt, nats, homeAssistant].filter((s): s is NonNullable<typeof s> => s !== undefined);
}
