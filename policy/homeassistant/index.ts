// Home Assistant rules over node settings (NixosHost nodeConfig).
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { homeAssistantNotPublic } from "./notPublic";

export const homeAssistantPolicies: ResourceValidationPolicy[] = [homeAssistantNotPublic];
