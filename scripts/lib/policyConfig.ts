// The policy config (`--policy-pack-config` JSON) read the way the Pulumi engine reads it, and
// checked before any rule runs. Checked: what the engine rejects (a level that is not one, a value
// that is neither a level nor an object, a rule's settings that fail its JSON schema after the
// schema defaults are filled in) and what the engine would let through although it silently
// weakens the gate (a rule name that is not in the pack, a setting the rule does not define, an
// empty file). Every problem is one line naming its JSON path.
import type { EnforcementLevel, PolicyConfigSchema, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import * as fs from "node:fs";
import { closest, ENFORCEMENT_LEVELS, unknownConfigKeys } from "../../policy/lib/define.ts";
import { allPolicies, PACK_ENFORCEMENT_LEVEL } from "../../policy/policies.ts";

export type Policy = ResourceValidationPolicy | StackValidationPolicy;
/** `--policy-pack-config` JSON: `all` and per-policy levels, per-policy config objects. */
export type EnforcementConfig = Record<string, EnforcementLevel | ({ enforcementLevel?: EnforcementLevel } & Record<string, unknown>)>;

export class PolicyConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.join("\n"));
    this.name = "PolicyConfigError";
  }
}

const isLevel = (value: unknown): value is EnforcementLevel => (ENFORCEMENT_LEVELS as readonly unknown[]).includes(value);
const NOT_A_LEVEL = `is not an enforcement level (${ENFORCEMENT_LEVELS.join(", ")})`;

/** A value as the user wrote it, cut short. */
function shown(value: unknown): string {
  const text = value === undefined ? "nothing" : JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/**
 * A policy's level, as the engine resolves it: its own entry's level, else `all`'s, else the
 * policy's own default, else the pack's.
 */
export function levelOf(policy: Policy, config: EnforcementConfig): EnforcementLevel {
  const levelIn = (entry: EnforcementConfig[string] | undefined) => (typeof entry === "string" ? entry : entry?.enforcementLevel);
  return levelIn(config[policy.name]) ?? levelIn(config.all) ?? policy.enforcementLevel ?? PACK_ENFORCEMENT_LEVEL;
}

/** What the rule's `getConfig()` returns under the engine: schema defaults, then the entry's own settings (shallow). */
export function policyConfig(policy: Policy, config: EnforcementConfig = {}): Record<string, unknown> {
  const defaults = Object.fromEntries(
    Object.entries(policy.configSchema?.properties ?? {})
      .filter(([, schema]) => (schema as { default?: unknown }).default !== undefined)
      .map(([key, schema]) => [key, structuredClone((schema as { default: unknown }).default)]),
  );
  const entry = config[policy.name];
  const { enforcementLevel: _level, ...own } = typeof entry === "object" && entry !== null ? entry : {};
  return { ...defaults, ...own };
}

// The engine validates each rule's settings with a JSON Schema validator against
// { type: "object", properties, required } built from the rule's configSchema; so does this, with ajv.
const ajv = new Ajv({ allErrors: true, verbose: true });
const validators = new WeakMap<Policy, ValidateFunction>();
function validatorOf(policy: Policy): ValidateFunction {
  let validate = validators.get(policy);
  if (!validate) {
    const schema: PolicyConfigSchema | undefined = policy.configSchema;
    validate = ajv.compile({ type: "object", ...(schema?.properties ? { properties: schema.properties } : {}), ...(schema?.required?.length ? { required: schema.required } : {}) });
    validators.set(policy, validate);
  }
  return validate;
}

/** `/exemptions/0/reason` → `.exemptions[0].reason` */
const jsonPath = (pointer: string) =>
  pointer
    .split("/")
    .slice(1)
    .map((seg) => seg.replace(/~1/g, "/").replace(/~0/g, "~"))
    .map((seg) => (/^\d+$/.test(seg) ? `[${seg}]` : `.${seg}`))
    .join("");

function schemaProblem(rule: string, e: ErrorObject): string {
  const at = `${rule}${jsonPath(e.instancePath)}`;
  const params = e.params as Record<string, any>;
  switch (e.keyword) {
    case "required":
      return `${at}.${params.missingProperty}: is required`;
    case "additionalProperties": {
      const allowed = Object.keys((e.parentSchema as { properties?: object } | undefined)?.properties ?? {});
      return `${at}.${params.additionalProperty}: is not allowed here (allowed: ${allowed.join(", ")})`;
    }
    case "type":
      return `${at}: expected ${params.type}, got ${shown(e.data)}`;
    case "minLength":
      return `${at}: ${shown(e.data)} is shorter than ${params.limit} characters`;
    case "maxLength":
      return `${at}: ${shown(e.data)} is longer than ${params.limit} characters`;
    case "enum":
      return `${at}: ${shown(e.data)} is not one of ${(params.allowedValues as unknown[]).map(shown).join(", ")}`;
    default:
      return `${at}: ${shown(e.data)} ${e.message}`;
  }
}

/** Every problem of a parsed policy config, as `path: problem` lines (empty: valid). */
export function policyConfigProblems(config: unknown, policies: readonly Policy[] = allPolicies): string[] {
  if (config === null || typeof config !== "object" || Array.isArray(config)) {
    return [`expected an object of rule names and their levels or settings, got ${shown(config)}`];
  }
  const names = policies.map((p) => p.name);
  const problems: string[] = [];
  const usable: EnforcementConfig = {};
  for (const [key, value] of Object.entries(config as Record<string, unknown>)) {
    if (key !== "all" && !names.includes(key)) {
      const hint = closest(key, ["all", ...names]);
      problems.push(`${key}: not a rule of this pack${hint ? ` (did you mean ${hint}?)` : ""}`);
    } else if (typeof value === "string") {
      if (isLevel(value)) usable[key] = value;
      else problems.push(`${key}: ${shown(value)} ${NOT_A_LEVEL}`);
    } else if (value === null || typeof value !== "object" || Array.isArray(value)) {
      problems.push(`${key}: expected an enforcement level or an object of settings, got ${shown(value)}`);
    } else {
      const { enforcementLevel, ...settings } = value as Record<string, unknown>;
      if (enforcementLevel !== undefined && !isLevel(enforcementLevel)) problems.push(`${key}.enforcementLevel: ${shown(enforcementLevel)} ${NOT_A_LEVEL}`);
      // The engine keeps only the level of `all`: a setting there would silently do nothing.
      if (key === "all") for (const setting of Object.keys(settings)) problems.push(`all.${setting}: "all" takes only an enforcement level; settings belong to one rule`);
      else usable[key] = value as EnforcementConfig[string];
    }
  }
  // Every rule, named or not, as the engine does: its defaults must pass its own schema too.
  for (const policy of policies) {
    const settings = policyConfig(policy, usable);
    for (const [key, problem] of unknownConfigKeys(policy.configSchema, settings)) problems.push(`${policy.name}.${key}: ${problem}`);
    const validate = validatorOf(policy);
    if (!validate(settings)) for (const e of validate.errors ?? []) problems.push(schemaProblem(policy.name, e));
  }
  return problems;
}

/** JSON text → value, or the problem (with line and column; an empty file is one too). */
export function parsePolicyConfig(text: string): { config: unknown } | { problem: string } {
  if (text.trim() === "") return { problem: `is empty (the engine would run every rule at the pack's level, ${PACK_ENFORCEMENT_LEVEL})` };
  try {
    return { config: JSON.parse(text) };
  } catch (err) {
    const message = (err as Error).message;
    const position = /at position (\d+)/.exec(message);
    if (!position) return { problem: `not valid JSON: ${message}` };
    const before = text.slice(0, Number(position[1]));
    const line = before.split("\n").length;
    const column = before.length - before.lastIndexOf("\n");
    return { problem: `not valid JSON: ${message.replace(/ in JSON at position \d+$/, "")} (line ${line}, column ${column})` };
  }
}

/** Reads and checks a policy config file (`name`: how messages call it); throws PolicyConfigError. */
export function loadPolicyConfig(file: string, name = file, policies: readonly Policy[] = allPolicies): EnforcementConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new PolicyConfigError([`${name}: cannot read (${(err as Error).message.split(", ")[0]})`]);
  }
  const parsed = parsePolicyConfig(text);
  const problems = "problem" in parsed ? [parsed.problem] : policyConfigProblems(parsed.config, policies);
  if (problems.length > 0) throw new PolicyConfigError(problems.map((p) => `${name}: ${p}`));
  return (parsed as { config: EnforcementConfig }).config;
}

/** Throws PolicyConfigError unless `config` is valid for `policies`: no rule runs on a config that is not. */
export function assertPolicyConfig(config: EnforcementConfig, policies: readonly Policy[] = allPolicies): void {
  const problems = policyConfigProblems(config, policies);
  if (problems.length > 0) throw new PolicyConfigError(problems);
}
