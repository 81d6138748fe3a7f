// The README's rule table and Pod Security Standards table, generated from the policies and the
// per-stack configs (tests keep the README equal to them): name, what it checks, level in dev /
// staging / prod; each PSS control, its rules, its level and the profile each stack enforces.
import * as path from "node:path";
import type { EnforcementLevel } from "@pulumi/policy";
import { PROJECT_ROOT } from "../../components/bundle.js";
import { PSS_CONTROLS } from "../../policy/kubernetes/podSecurityStandards.ts";
import { allPolicies } from "../../policy/policies.ts";
import { levelOf, loadPolicyConfig, type EnforcementConfig } from "./policyRunner.js";

const STACKS = ["dev", "staging", "prod"];
const stackConfigs = () => STACKS.map((s) => loadPolicyConfig(path.join(PROJECT_ROOT, "policy", "config", `${s}.json`), `policy/config/${s}.json`));

export function policyTable(): string {
  const configs = stackConfigs();
  const rows = allPolicies.map((p) => `| \`${p.name}\` | ${p.description.replace(/\|/g, "\\|")} | ${configs.map((c) => levelOf(p, c)).join(" | ")} |`);
  return ["| rule | what it checks | dev | staging | prod |", "|---|---|---|---|---|", ...rows].join("\n");
}

const STRENGTH: Record<EnforcementLevel, number> = { disabled: 0, advisory: 1, mandatory: 2, remediate: 2 };

/** A control is as strong as its weakest rule. */
function controlLevel(rules: string[], config: EnforcementConfig): EnforcementLevel {
  const levels = rules.map((name) => {
    const policy = allPolicies.find((p) => p.name === name);
    if (!policy) throw new Error(`podSecurityStandards.ts names an unknown rule ${name}`);
    return levelOf(policy, config);
  });
  return levels.reduce((weakest, l) => (STRENGTH[l] < STRENGTH[weakest] ? l : weakest));
}

/** The highest upstream profile whose every control is enforced (mandatory) under `config`. */
export function enforcedProfile(config: EnforcementConfig): "restricted" | "baseline" | "none" {
  const enforced = (profiles: string[]) => PSS_CONTROLS.filter((c) => profiles.includes(c.profile)).every((c) => STRENGTH[controlLevel(c.rules, config)] === 2);
  return enforced(["baseline", "restricted"]) ? "restricted" : enforced(["baseline"]) ? "baseline" : "none";
}

export function podSecurityTable(): string {
  const configs = stackConfigs();
  const rows = PSS_CONTROLS.map(
    (c) => `| ${c.control} | ${c.profile === "none" ? "—" : c.profile} | ${c.rules.map((r) => `\`${r}\``).join(", ")} | ${configs.map((config) => controlLevel(c.rules, config)).join(" | ")} | ${c.note} |`,
  );
  const profiles = STACKS.map((s, i) => `${s}: **${enforcedProfile(configs[i]!)}**`).join(", ");
  return [
    "| PSS control | profile | rule(s) | dev | staging | prod | notes |",
    "|---|---|---|---|---|---|---|",
    ...rows,
    "",
    `Profile enforced (every control of it mandatory): ${profiles}.`,
  ].join("\n");
}
