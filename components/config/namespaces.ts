// Config keys outside `borg:`. Pulumi hands a program every key of the stack file, each as
// `namespace:key`; a key written without a namespace belongs to the project (`borg-collective:`).
// The program reads only `borg:*`, so a key there or in a namespace that looks like `borg` is a
// mistake that would otherwise deploy with defaults. Pure: no Pulumi, no I/O.
import { closest, editDistance } from "./suggest.js";

/** The project name (Pulumi.yaml `name`): the namespace of keys written without one. */
export const PROJECT_NAMESPACE = "borg-collective";
export const NAMESPACE = "borg";
/** Providers the program uses (and the engine's own keys): their keys are theirs to read. */
export const PROVIDER_NAMESPACES = ["proxmoxve", "command", "kubernetes", "consul", "random", "tls", "pulumi"] as const;

export interface NamespaceCheck {
  /** One line per key that was surely meant for `borg:`. */
  readonly problems: string[];
  /** One line per other namespace nobody reads. */
  readonly warnings: string[];
}

/** `Borg`, `borgg`, `brog`, `borg_collective`, `borg-collective` … but not `proxmoxve` or `tls`. */
export function looksLikeBorg(namespace: string): boolean {
  const plain = namespace.toLowerCase().replace(/[^a-z0-9]/g, "");
  return plain.includes(NAMESPACE) || editDistance(plain, NAMESPACE) <= 1;
}

/** @param knownKeys the `borg:` keys the program reads, for the did-you-mean hint. */
export function checkNamespaces(fullKeys: Iterable<string>, knownKeys: readonly string[]): NamespaceCheck {
  const problems: string[] = [];
  const ignored = new Map<string, string[]>();
  for (const fullKey of fullKeys) {
    const colon = fullKey.indexOf(":");
    const namespace = colon < 0 ? PROJECT_NAMESPACE : fullKey.slice(0, colon);
    const key = colon < 0 ? fullKey : fullKey.slice(colon + 1);
    if (namespace === NAMESPACE || (PROVIDER_NAMESPACES as readonly string[]).includes(namespace)) continue;
    if (namespace === PROJECT_NAMESPACE || looksLikeBorg(namespace)) {
      const guess = closest(key, knownKeys);
      const hint = guess ? `did you mean ${NAMESPACE}:${guess}?` : `this program reads only ${NAMESPACE}:* keys (${knownKeys.join(", ")})`;
      const bare = namespace === PROJECT_NAMESPACE ? ` (a key written without a namespace is read as ${PROJECT_NAMESPACE}:<key>)` : "";
      problems.push(`${fullKey}: unknown key; ${hint}${bare}`);
      continue;
    }
    ignored.set(namespace, [...(ignored.get(namespace) ?? []), fullKey]);
  }
  const warnings = [...ignored].map(
    ([namespace, keys]) =>
      `config namespace '${namespace}' (${keys.join(", ")}) is read neither by this program (${NAMESPACE}:) nor by its providers (${PROVIDER_NAMESPACES.join(", ")}): ignored`,
  );
  return { problems, warnings };
}
