// Every NATS user is limited to subjects: none may publish or subscribe `>` (every subject of its
// account) or go without permissions at all (the same thing), except the system account's user,
// which watches the servers and sees no application message. Judged on node settings (NixosHost
// nodeConfig) and on nats.conf files in ConfigMaps.
import { resourceRule, type Finding } from "../lib/define";
import { brokerFiles, dataField, entriesOf, findEntry, parseNatsConf, type ConfEntry, type ConfValue } from "../lib/brokerConf";
import { asArray, asRecord, isOn } from "../lib/infraProps";
import { CONFIG_MAP } from "../lib/infraTypes";
import { NIXOS_HOST, nodeConfigOf } from "../lib/nodes";

const FIX = "give the user the subjects it needs (e.g. `cim.events.>` and `_INBOX.>`); only the system account's user may watch everything";

function nodeFindings(nats: Record<string, any>): Finding[] {
  const system = asRecord(nats.accounts)?.system;
  const findings: Finding[] = [];
  asArray(nats.users).forEach((raw, i) => {
    const user = asRecord(raw) ?? {};
    if (user.account === system) return;
    const field = `nodeConfig.services.nats.users[${i}].permissions`;
    const perms = asRecord(user.permissions);
    if (!perms) {
      findings.push({ field, problem: `user '${String(user.name)}' has no permissions: it may publish and subscribe every subject of account ${String(user.account)}`, fix: FIX });
      return;
    }
    for (const dir of ["publish", "subscribe"] as const) {
      if (asArray(perms[dir]).map(String).includes(">")) {
        findings.push({ field: `${field}.${dir}`, problem: `user '${String(user.name)}' may ${dir} '>': every subject of account ${String(user.account)}`, fix: FIX });
      }
    }
  });
  return findings;
}

/** The allow list of a `publish`/`subscribe` value (`">"`, `[...]` or `{ allow: [...] }`); undefined when absent. */
function allowed(value: ConfValue | undefined): string[] | undefined {
  if (!value) return undefined;
  if (value.kind === "string") return [value.text];
  if (value.kind === "array") return value.items.flatMap((v) => (v.kind === "string" ? [v.text] : []));
  const allow = findEntry(value.entries, "allow");
  // A map with only `deny` allows everything else.
  return allow ? allowed(allow.value) : [">"];
}

/** Users of a block (`authorization`, or one account) with the block's default_permissions. */
function blockFindings(key: string, where: string, block: readonly ConfEntry[], exempt: boolean): Finding[] {
  if (exempt) return [];
  const defaults = findEntry(block, "default_permissions");
  const users = findEntry(block, "users");
  const items = users?.value.kind === "array" ? users.value.items : [];
  const findings: Finding[] = [];
  items.forEach((item, i) => {
    const entries = entriesOf(item);
    const name = findEntry(entries, "user", "username", "nkey");
    const who = name?.value.kind === "string" ? name.value.text : `#${i}`;
    const perms = findEntry(entries, "permissions") ?? defaults;
    const line = perms?.line ?? item.line;
    const field = dataField(key, line);
    if (!perms || perms.value.kind !== "map") {
      findings.push({ field, problem: `${where} user '${who}' has no permissions: it may publish and subscribe every subject`, fix: FIX });
      return;
    }
    for (const dir of ["publish", "subscribe"]) {
      const allow = allowed(findEntry(perms.value.entries, dir)?.value) ?? [">"];
      if (allow.includes(">")) findings.push({ field, problem: `${where} user '${who}' may ${dir} '>': every subject`, fix: FIX });
    }
  });
  return findings;
}

function confFindings(key: string, text: string): Finding[] {
  const entries = parseNatsConf(text);
  const system = findEntry(entries, "system_account");
  const systemName = system?.value.kind === "string" ? system.value.text : "$SYS";
  const findings = blockFindings(key, "authorization", entriesOf(findEntry(entries, "authorization")?.value), false);
  for (const account of entriesOf(findEntry(entries, "accounts")?.value)) {
    findings.push(...blockFindings(key, `account ${account.key}`, entriesOf(account.value), account.key === systemName));
  }
  return findings;
}

export const natsUserPermissions = resourceRule({
  name: "nats-user-permissions",
  description: "No NATS user may publish or subscribe `>` (or go without permissions) except the system account's user (node settings and nats.conf in ConfigMaps).",
  appliesTo: (type) => type === NIXOS_HOST || type === CONFIG_MAP,
  check: (args) => {
    if (args.type === NIXOS_HOST) {
      const nats = asRecord(nodeConfigOf(args.props)?.services?.nats);
      if (!nats || !isOn(nats.enable)) args.notApplicable("no NATS server on this node");
      return nodeFindings(nats!);
    }
    const files = brokerFiles(args.props.data).filter((f) => f.kind === "nats");
    if (files.length === 0) args.notApplicable("no nats.conf in this ConfigMap");
    return files.flatMap((f) => confFindings(f.key, f.text));
  },
});
