// Every MQTT user is limited to topics: it has ACL lines (mosquitto's ACLs are default-deny, so a
// user without lines is useless and a sign of a mistake), and only admin users may write the whole
// tree (`#`, or a pattern that starts with it) — one leaked credential must not be able to drive
// every device. Bridge identities are judged like users.
import { resourceRule, type Finding } from "../lib/define";
import { asArray, asRecord, isOn } from "../lib/infraProps";
import { NIXOS_HOST, nodeConfigOf } from "../lib/nodes";

const WRITES = /^(write|readwrite)\s+(\S+)$/;
/** A topic filter that covers every topic: `#`, or `+/#`-like filters matching any first level. */
const wholeTree = (topic: string) => topic === "#" || /^(\+\/)*#$/.test(topic);

export const mqttAclPerUser = resourceRule({
  name: "mqtt-acl-per-user",
  description: "Every MQTT user (and edge bridge identity) has ACL lines, and none but config adminUsers may write the whole topic tree (#).",
  appliesTo: (type) => type === NIXOS_HOST,
  configProperties: {
    adminUsers: { type: "array", items: { type: "string" }, default: [], description: "Users allowed to write #." },
  },
  check: (args, config) => {
    const mqtt = asRecord(nodeConfigOf(args.props)?.services?.mqtt);
    if (!mqtt || !isOn(mqtt.enable)) args.notApplicable("no MQTT broker on this node");
    const admins = new Set((config.adminUsers as string[] | undefined) ?? []);
    const findings: Finding[] = [];
    for (const list of ["users", "bridgeUsers"] as const) {
      asArray(mqtt![list]).forEach((raw, i) => {
        const user = asRecord(raw) ?? {};
        const name = String(user.name);
        const acl = asArray(user.acl).map(String);
        const field = `nodeConfig.services.mqtt.${list}[${i}].acl`;
        if (acl.length === 0) {
          findings.push({ field, problem: `user '${name}' has no ACL lines: it can do nothing, or something else grants it access`, fix: "give the user the topics it needs in borg:services.mqtt.users[].acl" });
          return;
        }
        if (admins.has(name)) return;
        for (const line of acl) {
          const m = WRITES.exec(line.trim());
          if (m && wholeTree(m[2]!)) {
            findings.push({ field, problem: `user '${name}' may ${m[1]} '${m[2]}': every topic of every device`, fix: `narrow it to the user's own topics (e.g. '${m[1]} ${name}/#'), or list the user in this rule's adminUsers` });
          }
        }
      });
    }
    return findings;
  },
});
