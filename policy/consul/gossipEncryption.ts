// Consul gossip (serf) between agents is encrypted and unencrypted gossip is refused; the key
// reaches the agent only through the secrets channel.
import { resourceRule, type Finding } from "../lib/define";
import { asArray, asRecord, isOn } from "../lib/infraProps";
import { isSecretFile, NIXOS_HOST, nodeConfigOf } from "../lib/nodes";

const BASE = "nodeConfig.services.consul";

export const consulGossipEncryption = resourceRule({
  name: "consul-gossip-encryption",
  description: "Every node that runs Consul must encrypt its gossip and refuse unencrypted gossip both ways, with the key in a secret config file delivered through the secrets channel.",
  appliesTo: (type) => type === NIXOS_HOST,
  check: ({ props }) => {
    const config = nodeConfigOf(props);
    const consul = asRecord(config?.services?.consul);
    if (!config || !consul || !isOn(consul.enable)) return [];
    const gossip = asRecord(consul.gossip) ?? {};
    const findings: Finding[] = [];
    if (!isOn(gossip.encrypt)) {
      findings.push({
        field: `${BASE}.gossip.encrypt`,
        problem: "is not true: agents gossip membership, health and addresses in clear, and anyone on the LAN can join the pool",
        fix: "generate the gossip key (random.RandomBytes, 32 bytes) and put it as `encrypt` in the node's Consul secret config file",
      });
    }
    for (const side of ["verifyIncoming", "verifyOutgoing"] as const) {
      if (gossip[side] === false) {
        findings.push({
          field: `${BASE}.gossip.${side}`,
          problem: "is false: unencrypted gossip is accepted or sent (a half-migrated keyring left on)",
          fix: `set gossip.${side} = true (encrypt_verify_${side === "verifyIncoming" ? "incoming" : "outgoing"} in the agent config)`,
        });
      }
    }
    if (!isSecretFile(config, consul.secretConfigFile)) {
      findings.push({
        field: `${BASE}.secretConfigFile`,
        problem: `is ${JSON.stringify(consul.secretConfigFile ?? null)}, not one of the node's secret files: the gossip key has no way onto the node but the Nix store or node.json`,
        fix: "deliver the key in a secret file (nodeConfig.secrets.files) and name that file in secretConfigFile",
      });
    }
    return findings;
  },
});
