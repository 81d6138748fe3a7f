// The cloud-init user of every VM logs in with SSH keys only.
import { resourceRule, type Finding } from "../lib/define";
import { asArray, asRecord, isPresent, isRedacted, SSH_PUBLIC_KEY } from "../lib/infraProps";
import { PROXMOX_VM } from "../lib/infraTypes";

export const proxmoxCloudInitKeysOnly = resourceRule({
  name: "proxmox-cloud-init-keys-only",
  description: "A VM's cloud-init user (initialization.userAccount) must have at least one SSH public key and no password.",
  appliesTo: (type) => type === PROXMOX_VM,
  check: ({ props }) => {
    const findings: Finding[] = [];
    const account = asRecord(asRecord(props.initialization)?.userAccount);
    if (isPresent(account?.password)) {
      findings.push({
        field: "initialization.userAccount.password",
        problem: "is set: the VM accepts password logins and the password lands in the cloud-init drive and in state",
        fix: "remove the password and log in with the keys in initialization.userAccount.keys (borg:ssh.authorizedKeys)",
      });
    }
    const keys = asArray(account?.keys);
    if (keys.length === 0) {
      findings.push({
        field: "initialization.userAccount.keys",
        problem: "has no SSH key: the VM's user is reachable only by password or not at all",
        fix: "set initialization.userAccount.keys to the operator's SSH public keys (borg:ssh.authorizedKeys)",
      });
    }
    keys.forEach((key, i) => {
      if (isRedacted(key)) return;
      if (typeof key !== "string" || !SSH_PUBLIC_KEY.test(key.trim())) {
        findings.push({
          field: `initialization.userAccount.keys[${i}]`,
          problem: "is not an OpenSSH public key line (`ssh-ed25519 AAAA… comment`)",
          fix: "put the public key (the .pub file's line) here, never a private key or a fingerprint",
        });
      }
    });
    return findings;
  },
});
