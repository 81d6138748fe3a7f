// Zod issues → one readable line each: what was expected and what the stack file holds instead.
// "is required" only when the key is absent. Pure: no Pulumi, no I/O.
import type { z } from "zod";
import { closest } from "./suggest.js";

type Path = ReadonlyArray<PropertyKey>;
type Issue = z.core.$ZodIssue;
type RawIssue = z.core.$ZodRawIssue;

/** `["drones", 1, "address"]` → `borg:drones[1].address`. */
export function configPath(path: Path): string {
  let out = "borg:";
  path.forEach((part, i) => {
    if (typeof part === "number") out += `[${part}]`;
    else out += i === 0 ? String(part) : `.${String(part)}`;
  });
  return out;
}

const TYPE_NAMES: Record<string, string> = {
  number: "a number",
  int: "a whole number",
  string: "a string",
  boolean: "true or false",
  object: "a mapping (key: value)",
  array: "a list",
  null: "nothing",
};

/** Short scalars as written; anything that could be key material or a token is only described. */
export function describeValue(value: unknown, secret = false): string {
  if (secret) return "a secret value (not shown)";
  if (value === null) return "an empty value";
  if (Array.isArray(value)) return value.length === 0 ? "an empty list" : `a list of ${value.length}`;
  if (typeof value === "object") return "a mapping";
  if (typeof value === "string") {
    const credential = /PRIVATE KEY|\n|![^\s=]+=/.test(value);
    return value.length > 100 || credential ? `a string of ${value.length} characters (not shown)` : JSON.stringify(value);
  }
  return String(value);
}

/** Walks a schema to the field at `path` (through optional/default wrappers, objects, lists). */
export function schemaAt(schema: z.ZodType, path: Path): z.ZodType | undefined {
  const unwrap = (s: z.ZodType | undefined): z.ZodType | undefined => {
    while (s && ["optional", "default", "prefault", "nullable", "readonly"].includes(s._zod.def.type)) {
      s = (s._zod.def as unknown as { innerType: z.ZodType }).innerType;
    }
    return s;
  };
  let at = unwrap(schema);
  for (const key of path) {
    const def = at?._zod.def as { type?: string; shape?: Record<string, z.ZodType>; element?: z.ZodType } | undefined;
    if (def?.type === "object" && typeof key === "string") at = unwrap(def.shape?.[key]);
    else if (def?.type === "array" && typeof key === "number") at = unwrap(def.element);
    else return undefined;
  }
  return at;
}

/**
 * Messages for issues whose schema gave none (schema messages win, as zod resolves them). Pass it as
 * the `error` option of safeParse, with `reportInput: true` so the formatter can show the value.
 */
export function defaultMessage(issue: RawIssue): string | undefined {
  switch (issue.code) {
    case "invalid_type": {
      // z.number().int() reports a string as "expected number": the schema knows it wants an integer.
      const int = issue.expected === "number" && /int/.test(String((issue.inst as { format?: unknown } | undefined)?.format ?? ""));
      return `expected ${TYPE_NAMES[int ? "int" : issue.expected] ?? issue.expected}`;
    }
    case "invalid_value":
      return issue.values.length === 1 ? `must be ${JSON.stringify(issue.values[0])}` : `expected one of ${issue.values.map(String).join(", ")}`;
    case "too_small": {
      const n = Number(issue.minimum);
      if (issue.origin === "array") return `needs at least ${n} ${n === 1 ? "entry" : "entries"}`;
      if (issue.origin === "string") return `must be at least ${n} characters long`;
      return issue.inclusive === false ? `must be greater than ${n}` : `must be at least ${n}`;
    }
    case "too_big": {
      const n = Number(issue.maximum);
      if (issue.origin === "array") return `allows at most ${n} ${n === 1 ? "entry" : "entries"}`;
      if (issue.origin === "string") return `must be at most ${n} characters long`;
      return issue.inclusive === false ? `must be less than ${n}` : `must be at most ${n}`;
    }
    case "invalid_format":
      return issue.format === "regex" ? `must match ${String(issue.pattern)}` : `must be a valid ${issue.format}`;
    case "not_multiple_of":
      return `must be a multiple of ${String(issue.divisor)}`;
    case "invalid_union": {
      // The alternatives' type errors say what would have been accepted.
      const expected = issue.errors.flatMap((alt) => alt.filter((i) => i.code === "invalid_type").map((i) => TYPE_NAMES[i.expected] ?? i.expected));
      return expected.length > 0 ? `expected ${[...new Set(expected)].join(" or ")}` : "matches none of the accepted forms";
    }
    default:
      return undefined;
  }
}

export const PARSE_OPTIONS = { reportInput: true, error: defaultMessage } as const;

export interface Located {
  path: Path;
  message: string;
}

/**
 * One zod issue of the section schema `schema` (parsed at `prefix`) → the problems it stands for.
 * `secret`: the section's value is a secret, so values are described, never shown.
 */
export function explainIssue(issue: Issue, prefix: Path, schema: z.ZodType, secret = false): Located[] {
  const path = [...prefix, ...issue.path];
  const input = (issue as { input?: unknown }).input;
  if (issue.code === "unrecognized_keys") {
    const known = Object.keys((schemaAt(schema, issue.path)?._zod.def as { shape?: object } | undefined)?.shape ?? {});
    return issue.keys.map((key) => {
      const guess = closest(key, known);
      const hint = guess ? `did you mean ${configPath([...path, guess])}?` : `known keys: ${known.join(", ")}`;
      return { path: [...path, key], message: `unknown key; ${hint}` };
    });
  }
  // Only an absent key has no input (config values are JSON: never undefined).
  if (input === undefined && ["invalid_type", "invalid_value", "invalid_union"].includes(issue.code)) return [{ path, message: "is required" }];
  return [{ path, message: input === undefined ? issue.message : `${issue.message}, got ${describeValue(input, secret)}` }];
}
