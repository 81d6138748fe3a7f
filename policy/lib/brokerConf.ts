// Readers for broker configuration text found in Kubernetes ConfigMaps: nats-server's config
// format (key [:=] value, {maps}, [arrays], # and // comments) and mosquitto's line format. They
// are tolerant: they never throw, and report line numbers so findings can point at the text.

export type ConfValue =
  | { kind: "string"; text: string; quoted: boolean; line: number }
  | { kind: "map"; entries: ConfEntry[]; line: number }
  | { kind: "array"; items: ConfValue[]; line: number };

export interface ConfEntry {
  key: string;
  value: ConfValue;
  line: number;
}

/** Parses nats-server config text into entries (keys keep their spelling; compare with `keyIs`). */
export function parseNatsConf(text: string): ConfEntry[] {
  let i = 0;
  let line = 1;
  const peek = () => text[i] ?? "";
  const advance = () => {
    if (text[i] === "\n") line++;
    i++;
  };
  const skipComment = () => {
    while (i < text.length && text[i] !== "\n") i++;
  };
  // Skips blanks; with `separators`, also newlines, commas, semicolons and comments.
  const skip = (separators: boolean) => {
    while (i < text.length) {
      const c = peek();
      if (c === " " || c === "\t" || c === "\r") advance();
      else if (separators && (c === "\n" || c === "," || c === ";")) advance();
      else if (c === "#" || (c === "/" && text[i + 1] === "/")) skipComment();
      else break;
    }
  };
  const quoted = (): string => {
    const q = peek();
    advance();
    let out = "";
    while (i < text.length && peek() !== q) {
      if (peek() === "\\" && q === '"' && i + 1 < text.length) {
        advance();
        out += peek();
      } else out += peek();
      advance();
    }
    advance();
    return out;
  };
  const bare = (stop: RegExp): string => {
    let out = "";
    while (i < text.length && !stop.test(peek())) {
      out += peek();
      advance();
    }
    return out.trim();
  };
  const value = (): ConfValue => {
    const at = line;
    const c = peek();
    if (c === "{") {
      advance();
      const entries = parseEntries("}");
      advance();
      return { kind: "map", entries, line: at };
    }
    if (c === "[") {
      advance();
      const items: ConfValue[] = [];
      for (;;) {
        skip(true);
        if (i >= text.length || peek() === "]") break;
        const before = i;
        items.push(value());
        if (i === before) advance();
      }
      advance();
      return { kind: "array", items, line: at };
    }
    if (c === '"' || c === "'") return { kind: "string", text: quoted(), quoted: true, line: at };
    return { kind: "string", text: bare(/[\n,;}\]#]/), quoted: false, line: at };
  };
  const parseEntries = (end: string): ConfEntry[] => {
    const entries: ConfEntry[] = [];
    for (;;) {
      skip(true);
      if (i >= text.length || peek() === end) break;
      const at = line;
      const key = peek() === '"' || peek() === "'" ? quoted() : bare(/[\s:={[\]},;#]/);
      if (key === "") {
        advance();
        continue;
      }
      skip(false);
      if (peek() === ":" || peek() === "=") {
        advance();
        skip(false);
      }
      if (key.toLowerCase() === "include") {
        entries.push({ key, value: { kind: "string", text: bare(/[\n;#]/).replace(/^["']|["']$/g, ""), quoted: false, line: at }, line: at });
        continue;
      }
      entries.push({ key, value: value(), line: at });
    }
    return entries;
  };
  return parseEntries("\u0000");
}

/** nats-server keys are case-insensitive. */
export const keyIs = (entry: ConfEntry, ...keys: string[]) => keys.includes(entry.key.toLowerCase());

export const entriesOf = (value: ConfValue | undefined): ConfEntry[] => (value?.kind === "map" ? value.entries : []);

export function findEntry(entries: readonly ConfEntry[], ...keys: string[]): ConfEntry | undefined {
  return entries.find((e) => keyIs(e, ...keys));
}

/** Every entry anywhere below `entries`, with its dotted path (`authorization.users[0].password`). */
export function walkConf(entries: readonly ConfEntry[], prefix = ""): Array<{ path: string; entry: ConfEntry }> {
  const out: Array<{ path: string; entry: ConfEntry }> = [];
  const visit = (value: ConfValue, path: string) => {
    if (value.kind === "map") out.push(...walkConf(value.entries, path));
    if (value.kind === "array") value.items.forEach((item, n) => visit(item, `${path}[${n}]`));
  };
  for (const entry of entries) {
    const path = prefix ? `${prefix}.${entry.key}` : entry.key;
    out.push({ path, entry });
    visit(entry.value, path);
  }
  return out;
}

/** A bcrypt hash as nats-server accepts for passwords and tokens. */
export const isBcrypt = (text: string) => /^\$2[abxy]?\$\d{2}\$[./A-Za-z0-9]{53}$/.test(text.trim());

/** An unquoted `$NAME` reference to a config or environment variable (not a literal). */
export const isVariableReference = (value: ConfValue) => value.kind === "string" && !value.quoted && /^\$[A-Za-z_][A-Za-z0-9_]*$/.test(value.text);

// ---- mosquitto ----------------------------------------------------------------------------

export interface MosquittoListener {
  /** Line of the `listener`/`port` directive; 0 for the implicit default listener. */
  line: number;
  port: string;
  /** Bind address or socket path; "" means all interfaces. */
  address: string;
  tls: boolean;
  /** Line of an `allow_anonymous true` that applies to this listener, if any. */
  anonymousLine?: number;
}

export interface MosquittoConf {
  perListenerSettings: boolean;
  listeners: MosquittoListener[];
  /** Lines of `allow_anonymous true` (any section). */
  anonymousLines: number[];
  passwordFiles: string[];
}

/**
 * Reads mosquitto.conf text. Without `per_listener_settings true`, `allow_anonymous` is global
 * and applies to every listener; TLS (`certfile`/`psk_hint`) is always per listener. With no
 * `listener`/`port` at all mosquitto 2 listens on loopback only.
 */
export function parseMosquittoConf(text: string): MosquittoConf {
  const conf: MosquittoConf = { perListenerSettings: false, listeners: [], anonymousLines: [], passwordFiles: [] };
  let globalAnonymous: number | undefined;
  let lastAnonymous: number | undefined;
  let globalTls = false;
  let defaultPort: MosquittoListener | undefined;
  let bindAddress = "";
  let current: MosquittoListener | undefined;
  text.split("\n").forEach((raw, index) => {
    const lineNo = index + 1;
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const [directive = "", ...rest] = line.split(/\s+/);
    const arg = rest.join(" ");
    switch (directive.toLowerCase()) {
      case "per_listener_settings":
        conf.perListenerSettings = arg.toLowerCase() === "true";
        break;
      case "listener":
        current = { line: lineNo, port: rest[0] ?? "", address: rest[1] ?? "", tls: false };
        conf.listeners.push(current);
        break;
      case "port":
        defaultPort = { line: lineNo, port: rest[0] ?? "", address: "", tls: false };
        break;
      case "bind_address":
        if (!current) bindAddress = arg;
        break;
      case "allow_anonymous": {
        // The last value given in a section wins.
        const on = arg.toLowerCase() === "true" ? lineNo : undefined;
        if (on) conf.anonymousLines.push(lineNo);
        lastAnonymous = on;
        if (current) current.anonymousLine = on;
        else globalAnonymous = on;
        break;
      }
      case "certfile":
      case "psk_hint":
        if (current) current.tls = true;
        else globalTls = true;
        break;
      case "password_file":
        conf.passwordFiles.push(arg);
        break;
      default:
        break;
    }
  });
  if (defaultPort) conf.listeners.unshift({ ...defaultPort, address: bindAddress, tls: globalTls, anonymousLine: globalAnonymous });
  if (!conf.perListenerSettings) {
    // allow_anonymous is a global setting: the last one given wins, wherever it appears.
    for (const l of conf.listeners) l.anonymousLine = lastAnonymous;
  }
  return conf;
}

/** A mosquitto password-file hash (`$6$` sha512, `$7$` pbkdf2-sha512). */
export const isMosquittoHash = (text: string) => /^\$[67]\$/.test(text.trim());

// ---- which ConfigMap entry is which ---------------------------------------------------------

export type ConfKind = "mosquitto" | "nats" | "passwd";

const MOSQUITTO_HINT = /^\s*(?:listener\s+\d|allow_anonymous\s|password_file\s|per_listener_settings\s|persistence_location\s|acl_file\s)/m;
const NATS_HINT = /^\s*(?:jetstream|server_name|leafnodes|cluster|authorization|accounts|http_port|max_payload|no_auth_user|gateway)\s*[:={]|^\s*(?:jetstream|leafnodes|cluster|authorization|accounts|gateway)\s+\{/m;

/** What a ConfigMap `data` entry holds, from its key and text (undefined: not a broker file). */
export function confKind(key: string, text: string, passwordFileNames: ReadonlySet<string>): ConfKind | undefined {
  const base = key.toLowerCase();
  if (passwordFileNames.has(key) || /passw(?:or)?d/.test(base)) return "passwd";
  if (!base.endsWith(".conf")) return undefined;
  if (base.includes("mosquitto") || MOSQUITTO_HINT.test(text)) return "mosquitto";
  if (base.includes("nats") || NATS_HINT.test(text)) return "nats";
  return undefined;
}

/** The broker files of a ConfigMap's `data`: key, text and kind. */
export function brokerFiles(data: unknown): Array<{ key: string; text: string; kind: ConfKind }> {
  if (!data || typeof data !== "object") return [];
  const entries = Object.entries(data as Record<string, unknown>).filter((e): e is [string, string] => typeof e[1] === "string");
  const passwordFileNames = new Set<string>();
  for (const [key, text] of entries) {
    if (key.toLowerCase().endsWith(".conf") && (key.toLowerCase().includes("mosquitto") || MOSQUITTO_HINT.test(text))) {
      for (const file of parseMosquittoConf(text).passwordFiles) passwordFileNames.add(file.split("/").pop() ?? file);
    }
  }
  const out: Array<{ key: string; text: string; kind: ConfKind }> = [];
  for (const [key, text] of entries) {
    const kind = confKind(key, text, passwordFileNames);
    if (kind) out.push({ key, text, kind });
  }
  return out;
}

export const dataField = (key: string, line?: number) => `data[${JSON.stringify(key)}]${line ? ` (line ${line})` : ""}`;
