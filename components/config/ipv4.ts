// Pure IPv4 / CIDR arithmetic for config validation. No dependencies: these run before anything else.

export interface Cidr {
  readonly network: number; // first address, as an unsigned 32-bit integer
  readonly prefixLength: number;
  readonly size: number; // number of addresses in the block
}

const OCTET = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** Parses dotted-quad IPv4; undefined when malformed (leading zeros are rejected: they are octal to some tools). */
export function parseIpv4(text: string): number | undefined {
  const parts = text.split(".");
  if (parts.length !== 4 || !parts.every((p) => OCTET.test(p))) return undefined;
  return parts.reduce((acc, p) => acc * 256 + Number(p), 0);
}

export function formatIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join(".");
}

/** Parses `a.b.c.d/n`; the address must be the network address itself (10.42.0.5/24 is a typo, not a network). */
export function parseCidr(text: string): Cidr | undefined {
  const match = /^([^/]+)\/(\d{1,2})$/.exec(text);
  if (!match) return undefined;
  const address = parseIpv4(match[1]!);
  const prefixLength = Number(match[2]);
  if (address === undefined || prefixLength > 32) return undefined;
  const size = 2 ** (32 - prefixLength);
  if (address % size !== 0) return undefined;
  return { network: address, prefixLength, size };
}

export function cidrContains(cidr: Cidr, address: number): boolean {
  return address >= cidr.network && address < cidr.network + cidr.size;
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return a.network < b.network + b.size && b.network < a.network + a.size;
}

/** True for the network and broadcast addresses of blocks that have them (prefix <= 30). */
export function isReservedInCidr(cidr: Cidr, address: number): boolean {
  return cidr.prefixLength <= 30 && (address === cidr.network || address === cidr.network + cidr.size - 1);
}
