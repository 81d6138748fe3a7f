// Reads the running stack's config and validates it before any resource is registered. One path for
// `pulumi up` (the engine hands config over in PULUMI_CONFIG) and the offline synth (which sets the
// same map under mocks and checks it first, so an invalid stack writes nothing).
import * as pulumi from "@pulumi/pulumi";
import { checkNamespaces, NAMESPACE } from "./namespaces.js";
import { SECRET_KEYS, SECTION_SCHEMAS, type SecretKey } from "./schema.js";
import { validateConfig, type CollectiveSpec } from "./validate.js";

const PREFIX = `${NAMESPACE}:`;

/** Fails `pulumi up` with one clean message (RunError: no stack trace) listing every problem. */
export class ConfigError extends pulumi.RunError {
  constructor(readonly problems: readonly string[]) {
    super(formatProblems(problems));
    this.name = "ConfigError";
    // No stack frames: the SDK formats every uncaught error with util.inspect, which on Node 20.20
    // loops forever on a frame under node_modules/@scope/<file> (the SDK's own source-mapped
    // frames), so `pulumi preview` would hang instead of printing these problems.
    this.stack = `${this.name}: ${this.message}`;
  }
}

export function formatProblems(problems: readonly string[]): string {
  const count = problems.length === 1 ? "1 problem" : `${problems.length} problems`;
  return `invalid stack configuration (${count}):\n${problems.map((p) => `  - ${p}`).join("\n")}`;
}

/**
 * Raw `borg:*` config of a stack. Values are JSON-decoded; secret keys are replaced by a presence
 * marker so that their values never reach validation, error messages or logs.
 */
export function rawBorgConfig(all: Readonly<Record<string, string>>): Record<string, unknown> {
  const raw: Record<string, unknown> = {};
  for (const [fullKey, value] of Object.entries(all)) {
    if (!fullKey.startsWith(PREFIX)) continue;
    const key = fullKey.slice(PREFIX.length);
    raw[key] = (SECRET_KEYS as readonly string[]).includes(key) ? (value === "" ? "" : "<set>") : decode(value);
  }
  return raw;
}

function decode(value: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    return value; // a plain string: the schema reports that an object was expected
  }
}

export type ConfigCheck =
  | { ok: true; spec: CollectiveSpec; warnings: string[] }
  | { ok: false; problems: string[]; warnings: string[] };

/**
 * Every key of a stack (`namespace:key` → string, as Pulumi hands them over) → the validated spec,
 * or every problem: `borg:*` values, then keys that were meant for `borg:` but sit elsewhere.
 * `isSecret`: keys set with --secret; their values never appear in a problem.
 */
export function checkConfig(all: Readonly<Record<string, string>>, isSecret: (fullKey: string) => boolean): ConfigCheck {
  const raw = rawBorgConfig(all);
  const result = validateConfig(raw, { secretSections: Object.keys(raw).filter((k) => isSecret(`${PREFIX}${k}`)) });
  const namespaces = checkNamespaces(Object.keys(all), [...Object.keys(SECTION_SCHEMAS), ...SECRET_KEYS]);
  const problems = [...(result.ok ? [] : result.problems), ...namespaces.problems];
  if (!result.ok || problems.length > 0) return { ok: false, problems, warnings: namespaces.warnings };
  return { ok: true, spec: result.spec, warnings: namespaces.warnings };
}

/** Whether the engine marked a key secret. Not in the SDK's typings: unknown → treat as secret. */
function engineSecret(fullKey: string): boolean {
  const isConfigSecret = (pulumi.runtime as unknown as { isConfigSecret?: (key: string) => boolean }).isConfigSecret;
  return isConfigSecret ? isConfigSecret(fullKey) : true;
}

/** The validated spec of the current stack; throws ConfigError before anything is created. */
export function loadSpec(): CollectiveSpec {
  const result = checkConfig(pulumi.runtime.allConfig(), engineSecret);
  for (const warning of result.warnings) void pulumi.log.warn(warning);
  if (!result.ok) throw new ConfigError(result.problems);
  return result.spec;
}

/** A user secret as an Output marked secret (never unwrapped into plain values by our code). */
export function requireSecret(key: SecretKey): pulumi.Output<string> {
  return new pulumi.Config(NAMESPACE).requireSecret(key);
}
