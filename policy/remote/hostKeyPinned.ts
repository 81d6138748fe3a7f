// Every SSH connection of a remote command verifies the host key it expects.
import { resourceRule, type Finding } from "../lib/define";
import { isNonEmptyString, isRedacted, SSH_PUBLIC_KEY } from "../lib/infraProps";
import { isRemoteResource } from "../lib/infraTypes";
import { judgeConnections } from "../lib/sshConnection";

export const remoteHostKeyPinned = resourceRule({
  name: "remote-host-key-pinned",
  description: "A remote command's SSH connection (and its proxy) must pin the server's host key (connection.hostKey); without it any host answering on the address gets the deploy and its secrets.",
  appliesTo: isRemoteResource,
  check: ({ props }) =>
    judgeConnections(props, (connections) => {
      const findings: Finding[] = [];
      for (const { path, fields } of connections) {
        const hostKey = fields.hostKey;
        if (!isNonEmptyString(hostKey)) {
          findings.push({
            field: `${path}.hostKey`,
            problem: "is not set: the host key is not verified, so a machine that takes over the address receives the connection",
            fix: `set ${path}.hostKey to the server's OpenSSH public host key (for borg VMs the generated <node>-host-key; for the Pi borg:edgePi.hostKey)`,
          });
        } else if (!isRedacted(hostKey) && !SSH_PUBLIC_KEY.test(hostKey.trim())) {
          findings.push({
            field: `${path}.hostKey`,
            problem: "is not an OpenSSH public key line (`ssh-ed25519 AAAA…`), so it cannot be matched against the server's key",
            fix: `set ${path}.hostKey to the line from the server's /etc/ssh/ssh_host_ed25519_key.pub (not a fingerprint)`,
          });
        }
      }
      return findings;
    }),
});
