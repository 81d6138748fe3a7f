// Remote-command rules (command:remote:Command / CopyToRemote): pinned host keys, key auth,
// bounded dials, secrets on stdin with quiet output, no secrets in command text or environment.
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { remoteBoundedDial } from "./boundedDial";
import { remoteHostKeyPinned } from "./hostKeyPinned";
import { remoteKeyAuthOnly } from "./keyAuthOnly";
import { remoteNoSecretLiterals } from "./noSecretLiterals";
import { remoteSecretsOnStdin } from "./secretsOnStdin";

export const remoteCommandPolicies: ResourceValidationPolicy[] = [
  remoteHostKeyPinned,
  remoteKeyAuthOnly,
  remoteBoundedDial,
  remoteSecretsOnStdin,
  remoteNoSecretLiterals,
];
