// K3s rules: Secrets encrypted at rest on every server; tokens only as delivered secret files.
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { k3sSecretsEncryption } from "./secretsEncryption";
import { k3sTokenFile } from "./tokenFile";

export const k3sPolicies: ResourceValidationPolicy[] = [k3sSecretsEncryption, k3sTokenFile];
