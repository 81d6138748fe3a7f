// Reads Consul ACL policy rules (HCL or the equivalent JSON) into grants: resource blocks
// (`key_prefix "" { policy = "write" }`) and top-level assignments (`operator = "write"`).

export interface AclGrant {
  /** `key_prefix`, `service`, …; for a top-level assignment the resource itself (`operator`). */
  resource: string;
  /** Segment name of a block (`""`, `"web"`); undefined for a top-level assignment. */
  segment?: string;
  /** The access level: read, write, list, deny. */
  policy?: string;
  /** `intentions = "…"` inside a service block. */
  intentions?: string;
  /** Line in the rules text (1-based; 0 when read from JSON). */
  line: number;
}

function stripComments(text: string): string {
  // Keep newlines (line numbers) and quoted strings; drop #, // and /* */ comments.
  return text.replace(/"(?:[^"\\]|\\.)*"|\/\*[\s\S]*?\*\/|#[^\n]*|\/\/[^\n]*/g, (m) => (m.startsWith('"') ? m : m.replace(/[^\n]/g, " ")));
}

const lineAt = (text: string, index: number) => text.slice(0, index).split("\n").length;
const attr = (body: string, name: string) => body.match(new RegExp(`\\b${name}\\s*=\\s*"?([A-Za-z]+)"?`))?.[1]?.toLowerCase();

function fromJson(value: unknown): AclGrant[] | undefined {
  if (!value || typeof value !== "object" || Array.isArray(value)) return undefined;
  const grants: AclGrant[] = [];
  for (const [resource, v] of Object.entries(value as Record<string, unknown>)) {
    if (typeof v === "string") grants.push({ resource, policy: v.toLowerCase(), line: 0 });
    else if (v && typeof v === "object") {
      // {"key_prefix": {"": {"policy": "write"}}} or the list form [{"": {...}}]
      const blocks = Array.isArray(v) ? v : [v];
      for (const block of blocks) {
        for (const [segment, body] of Object.entries((block ?? {}) as Record<string, Record<string, unknown>>)) {
          const b = body ?? {};
          grants.push({
            resource,
            segment,
            ...(typeof b.policy === "string" ? { policy: b.policy.toLowerCase() } : {}),
            ...(typeof b.intentions === "string" ? { intentions: b.intentions.toLowerCase() } : {}),
            line: 0,
          });
        }
      }
    }
  }
  return grants;
}

export function parseAclRules(rules: string): AclGrant[] {
  const trimmed = rules.trim();
  if (trimmed.startsWith("{")) {
    try {
      const json = fromJson(JSON.parse(trimmed));
      if (json) return json;
    } catch {
      // not JSON: HCL that starts with a brace is not valid either; fall through.
    }
  }
  const text = stripComments(rules);
  const grants: AclGrant[] = [];
  const blocks = /\b([a-z_]+)\s+"((?:[^"\\]|\\.)*)"\s*\{([^{}]*)\}/g;
  let m: RegExpExecArray | null;
  const spans: Array<[number, number]> = [];
  while ((m = blocks.exec(text))) {
    const [, resource = "", segment = "", body = ""] = m;
    const policy = attr(body, "policy");
    const intentions = attr(body, "intentions");
    grants.push({ resource, segment, ...(policy ? { policy } : {}), ...(intentions ? { intentions } : {}), line: lineAt(text, m.index) });
    spans.push([m.index, m.index + m[0].length]);
  }
  // Top-level assignments: what is left once the blocks are blanked out.
  let rest = text;
  for (const [from, to] of spans) rest = rest.slice(0, from) + rest.slice(from, to).replace(/[^\n]/g, " ") + rest.slice(to);
  const assignments = /\b([a-z_]+)\s*=\s*"([A-Za-z]+)"/g;
  while ((m = assignments.exec(rest))) grants.push({ resource: m[1]!, policy: m[2]!.toLowerCase(), line: lineAt(rest, m.index) });
  return grants;
}

/** Top-level resources whose `write` is cluster-wide (there is no segment to narrow them). */
export const GLOBAL_RESOURCES = new Set(["acl", "operator", "keyring", "mesh", "peering"]);

/** The segment matches everything: `""` for prefix rules (legacy exact rules too), or `*`. */
export const isWildcardSegment = (segment: string | undefined) => segment === "" || segment === "*";

/** The built-in global-management policy: its name and its fixed id. */
export const GLOBAL_MANAGEMENT = new Set(["global-management", "00000000-0000-0000-0000-000000000001"]);
