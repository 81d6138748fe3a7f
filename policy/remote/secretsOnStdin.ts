// A command that handles secrets takes them on stdin and keeps its output out of logs and state.
import { looksLikeSecretLiteral, resourceRule, type Finding } from "../lib/define";
import { isPresent, isRedacted } from "../lib/infraProps";
import { REMOTE_COMMAND } from "../lib/infraTypes";

/** Handles secrets: has stdin, and the stdin is secret, looks secret, or `create` names secrets. */
function handlesSecrets(props: Record<string, unknown>): boolean {
  const stdin = props.stdin;
  if (!isPresent(stdin)) return false;
  if (isRedacted(stdin)) return true;
  if (typeof stdin === "string" && looksLikeSecretLiteral(stdin)) return true;
  return typeof props.create === "string" && /secret/i.test(props.create);
}

export const remoteSecretsOnStdin = resourceRule({
  name: "remote-secrets-on-stdin",
  description: "A remote Command that receives secrets on stdin must run with logging \"none\" and list stdout and stderr in additionalSecretOutputs.",
  appliesTo: (type) => type === REMOTE_COMMAND,
  check: ({ props, opts }) => {
    if (!handlesSecrets(props)) return [];
    const findings: Finding[] = [];
    if (props.logging !== "none") {
      findings.push({
        field: "logging",
        problem: `is ${props.logging === undefined ? "not set (stdout and stderr are logged)" : JSON.stringify(props.logging)}: whatever the secret-handling script prints shows in the Pulumi log`,
        fix: 'set logging: "none"',
      });
    }
    const secretOutputs = opts?.additionalSecretOutputs ?? [];
    const missing = ["stdout", "stderr"].filter((o) => !secretOutputs.includes(o));
    if (missing.length > 0) {
      findings.push({
        field: "opts.additionalSecretOutputs",
        problem: `lacks ${missing.join(" and ")}: the command's output is stored in state in clear text`,
        fix: 'pass { additionalSecretOutputs: ["stdout", "stderr"] } in the Command\'s resource options',
      });
    }
    return findings;
  },
});
