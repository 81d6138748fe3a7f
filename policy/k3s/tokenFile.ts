// K3s tokens reach a node only as files of the secrets channel: never a value in node config (it is
// in the bundle and the Nix store, world-readable), never a flag or variable on a command line
// (process lists, state), never a file under /nix/store.
import { resourceRule, type Finding } from "../lib/define";
import { asArray, asRecord, isOn } from "../lib/infraProps";
import { isRemoteResource } from "../lib/infraTypes";
import { isSecretFile, NIXOS_HOST, nodeConfigOf } from "../lib/nodes";

/** A token on a command line or in a variable: --token x, --agent-token=x, K3S_TOKEN=x, K10…::user:pass. */
const TOKEN_IN_TEXT = /--(?:agent-)?token(?:=|\s+)(?!-)\S|\bK3S_(?:AGENT_)?TOKEN=|\bK10[0-9a-f]{64}::[^\s:]+:\S/;
const TOKEN_ENV = /^K3S_(?:AGENT_)?TOKEN$/;
const FIX_FILE = "deliver the token as a secret file (tokenFile / agentTokenFile under the node's secrets dir, installed on stdin by install-secrets.sh)";

function nodeFindings(config: Record<string, any>, k3s: Record<string, unknown>): Finding[] {
  const findings: Finding[] = [];
  const base = "nodeConfig.services.k3s";
  const dir = typeof config.secrets?.dir === "string" ? (config.secrets.dir as string) : "/var/lib/borg/secrets";
  for (const key of ["token", "agentToken"]) {
    if (k3s[key] !== undefined && k3s[key] !== null && k3s[key] !== "") {
      findings.push({ field: `${base}.${key}`, problem: "holds a token value: node config is in the bundle and the Nix store, readable by every local user", fix: FIX_FILE });
    }
  }
  const files: Array<[string, unknown]> = [["tokenFile", k3s.tokenFile]];
  if (k3s.role === "server") files.push(["agentTokenFile", k3s.agentTokenFile]);
  for (const [key, value] of files) {
    const field = `${base}.${key}`;
    if (typeof value !== "string" || value === "") {
      findings.push({ field, problem: "is not set: K3s would generate its own token (a server) or fail to join (an agent), and a joining server could start a cluster of its own", fix: FIX_FILE });
    } else if (value.startsWith("/nix/store/")) {
      findings.push({ field, problem: `is ${value}, a store path: world-readable on the node and in every binary cache`, fix: FIX_FILE });
    } else if (!isSecretFile(config, value)) {
      findings.push({ field, problem: `is ${value}, which is not one of the node's delivered secret files (${dir}/…)`, fix: FIX_FILE });
    }
  }
  const walk = (value: unknown, field: string) => {
    if (typeof value === "string" && TOKEN_IN_TEXT.test(value)) findings.push({ field, problem: "carries a token on the K3s command line", fix: FIX_FILE });
    else if (Array.isArray(value)) value.forEach((v, i) => walk(v, `${field}[${i}]`));
    else if (value && typeof value === "object") for (const [k, v] of Object.entries(value)) walk(v, `${field}.${k}`);
  };
  walk(k3s, base);
  return findings;
}

export const k3sTokenFile = resourceRule({
  name: "k3s-token-file",
  description: "K3s tokens only as files of the secrets channel: every K3s node has tokenFile (servers also agentTokenFile) among its delivered secret files, never under /nix/store, and no token appears in node config, a K3s flag or a remote command's text or environment.",
  appliesTo: (type) => type === NIXOS_HOST || isRemoteResource(type),
  check: (args) => {
    const { props } = args;
    if (args.type === NIXOS_HOST) {
      const config = nodeConfigOf(props) as Record<string, any> | undefined;
      const k3s = asRecord(config?.services?.k3s);
      if (!config || !k3s || !isOn(k3s.enable)) args.notApplicable("the node runs no K3s");
      return nodeFindings(config!, k3s!);
    }
    const findings: Finding[] = [];
    for (const field of ["create", "update", "delete"]) {
      const text = props[field];
      if (typeof text === "string" && TOKEN_IN_TEXT.test(text)) {
        findings.push({ field, problem: "passes a K3s token on the command line (visible in process lists and stored in state)", fix: FIX_FILE });
      }
    }
    for (const name of Object.keys(asRecord(props.environment) ?? {})) {
      if (TOKEN_ENV.test(name)) findings.push({ field: `environment.${name}`, problem: "passes a K3s token in the environment (stored in clear in state)", fix: FIX_FILE });
    }
    return findings;
  },
});
