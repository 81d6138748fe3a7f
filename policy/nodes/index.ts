// Rules over what each node is configured to run (its node.json, the NixosHost's nodeConfig).
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { cephAuthRequired } from "./cephAuthRequired";
import { nodeFirewallAllowlist } from "./firewallAllowlist";

export const nodePolicies: ResourceValidationPolicy[] = [nodeFirewallAllowlist, cephAuthRequired];
