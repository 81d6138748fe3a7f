// The services of a stack, in bootstrap order. Each is one ComponentResource (see ./types.ts);
// a service that is disabled in the stack is simply not created.
import type * as pulumi from "@pulumi/pulumi";
import type { CollectiveSpec } from "../config/validate.js";
import { K3s } from "./k3s.js";
import type { CollectiveService } from "./types.js";

export interface ServiceArgs {
  readonly spec: CollectiveSpec;
  readonly stack: string;
}

export function createServices(args: ServiceArgs, opts: pulumi.ComponentResourceOptions): CollectiveService[] {
  const services: CollectiveService[] = [];
  if (args.spec.services.k3s.enabled) services.push(new K3s("borg-k3s", args, opts));
  return services;
}
