// Consul rules: ACL default deny, gossip encryption and verified TLS on every node, no management
// tokens, no wildcard write, default-deny intentions, https provider.
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { consulAclDefaultDeny } from "./aclDefaultDeny";
import { consulGossipEncryption } from "./gossipEncryption";
import { consulIntentionsDefaultDeny } from "./intentionsDefaultDeny";
import { consulNoGlobalManagementToken } from "./noGlobalManagementToken";
import { consulNoWildcardWrite } from "./noWildcardWrite";
import { consulProviderHttps } from "./providerHttps";
import { consulTlsVerify } from "./tlsVerify";

export const consulPolicies: ResourceValidationPolicy[] = [
  consulAclDefaultDeny,
  consulGossipEncryption,
  consulTlsVerify,
  consulNoGlobalManagementToken,
  consulNoWildcardWrite,
  consulIntentionsDefaultDeny,
  consulProviderHttps,
];
