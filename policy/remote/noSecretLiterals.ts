// No secret in a remote command's text or environment: pass secrets on stdin.
import { looksLikeSecretLiteral, resourceRule, SECRET_ENV_NAME, type Finding } from "../lib/define";
import { asRecord, isRedacted } from "../lib/infraProps";
import { isRemoteResource } from "../lib/infraTypes";

const STDIN_FIX = "pass the secret on `stdin` (a secret Output) and read it in the script; see remote-secrets-on-stdin";

/** Inline text of a CopyToRemote source (StringAsset text, nested in AssetArchives). */
function assetTexts(value: unknown, path: string, out: Array<[string, string]>): void {
  const record = asRecord(value);
  if (!record) return;
  if (typeof record.text === "string") out.push([`${path}.text`, record.text]);
  const assets = asRecord(record.assets);
  if (assets) for (const [name, asset] of Object.entries(assets)) assetTexts(asset, `${path}.assets[${JSON.stringify(name)}]`, out);
}

export const remoteNoSecretLiterals = resourceRule({
  name: "remote-no-secret-literals",
  description: "A remote command's create/update/delete text, environment and inline file text must hold no secret: command lines show in process lists and state, environment is neither secret nor reliably forwarded.",
  appliesTo: isRemoteResource,
  check: ({ props }) => {
    const findings: Finding[] = [];
    for (const field of ["create", "update", "delete"]) {
      const text = props[field];
      if (isRedacted(text)) {
        findings.push({ field, problem: "is a secret value: the command line itself carries a secret (visible in `ps` on the host and in logs)", fix: STDIN_FIX });
      } else if (typeof text === "string") {
        const what = looksLikeSecretLiteral(text);
        if (what) findings.push({ field, problem: `contains ${what}`, fix: STDIN_FIX });
      }
    }
    const env = asRecord(props.environment);
    for (const [name, value] of Object.entries(env ?? {})) {
      const field = `environment.${name}`;
      if (SECRET_ENV_NAME.test(name)) {
        findings.push({ field, problem: "is named like a credential: environment values are stored in clear and sshd drops variables it does not AcceptEnv", fix: STDIN_FIX });
      } else if (isRedacted(value)) {
        findings.push({ field, problem: "is a secret value in the environment, which is neither kept secret nor reliably forwarded over SSH", fix: STDIN_FIX });
      } else if (typeof value === "string") {
        const what = looksLikeSecretLiteral(value);
        if (what) findings.push({ field, problem: `contains ${what}`, fix: STDIN_FIX });
      }
    }
    const texts: Array<[string, string]> = [];
    assetTexts(props.source, "source", texts);
    for (const [field, text] of texts) {
      const what = looksLikeSecretLiteral(text);
      if (what) findings.push({ field, problem: `contains ${what}: an inline asset's text is stored in state in clear`, fix: "copy secrets with a secrets Command on stdin (install-secrets.sh), not inside the copied files" });
    }
    return findings;
  },
});
