// The services of a stack, in bootstrap order. Each is one ComponentResource (see ./types.ts);
// a service that is disabled in the stack is simply not created.
import type * as pulumi from "@pulumi/pulumi";
import type { CollectiveSpec } from "../config/validate.js";
import type { CollectiveService } from "./types.js";

export interface ServiceArgs {
  readonly spec: CollectiveSpec;
  readonly stack: string;
}

export function createServices(_args: ServiceArgs, _opts: pulumi.ComponentResourceOptions): CollectiveService[] {
  return [];
}
