// The `connection` of a command:remote resource, and of its `proxy` (bastion) when there is one.
// Under the CLI the connection arrives unwrapped (the SDK marks it secret); in the offline plan
// each field shows as REDACTED. Either way each field is present or absent.
import type { Finding } from "./define";
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
function connectionsOf(props: Record<string, unknown>): ConnectionView[] | undefined {
  if (isRedacted(props.connection)) return undefined;
  const connection = asRecord(props.connection);
  if (!connection) return [];
  const views: ConnectionView[] = [{ path: "connection", fields: connection }];
  const proxy = asRecord(connection.proxy);
  if (proxy) views.push({ path: "connection.proxy", fields: proxy });
  return views;
}

const missingConnection: Finding = {
  field: "connection",
  problem: "is missing: the command has no SSH connection to judge",
  fix: "set `connection` with host, user, privateKey, hostKey, dialErrorLimit and perDialTimeout",
};

/**
 * Runs `judge` over the connection and its proxy: an opaque (wholly redacted) connection cannot
 * be judged offline, a missing one is itself the finding.
 */
export function judgeConnections(props: Record<string, unknown>, judge: (views: ConnectionView[]) => Finding[]): Finding[] {
  const connections = connectionsOf(props);
  if (!connections) return [];
  if (connections.length === 0) return [missingConnection];
  return judge(connections);
}
