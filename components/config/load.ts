// Reads the `borg:*` keys of the running stack and validates them before any resource is registered.
import * as pulumi from "@pulumi/pulumi";
import { SECRET_KEYS, type SecretKey } from "./schema.js";
import { validateConfig, type CollectiveSpec } from "./validate.js";

const NAMESPACE = "borg:";

/** Fails `pulumi up` with one clean message (RunError: no stack trace) listing every problem. */
export class ConfigError extends pulumi.RunError {
  constructor(readonly problems: readonly string[]) {
    super(formatProblems(problems));
    this.name = "ConfigError";
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
    if (!fullKey.startsWith(NAMESPACE)) continue;
    const key = fullKey.slice(NAMESPACE.length);
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

/** The validated spec of the current stack; throws ConfigError before anything is created. */
export function loadSpec(): CollectiveSpec {
  const result = validateConfig(rawBorgConfig(pulumi.runtime.allConfig()));
  if (!result.ok) throw new ConfigError(result.problems);
  return result.spec;
}

/** A user secret as an Output marked secret (never unwrapped into plain values by our code). */
export function requireSecret(key: SecretKey): pulumi.Output<string> {
  return new pulumi.Config("borg").requireSecret(key);
}
