// cephx secret keys, made outside Ceph. A key is the base64 of Ceph's CryptoKey encoding, 28 bytes:
//   le16 type (1 = AES) · le32 created.sec · le32 created.nsec · le16 length (16) · 16 secret bytes
// `ceph-authtool --gen-print-key` makes the same thing. Validation is strict because Ceph is not:
// ceph-authtool accepts a type-0 (CRYPTO_NONE) key, with which any secret authenticates, and drops
// trailing bytes. Error messages never contain the key.

const CEPHX_AES = 1;
const SECRET_LENGTH = 16;
export const CEPHX_KEY_BYTES = 2 + 4 + 4 + 2 + SECRET_LENGTH;

/**
 * The cephx key for 16 secret bytes (base64, e.g. a random.RandomBytes' `base64`). `created` is only
 * metadata; a fixed value keeps the key a pure function of the secret, so re-runs change nothing.
 */
export function cephxKey(secretBase64: string, created = { sec: 0, nsec: 0 }): string {
  const secret = strictBase64(secretBase64);
  if (secret === undefined || secret.length !== SECRET_LENGTH) {
    throw new Error(`cephx: the secret must be exactly ${SECRET_LENGTH} bytes of canonical base64`);
  }
  const key = Buffer.alloc(CEPHX_KEY_BYTES);
  key.writeUInt16LE(CEPHX_AES, 0);
  key.writeUInt32LE(created.sec, 2);
  key.writeUInt32LE(created.nsec, 6);
  key.writeUInt16LE(SECRET_LENGTH, 10);
  secret.copy(key, 12);
  const encoded = key.toString("base64");
  assertCephxKey(encoded, "generated key");
  return encoded;
}

/** Every reason `key` is not a usable cephx key (empty when it is one). */
export function cephxKeyProblems(key: string): string[] {
  const bytes = strictBase64(key);
  if (bytes === undefined) return ["is not canonical base64"];
  if (bytes.length !== CEPHX_KEY_BYTES) return [`decodes to ${bytes.length} bytes, not ${CEPHX_KEY_BYTES}`];
  const problems: string[] = [];
  const type = bytes.readUInt16LE(0);
  if (type !== CEPHX_AES) problems.push(`has crypto type ${type}${type === 0 ? " (none: it would accept any secret)" : ""}, not 1 (AES)`);
  const length = bytes.readUInt16LE(10);
  if (length !== SECRET_LENGTH) problems.push(`declares a ${length}-byte secret, not ${SECRET_LENGTH}`);
  if (bytes.subarray(12).every((b) => b === 0)) problems.push("has an all-zero secret");
  return problems;
}

/** Throws, naming `what` (never the key), unless `key` is a valid cephx AES key. */
export function assertCephxKey(key: string, what: string): void {
  const problems = cephxKeyProblems(key);
  if (problems.length > 0) throw new Error(`cephx: ${what} ${problems.join("; ")}`);
}

/** Decodes only canonical base64 (no whitespace, correct padding, re-encodes to the same text). */
function strictBase64(text: string): Buffer | undefined {
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(text)) return undefined;
  const bytes = Buffer.from(text, "base64");
  return bytes.toString("base64") === text ? bytes : undefined;
}

/** One keyring section, as ceph-authtool and the daemons read it. `caps`: daemon type → capability. */
export function keyringSection(entity: string, key: string, caps: Readonly<Record<string, string>> = {}): string {
  assertCephxKey(key, `key of ${entity}`);
  if (!/^(mon\.|(client|mgr|osd)\.[A-Za-z0-9_.-]+)$/.test(entity)) throw new Error(`cephx: invalid entity name ${JSON.stringify(entity)}`);
  const capLines = Object.entries(caps).map(([daemon, cap]) => {
    if (!/^(mon|mgr|osd|mds)$/.test(daemon) || /["\n]/.test(cap)) throw new Error(`cephx: invalid capability for ${entity}: ${daemon}`);
    return `\tcaps ${daemon} = "${cap}"\n`;
  });
  return `[${entity}]\n\tkey = ${key}\n${capLines.join("")}`;
}
