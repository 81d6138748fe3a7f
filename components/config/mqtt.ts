// MQTT facts the config rules need (pure): topic filters as mosquitto matches them, what an ACL
// grants, and the names and topics the collective uses itself.

/** Where the edge Pi publishes the collective's health; Home Assistant's status sensor reads it. */
export const COLLECTIVE_STATUS_TOPIC = "borg/collective/status";
/** A generated user that only reads `$SYS`: the readiness gates log in as it, on loopback. */
export const PROBE_USER = "borg-probe";
/** A generated user that may only publish the collective's health (the edge Pi's status timer). */
export const STATUS_USER = "borg-status";
/** Generated MQTT users (gates, the status publisher): a configured user may not take these names. */
export const RESERVED_MQTT_USERS = [PROBE_USER, STATUS_USER] as const;

/** Whether MQTT topic filter `filter` (with `+` and `#`) matches the concrete `topic`. */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split("/");
  const t = topic.split("/");
  for (let i = 0; i < f.length; i++) {
    if (f[i] === "#") return i === f.length - 1;
    if (i >= t.length) return false;
    if (f[i] !== "+" && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

/**
 * Whether ACL lines (`read|write|readwrite|deny <filter>`, default deny) let a user `access` `topic`:
 * a matching grant and no matching deny (mosquitto checks deny first).
 */
export function aclAllows(acl: readonly string[], access: "read" | "write", topic: string): boolean {
  const lines = acl.map((l) => l.trim().split(/\s+/) as [string, string]);
  if (lines.some(([kind, filter]) => kind === "deny" && topicMatches(filter, topic))) return false;
  return lines.some(([kind, filter]) => (kind === access || kind === "readwrite") && topicMatches(filter, topic));
}
