// Consul rules: ACL default deny on every node, no management tokens, no wildcard write,
// default-deny intentions, https provider.
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { consulAclDefaultDeny } from "./aclDefaultDeny";
import { consulIntentionsDefaultDeny } from "./intentionsDefaultDeny";
import { consulNoGlobalManagementToken } from "./noGlobalManagementToken";
import { consulNoWildcardWrite } from "./noWildcardWrite";
import { consulProviderHttps } from "./providerHttps";

export const consulPolicies: ResourceValidationPolicy[] = [
  consulAclDefaultDeny,
  consulNoGlobalManagementToken,
  consulNoWildcardWrite,
  consulIntentionsDefaultDeny,
  consulProviderHttps,
];
