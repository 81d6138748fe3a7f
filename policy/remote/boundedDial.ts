// Dialling a host that is not (yet) up gives up after a bounded number of bounded attempts.
import { resourceRule, type Finding } from "../lib/define";
import { asNumber, isRedacted } from "../lib/infraProps";
import { isRemoteResource } from "../lib/infraTypes";
import { judgeConnections } from "../lib/sshConnection";

const LIMITS = [
  { key: "dialErrorLimit", min: 1, max: 100, unit: "attempts", unset: "the provider default (10 attempts, no delay between them) is silently used", unbounded: "-1 means unlimited retries" },
  { key: "perDialTimeout", min: 1, max: 120, unit: "seconds", unset: "the provider default (15 s) is silently used", unbounded: "0 means no timeout per attempt" },
] as const;

export const remoteBoundedDial = resourceRule({
  name: "remote-bounded-dial",
  description: "A remote command's SSH connection must set dialErrorLimit (1..100) and perDialTimeout (1..120 s), so a host that never comes up fails the deploy in bounded time.",
  appliesTo: isRemoteResource,
  check: ({ props }) =>
    judgeConnections(props, (connections) => {
      const findings: Finding[] = [];
      const { fields } = connections[0]!;
      for (const limit of LIMITS) {
        const raw = fields[limit.key];
        const field = `connection.${limit.key}`;
        const fix = `set ${field} to a number from ${limit.min} to ${limit.max} ${limit.unit} (borg uses 30 × 10 s while a VM boots, 5 × 15 s afterwards)`;
        if (raw === undefined || raw === null || raw === "") {
          findings.push({ field, problem: `is not set: ${limit.unset}, not a bound chosen for this host`, fix });
          continue;
        }
        if (isRedacted(raw)) continue; // set; its value is judged where it is visible (a real preview)
        const value = asNumber(raw);
        if (value === undefined || !Number.isInteger(value) || value < limit.min || value > limit.max) {
          findings.push({ field, problem: `is ${JSON.stringify(raw)}, outside ${limit.min}..${limit.max} (${limit.unbounded})`, fix });
        }
      }
      return findings;
    }),
});
