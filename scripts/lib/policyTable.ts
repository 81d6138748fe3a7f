// The README's rule table, generated from the policies and the per-stack configs (a test keeps the
// README equal to it): name, what it checks, level in dev / staging / prod.
import * as path from "node:path";
import { PROJECT_ROOT } from "../../components/bundle.js";
import { allPolicies } from "../../policy/policies.ts";
import { levelOf, readEnforcementConfig } from "./policyRunner.js";

export function policyTable(): string {
  const configs = ["dev", "staging", "prod"].map((s) => readEnforcementConfig(path.join(PROJECT_ROOT, "policy", "config", `${s}.json`)));
  const rows = allPolicies.map((p) => `| \`${p.name}\` | ${p.description.replace(/\|/g, "\\|")} | ${configs.map((c) => levelOf(p, c)).join(" | ")} |`);
  return ["| rule | what it checks | dev | staging | prod |", "|---|---|---|---|---|", ...rows].join("\n");
}
