// Every NixOS deploy is guarded: activate arms a revert timer, a fresh connection confirms it.
import type { PolicyResource } from "@pulumi/policy";
import { stackRule, type StackFinding } from "../lib/define";
import { childrenOf, dependsOn, nixosHosts } from "../lib/collective";
import { REMOTE_COMMAND } from "../lib/infraTypes";

/** The arguments following `<script>` in a command line (quotes stripped), or undefined. */
function scriptArgs(create: unknown, script: string): string[] | undefined {
  if (typeof create !== "string") return undefined;
  const tokens = create.trim().split(/\s+/).map((t) => t.replace(/^["']|["']$/g, ""));
  const at = tokens.findIndex((t) => t === script || t.endsWith(`/${script}`));
  return at < 0 ? undefined : tokens.slice(at + 1);
}

export const stackRollbackGuard = stackRule({
  name: "stack-rollback-guard",
  description: "Every NixosHost must deploy through <name>-activate (activate.sh with a confirm timeout) and <name>-confirm (confirm.sh, after activate) child Commands, so a deploy that cuts SSH off reverts itself.",
  check: (resources) => {
    const findings: StackFinding[] = [];
    for (const { resource: host } of nixosHosts(resources)) {
      const children = childrenOf(resources, host).filter((r) => r.type === REMOTE_COMMAND);
      const step = (suffix: string): PolicyResource | undefined => children.find((r) => r.name === `${host.name}-${suffix}`);
      const activate = step("activate");
      const confirm = step("confirm");
      const lockout = "a deploy that breaks networking or sshd stays active and locks the operator out";
      if (!activate) {
        findings.push({
          resource: host,
          field: `children.${host.name}-activate`,
          problem: `is missing: nothing arms the revert timer before switching (${lockout})`,
          fix: `create a child Command ${host.name}-activate running node-scripts/activate.sh <node> <hash> <staging> <confirm-timeout-seconds>`,
        });
      } else {
        const args = scriptArgs(activate.props.create, "activate.sh");
        const timeout = args?.[3];
        if (!args) {
          findings.push({
            resource: activate,
            field: "create",
            problem: "does not run activate.sh: the switch is not guarded by the revert timer",
            fix: "run `sudo -n bash <staging>/node-scripts/activate.sh <node> <hash> <staging> <confirm-timeout-seconds>`",
          });
        } else if (!timeout || !/^\d+$/.test(timeout) || Number(timeout) <= 0) {
          findings.push({
            resource: activate,
            field: "create",
            problem: `runs activate.sh without a confirm timeout (4th argument ${JSON.stringify(timeout ?? null)}): the revert timer has no deadline`,
            fix: "pass the confirm timeout in seconds as the 4th argument (borg:rollout.confirmTimeoutSeconds)",
          });
        }
      }
      if (!confirm) {
        findings.push({
          resource: host,
          field: `children.${host.name}-confirm`,
          problem: `is missing: no fresh SSH session confirms the new system, so it is reverted at the timeout or never checked (${lockout})`,
          fix: `create a child Command ${host.name}-confirm running node-scripts/confirm.sh <node> <hash>, depending on ${host.name}-activate`,
        });
      } else {
        if (!scriptArgs(confirm.props.create, "confirm.sh")) {
          findings.push({
            resource: confirm,
            field: "create",
            problem: "does not run confirm.sh: the revert timer is never disarmed by a health-checked confirmation",
            fix: "run `sudo -n bash <state>/bundles/<hash>/node-scripts/confirm.sh <node> <hash>`",
          });
        }
        if (activate && !dependsOn(confirm, activate)) {
          findings.push({
            resource: confirm,
            field: "dependencies",
            problem: `does not depend on ${activate.name}: the confirmation may run before (or without) the activation`,
            fix: `add ${activate.name} to the confirm Command's dependsOn`,
          });
        }
      }
    }
    return findings;
  },
});
