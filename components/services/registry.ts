// The services of a stack, in bootstrap order. Each is one ComponentResource (see ./types.ts);
// a service that is disabled in the stack is simply not created.
import type * as pulumi from "@pulumi/pulumi";
import type { CollectiveSpec } from "../config/validate.js";
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
  const { services } = args.spec;
  return [
    ...(services.k3s.enabled ? [new K3s("borg-k3s", args, opts)] : []),
    ...(services.consul.enabled ? [new Consul("consul", args, opts)] : []),
    ...(services.mqtt.enabled ? [new Mqtt("mqtt", args, opts)] : []),
    ...(services.nats.enabled ? [new Nats("nats", args, opts)] : []),
  ];
}
