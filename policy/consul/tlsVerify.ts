// Consul RPC is TLS with verification both ways and server-name checks; the API on the LAN is
// https (enforced in prod via config).
import { resourceRule, type Finding } from "../lib/define";
import { asRecord, isOn } from "../lib/infraProps";
import { NIXOS_HOST, nodeConfigOf } from "../lib/nodes";
import { isSecretFile } from "../lib/nodes";

const BASE = "nodeConfig.services.consul";

const VERIFY = {
  verifyIncoming: "servers and clients accept RPC from anyone who reaches the port, without a certificate of the CA",
  verifyOutgoing: "agents do not check the certificate of the server they talk to",
  verifyServerHostname: "any agent with a certificate of the CA (a client's) can pose as a server and receive its RPC",
} as const;

export const consulTlsVerify = resourceRule({
  name: "consul-tls-verify",
  description: "Every Consul agent must use TLS with verify_incoming, verify_outgoing and verify_server_hostname on, its certificate and key from the secrets channel, and an API reachable from the LAN only over https (enforced in prod via config).",
  appliesTo: (type) => type === NIXOS_HOST,
  check: ({ props }) => {
    const config = nodeConfigOf(props);
    const consul = asRecord(config?.services?.consul);
    if (!config || !consul || !isOn(consul.enable)) return [];
    const findings: Finding[] = [];
    const tls = asRecord(consul.tls);
    if (!tls) {
      findings.push({
        field: `${BASE}.tls`,
        problem: "is not set: RPC between agents (ACL tokens included) and the API travel in clear text",
        fix: "set borg:security.tls: true so Consul gets its CA, certificates and verification",
      });
    } else {
      for (const [key, why] of Object.entries(VERIFY)) {
        if (!isOn(tls[key])) findings.push({ field: `${BASE}.tls.${key}`, problem: `is not true: ${why}`, fix: `set tls.${key} = true` });
      }
      for (const key of ["caFile", "certFile", "keyFile"]) {
        if (!isSecretFile(config, tls[key])) {
          findings.push({
            field: `${BASE}.tls.${key}`,
            problem: `is ${JSON.stringify(tls[key] ?? null)}, not one of the node's secret files`,
            fix: "deliver the CA, certificate and key through the secrets channel (nodeConfig.secrets.files) and point the TLS settings at them",
          });
        }
      }
    }
    const api = asRecord(consul.api);
    if (api && isOn(api.lan) && api.scheme !== "https") {
      findings.push({
        field: `${BASE}.api.scheme`,
        problem: `is ${JSON.stringify(api.scheme ?? null)} on a LAN-facing API: tokens and the UI cross the network in clear`,
        fix: "serve the API over https (borg:security.tls: true)",
      });
    }
    return findings;
  },
});
