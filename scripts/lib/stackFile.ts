// Reads a stack file (stacks/Pulumi.<stack>.yaml) the way the Pulumi CLI hands config to a program:
// every value as a string, objects and lists JSON-encoded, `secure:` values marked secret.
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { PROJECT_NAMESPACE } from "../../components/config/namespaces.js";

export interface StackConfig {
  readonly stack: string;
  readonly file: string;
  /** `namespace:key` → string value (JSON for objects and lists). */
  readonly values: Record<string, string>;
  /** Keys whose value is a ciphertext in the file (`secure:`): the offline run cannot decrypt them. */
  readonly encrypted: readonly string[];
}

export class StackFileError extends Error {}

export function stackNameFromFile(file: string): string {
  const match = /^Pulumi\.([A-Za-z0-9_.-]+)\.ya?ml$/.exec(path.basename(file));
  if (!match) throw new StackFileError(`${file}: a stack file is named Pulumi.<stack>.yaml`);
  return match[1]!;
}

export function readStackFile(file: string): StackConfig {
  const stack = stackNameFromFile(file);
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new StackFileError(`${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new StackFileError(`${file}: not valid YAML: ${(err as Error).message.split("\n")[0]}`);
  }
  const config = (doc as { config?: unknown } | null)?.config ?? {};
  if (typeof config !== "object" || config === null || Array.isArray(config)) throw new StackFileError(`${file}: 'config' must be a mapping`);
  const values: Record<string, string> = {};
  const encrypted: string[] = [];
  for (const [rawKey, value] of Object.entries(config)) {
    // The CLI qualifies bare keys with the project name; the config check rejects them there.
    const key = rawKey.includes(":") ? rawKey : `${PROJECT_NAMESPACE}:${rawKey}`;
    if (value !== null && typeof value === "object" && !Array.isArray(value) && "secure" in value) {
      encrypted.push(key);
      continue;
    }
    values[key] = typeof value === "string" ? value : JSON.stringify(value);
  }
  return { stack, file, values, encrypted };
}
