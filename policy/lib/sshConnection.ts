// The `connection` of a command:remote resource, and of its `proxy` (bastion) when there is one.
// Under the CLI the connection arrives unwrapped (the SDK marks it secret); in the offline plan
// each field shows as REDACTED. Either way each field is present or absent.
import { asRecord, isRedacted } from "./infraProps";

export interface ConnectionView {
  /** Field path prefix: `connection` or `connection.proxy`. */
  path: string;
  fields: Record<string, unknown>;
}

/**
 * The connection and its proxy. `undefined` when the whole connection is one opaque REDACTED
 * value (nothing can be judged offline; a real preview sees it unwrapped).
 */
export function connectionsOf(props: Record<string, unknown>): ConnectionView[] | undefined {
  if (isRedacted(props.connection)) return undefined;
  const connection = asRecord(props.connection);
  if (!connection) return [];
  const views: ConnectionView[] = [{ path: "connection", fields: connection }];
  const proxy = asRecord(connection.proxy);
  if (proxy) views.push({ path: "connection.proxy", fields: proxy });
  return views;
}

export const missingConnection = {
  field: "connection",
  problem: "is missing: the command has no SSH connection to judge",
  fix: "set `connection` with host, user, privateKey, hostKey, dialErrorLimit and perDialTimeout",
};
