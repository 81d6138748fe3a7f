// Proxmox VE rules: provider TLS and token auth, cloud-init keys, NIC firewall, VM protection.
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { proxmoxCloudInitKeysOnly } from "./cloudInitKeysOnly";
import { proxmoxNicFirewall } from "./nicFirewall";
import { proxmoxProtectVms } from "./protectVms";
import { proxmoxProviderTokenAuth } from "./providerTokenAuth";
import { proxmoxProviderVerifyTls } from "./providerVerifyTls";

export const proxmoxPolicies: ResourceValidationPolicy[] = [
  proxmoxProviderVerifyTls,
  proxmoxProviderTokenAuth,
  proxmoxCloudInitKeysOnly,
  proxmoxNicFirewall,
  proxmoxProtectVms,
];
