// How every borg policy is built: a plain policy object whose messages name the resource, the
// offending field and the fix, with per-resource exemptions (each with a reason) from the
// policy's config (`--policy-pack-config`). No policy imports the pack: see ../index.ts.
import type {
  PolicyConfigSchema,
  PolicyResource,
  ReportViolation,
  ResourceValidationArgs,
  ResourceValidationPolicy,
  StackValidationArgs,
  StackValidationPolicy,
} from "@pulumi/policy";

export interface Exemption {
  /** URN or logical name of the exempted resource. */
  resource: string;
  /** Why this resource may break the rule; shown whenever the exemption applies. */
  reason: string;
}

export interface PolicyConfig {
  exemptions: Exemption[];
  [key: string]: unknown;
}

/** The levels the engine accepts in `--policy-pack-config` (any other value is an error there). */
export const ENFORCEMENT_LEVELS = ["advisory", "mandatory", "remediate", "disabled"] as const;

/** The shortest reason an exemption may give, in characters (Unicode code points, as JSON Schema counts). */
export const MIN_REASON_LENGTH = 10;

const EXEMPTIONS_PROPERTY = {
  type: "array",
  default: [],
  items: {
    type: "object",
    additionalProperties: false,
    required: ["resource", "reason"],
    properties: { resource: { type: "string", minLength: 1 }, reason: { type: "string", minLength: MIN_REASON_LENGTH } },
  },
};

const configSchemaOf = (extra: Record<string, unknown> | undefined) =>
  ({ properties: { exemptions: EXEMPTIONS_PROPERTY, ...(extra ?? {}) } }) as unknown as PolicyConfigSchema;

/** Levenshtein distance, for did-you-mean hints. */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    previous = current;
  }
  return previous[b.length]!;
}

/** The candidate `word` most likely misspells (at most a third of its letters off), if any. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: { candidate: string; d: number } | undefined;
  for (const candidate of candidates) {
    const d = distance(word.toLowerCase(), candidate.toLowerCase());
    if (d <= Math.max(2, Math.floor(candidate.length / 3)) && (!best || d < best.d)) best = { candidate, d };
  }
  return best?.candidate;
}

/**
 * Keys of a rule's config its schema does not define, as `[key, problem]` pairs. The engine checks
 * a rule's config against the schema's `properties` and `required` only, so a misspelt setting
 * (`exemption`, `allowedWorkload`) would pass and the rule would silently run on its defaults.
 */
export function unknownConfigKeys(schema: PolicyConfigSchema | undefined, config: Record<string, unknown>): Array<[string, string]> {
  const known = Object.keys(schema?.properties ?? {});
  return Object.keys(config)
    .filter((key) => !known.includes(key))
    .map((key) => {
      const hint = closest(key, known);
      return [key, `is not a setting of this rule (${hint ? `did you mean ${hint}?` : `settings: ${known.join(", ")}`})`];
    });
}

/** The rule's config; a key it does not define stops the run (the engine would let it through). */
function ruleConfig(name: string, schema: PolicyConfigSchema, config: PolicyConfig): PolicyConfig {
  const unknown = unknownConfigKeys(schema, config);
  if (unknown.length > 0) throw new Error(`policy config: ${unknown.map(([key, problem]) => `${name}.${key}: ${problem}`).join("; ")}`);
  return config;
}

/** A finding: which field is wrong, what is wrong with it, and how to fix it. */
export interface Finding {
  field: string;
  problem: string;
  fix: string;
}

export const formatViolation = (resource: { name: string; type: string }, f: Finding) =>
  `${resource.name} (${resource.type}): ${f.field}: ${f.problem}. Fix: ${f.fix}`;

/**
 * The exemption of this resource (by URN or logical name), if any. Only a well-formed exemption
 * counts: both the engine and the offline runner reject a malformed one before any rule runs, and
 * should one get past them anyway, the rule still reports the violation.
 */
function exemptionFor(config: PolicyConfig | undefined, urn: string, name: string): Exemption | undefined {
  const exemptions: unknown[] = Array.isArray(config?.exemptions) ? config.exemptions : [];
  return exemptions.filter(isExemption).find((e) => e.resource === urn || e.resource === name);
}

function isExemption(e: unknown): e is Exemption {
  const { resource, reason } = (e ?? {}) as Partial<Exemption>;
  return typeof resource === "string" && resource !== "" && typeof reason === "string" && [...reason].length >= MIN_REASON_LENGTH;
}

/**
 * Where the offline runner collects the exemptions a stack rule applied (a stack rule cannot
 * report one resource as not applicable). The engine passes no such hook: there the exempted
 * findings are simply not reported, exactly as offline.
 */
export interface ExemptionSink {
  exempted?: (resource: PolicyResource, reason: string) => void;
}

export interface ResourceRuleSpec {
  name: string;
  description: string;
  /** Types this rule judges; any other type is reported as not applicable. */
  appliesTo: (type: string) => boolean;
  /** Returns the findings for one resource (empty: compliant). */
  check: (resource: ResourceValidationArgs, config: PolicyConfig) => Finding[];
  /** Extra config properties besides `exemptions` (JSON schema). */
  configProperties?: Record<string, unknown>;
}

export function resourceRule(spec: ResourceRuleSpec): ResourceValidationPolicy {
  const configSchema = configSchemaOf(spec.configProperties);
  return {
    name: spec.name,
    description: spec.description,
    configSchema,
    validateResource: (args: ResourceValidationArgs, report: ReportViolation) => {
      // The config first: a bad one fails every resource, not only those the rule judges.
      const config = ruleConfig(spec.name, configSchema, args.getConfig<PolicyConfig>());
      if (!spec.appliesTo(args.type)) args.notApplicable(`${spec.name} does not judge ${args.type}`);
      const exemption = exemptionFor(config, args.urn, args.name);
      if (exemption) args.notApplicable(`exempt: ${exemption.reason}`);
      for (const finding of spec.check(args, config)) report(formatViolation(args, finding));
    },
  };
}

export interface StackFinding extends Finding {
  /** The resource at fault; omitted when the whole stack is (e.g. a missing resource). */
  resource?: PolicyResource;
}

export interface StackRuleSpec {
  name: string;
  description: string;
  check: (resources: readonly PolicyResource[], config: PolicyConfig, args: StackValidationArgs) => StackFinding[];
  configProperties?: Record<string, unknown>;
}

export function stackRule(spec: StackRuleSpec): StackValidationPolicy {
  const configSchema = configSchemaOf(spec.configProperties);
  return {
    name: spec.name,
    description: spec.description,
    configSchema,
    validateStack: (args: StackValidationArgs, report: ReportViolation) => {
      const config = ruleConfig(spec.name, configSchema, args.getConfig<PolicyConfig>());
      for (const finding of spec.check(args.resources, config, args)) {
        const at = finding.resource;
        const exemption = at && exemptionFor(config, at.urn, at.name);
        if (at && exemption) {
          (args as StackValidationArgs & ExemptionSink).exempted?.(at, exemption.reason);
          continue;
        }
        report(formatViolation(at ?? { name: "stack", type: "pulumi:pulumi:Stack" }, finding), at?.urn);
      }
    },
  };
}

/** Reads a nested property by path (`a.b[0].c`), undefined when any step is missing. */
export function get(value: unknown, path: string): unknown {
  let current: unknown = value;
  for (const part of path.split(/\.|\[(\d+)\]/).filter((p) => p !== undefined && p !== "")) {
    if (current === null || typeof current !== "object") return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

/**
 * A value that is secret in the plan shows as this marker (offline synth). Under the CLI, secret
 * values arrive unwrapped, so rules never depend on a value being shown as secret.
 */
export const REDACTED = "[secret]";

/** An environment variable name that says it carries a credential. */
export const SECRET_ENV_NAME = /PASSWORD|PASSWD|PASSPHRASE|TOKEN|SECRET|CREDENTIAL|PRIVATE_?KEY|API_?KEY|ACCESS_?KEY|(?:^|_)KEY(?:_|$)/i;

const PATH_WORD = /^\.?[a-z][a-z0-9_.-]{0,39}$/;

/**
 * Text with what is known not to be secret taken out before the secret-literal scan: OpenSSH
 * public keys, and filesystem paths (a path whose segments include a content hash otherwise
 * reads as "a long base64 blob"). A path is split into its segments, so a blob that *is* a
 * segment is still found.
 */
export function withoutPublicMaterial(text: string): string {
  return text
    .replace(/(?:ssh-(?:ed25519|rsa|dss)|ecdsa-sha2-nistp(?:256|384|521)|sk-[a-z0-9-]+@openssh\.com)\s+AAAA[A-Za-z0-9+/]+={0,3}/g, "<ssh-public-key>")
    .replace(/(?<=^|[\s'"=(])(?:~|\.{1,2})?(?:\/[A-Za-z0-9._@%+=:,-]+)+\/?/g, (path) => {
      const segments = path.split("/").filter((s) => s !== "" && s !== "~" && s !== "." && s !== "..");
      return segments.some((s) => PATH_WORD.test(s)) ? ` ${segments.join(" ")} ` : path;
    });
}

/** Looks like a credential typed into plain text (keys, tokens, passwords, connection strings). */
export function looksLikeSecretLiteral(raw: string): string | undefined {
  const text = withoutPublicMaterial(raw);
  const patterns: Array<[RegExp, string]> = [
    [/-----BEGIN [A-Z ]*PRIVATE KEY-----/, "a PEM private key"],
    [/\b(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key)\s*[=:]\s*['"]?[^\s'"$<{[]{6,}/i, "a credential assignment"],
    [/\b[a-z][a-z0-9+.-]*:\/\/[^\s/:@]+:[^\s/@$]{4,}@/i, "a URL with an embedded password"],
    [/\bAKIA[0-9A-Z]{16}\b/, "an AWS access key id"],
    [/\bgh[pousr]_[A-Za-z0-9]{36,}\b/, "a GitHub token"],
  ];
  const found = patterns.find(([re]) => re.test(text))?.[1];
  if (found) return found;
  // A long base64 run is a key or token; a hex run of the same length is a content hash.
  const blob = text.match(/[A-Za-z0-9+/]{40,}={0,2}/g)?.find((b) => /[g-zG-Z+/]/.test(b) && /\d/.test(b));
  return blob ? "a long base64 blob" : undefined;
}
