// Small readers for the non-Kubernetes rules: inputs as they reach a policy both in a real
// `pulumi preview` (secrets unwrapped, provider inputs JSON-encoded strings) and in the offline
// plan (secrets shown as REDACTED). No rule may depend on which of the two it is looking at.
import { REDACTED } from "./define";

export const isRedacted = (value: unknown): boolean => value === REDACTED;

/** A boolean switch that is on: `true`, or the string "true" (provider inputs are JSON-encoded). */
export const isOn = (value: unknown): boolean => value === true || value === "true";

/** Set to something: not undefined/null, not an empty string, array or object. */
export function isPresent(value: unknown): boolean {
  if (value === undefined || value === null || value === "") return false;
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === "object") return Object.keys(value as object).length > 0;
  return true;
}

/** A non-empty string (REDACTED counts: a secret value was given). */
export const isNonEmptyString = (value: unknown): value is string => typeof value === "string" && value.trim() !== "";

/** Provider inputs reach real policies JSON-encoded: decode objects, arrays, booleans, numbers. */
export function decoded(value: unknown): unknown {
  if (typeof value !== "string") return value;
  const text = value.trim();
  if (!/^[[{]/.test(text)) return value;
  try {
    return JSON.parse(text);
  } catch {
    return value;
  }
}

export function asRecord(value: unknown): Record<string, unknown> | undefined {
  const v = decoded(value);
  return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

export function asArray(value: unknown): unknown[] {
  const v = decoded(value);
  return Array.isArray(v) ? v : [];
}

/** A number, or a string holding one (provider inputs); undefined otherwise (also for REDACTED). */
export function asNumber(value: unknown): number | undefined {
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value === "string" && /^\s*-?\d+(\.\d+)?\s*$/.test(value)) return Number(value);
  return undefined;
}

/** A policy config entry that should be a list of strings/numbers. */
export function configList<T extends string | number>(config: Record<string, unknown>, key: string, fallback: T[]): T[] {
  const v = config[key];
  return Array.isArray(v) ? (v as T[]) : fallback;
}

/** Loopback only: 127.0.0.0/8, ::1, localhost, or a unix socket path. Empty/absent means all interfaces. */
export function isLoopback(address: unknown): boolean {
  if (typeof address !== "string" || address.trim() === "") return false;
  const a = address.trim().replace(/^\[|\]$/g, "").toLowerCase();
  return /^127\.\d+\.\d+\.\d+$/.test(a) || a === "::1" || a === "localhost" || a.startsWith("/");
}

/** An OpenSSH public key line: `<algorithm> <base64> [comment]`. */
export const SSH_PUBLIC_KEY = /^(?:ssh-(?:ed25519|rsa|dss)|ecdsa-sha2-nistp(?:256|384|521)|sk-(?:ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com)\s+[A-Za-z0-9+/]+={0,3}(?:\s.*)?$/s;

