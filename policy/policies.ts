// Every policy of the pack, as plain objects. Tests and the offline runner import this file;
// only ./index.ts wraps them in a PolicyPack (whose constructor starts a server).
import type { EnforcementLevel, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { kubernetesPolicies } from "./kubernetes";
import { proxmoxPolicies } from "./proxmox";
import { remoteCommandPolicies } from "./remote";
import { consulPolicies } from "./consul";
import { messagingPolicies } from "./messaging";
import { stackPolicies } from "./stack";
import { nodePolicies } from "./nodes";
import { k3sPolicies } from "./k3s";
import { homeAssistantPolicies } from "./homeassistant";

export const allPolicies: Array<ResourceValidationPolicy | StackValidationPolicy> = [
  ...kubernetesPolicies,
  ...proxmoxPolicies,
  ...remoteCommandPolicies,
  ...consulPolicies,
  ...messagingPolicies,
  ...stackPolicies,
  ...nodePolicies,
  ...k3sPolicies,
  ...homeAssistantPolicies,
];

/** The pack's level: what a rule runs at when the config names neither it nor `all`. */
export const PACK_ENFORCEMENT_LEVEL: EnforcementLevel = "advisory";
