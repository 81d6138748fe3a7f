// An env `value` is stored in the workload object: anyone who can read Deployments (and every
// plan, diff and state file) reads the secret. A secretKeyRef keeps it in a Secret.
import { looksLikeSecretLiteral, resourceRule, SECRET_ENV_NAME, type Finding } from "../lib/define";
import { describeContainer, forEachContainer, isWorkload } from "../lib/kubernetes";

// `DB_PASSWORD_FILE=/run/secrets/db` is the recommended pattern (a path to a mounted secret), not a secret.
const POINTER_SUFFIX = /[_.-](?:FILE|PATH|DIR)$/i;

export const noSecretEnvLiterals = resourceRule({
  name: "k8s-no-secret-env-literals",
  description: "No container env var holds a literal value that looks like a secret, by its name or by its content.",
  appliesTo: isWorkload,
  check: (args) =>
    forEachContainer(args, (c) => {
      const env: unknown[] = Array.isArray(c.container.env) ? c.container.env : [];
      const findings: Finding[] = [];
      env.forEach((entry, i) => {
        const { name, value } = (entry ?? {}) as { name?: unknown; value?: unknown };
        if (typeof value !== "string" || value === "") return;
        const varName = typeof name === "string" ? name : "";
        const byName = SECRET_ENV_NAME.test(varName) && !POINTER_SUFFIX.test(varName);
        const byContent = looksLikeSecretLiteral(value);
        if (!byName && !byContent) return;
        findings.push({
          field: `${c.path}.env[${i}].value`,
          problem: `${describeContainer(c)} sets env ${varName || `#${i}`} to a literal ${byContent ? `that contains ${byContent}` : "secret value (by its name)"}`,
          fix: `store the value in a Secret and use env[${i}].valueFrom.secretKeyRef: { name: <secret>, key: <key> } instead of value`,
        });
      });
      return findings;
    }),
});
