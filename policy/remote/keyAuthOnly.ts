// Remote commands log in with a key (or an agent), never a password.
import { resourceRule, type Finding } from "../lib/define";
import { isNonEmptyString, isPresent } from "../lib/infraProps";
import { isRemoteResource } from "../lib/infraTypes";
import { judgeConnections } from "../lib/sshConnection";

export const remoteKeyAuthOnly = resourceRule({
  name: "remote-key-auth-only",
  description: "A remote command's SSH connection (and its proxy) must authenticate with a private key or an SSH agent, never a password.",
  appliesTo: isRemoteResource,
  check: ({ props }) =>
    judgeConnections(props, (connections) => {
      const findings: Finding[] = [];
      for (const { path, fields } of connections) {
        if (isPresent(fields.password)) {
          findings.push({
            field: `${path}.password`,
            problem: "is set: the connection logs in with a password, which the server must accept (brute-forceable) and which lands in state",
            fix: `remove ${path}.password and use ${path}.privateKey (borg:sshPrivateKey, a secret) or ${path}.agentSocketPath; disable PasswordAuthentication on the server`,
          });
        }
        if (!isNonEmptyString(fields.privateKey) && !isNonEmptyString(fields.agentSocketPath)) {
          findings.push({
            field: `${path}.privateKey`,
            problem: "is not set and neither is agentSocketPath: the connection has no key to authenticate with",
            fix: `set ${path}.privateKey from a secret config value (borg:sshPrivateKey) or ${path}.agentSocketPath to the SSH agent socket`,
          });
        }
      }
      return findings;
    }),
});
