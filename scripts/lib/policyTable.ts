// The README's rule table, generated from the policies and the per-stack configs (a test keeps the
// README equal to it): name, what it checks, level in dev / staging / prod.
import * as path from "node:path";
import { PROJECT_ROOT } from "../../components/bundle.js";
import { allPolicies } from "../../policy/policies.ts";
import { readEnforcementConfig, type EnforcementConfig } from "./policyRunner.js";

function level(config: EnforcementConfig, name: string): string {
  const own = config[name];
  const all = config.all;
  return (typeof own === "string" ? own : own?.enforcementLevel) ?? (typeof all === "string" ? all : all?.enforcementLevel) ?? "advisory";
}

export function policyTable(): string {
  const configs = ["dev", "staging", "prod"].map((s) => readEnforcementConfig(path.join(PROJECT_ROOT, "policy", "config", `${s}.json`)));
  const rows = allPolicies.map((p) => `| \`${p.name}\` | ${p.description.replace(/\|/g, "\\|")} | ${configs.map((c) => level(c, p.name)).join(" | ")} |`);
  return ["| rule | what it checks | dev | staging | prod |", "|---|---|---|---|---|", ...rows].join("\n");
}
