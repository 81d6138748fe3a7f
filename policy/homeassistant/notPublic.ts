// Home Assistant stays on the LAN. It listens only on loopback and the node's own private address
// (a wildcard would also answer on any other interface: a VPN, Wi-Fi, a global IPv6 address); its
// port is opened only to the node network or the collective, as the ports table says; it trusts
// forwarded client addresses only from private proxies; the Nabu Casa relay that publishes it on
// the internet (cloud) is not built in on purpose; and outside dev it serves HTTPS.
import { resourceRule, type Finding } from "../lib/define";
import { asArray, asNumber, asRecord, isLoopback, isOn } from "../lib/infraProps";
import { NIXOS_HOST, nodeConfigOf } from "../lib/nodes";

/** Integrations that relay Home Assistant to the internet. */
const RELAYS: Record<string, string> = { cloud: "Nabu Casa's Remote UI relays Home Assistant to the internet" };
const WILDCARDS = new Set(["", "0.0.0.0", "::", "[::]", "*"]);

function ipv4(text: string): number[] | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  const parts = m?.slice(1).map(Number);
  return parts && parts.every((p) => p <= 255) ? parts : undefined;
}

/** RFC 1918 and link-local IPv4: addresses a router does not forward from the internet. */
export function isPrivateIpv4(text: string): boolean {
  const a = ipv4(text);
  if (!a) return false;
  return a[0] === 10 || (a[0] === 172 && a[1]! >= 16 && a[1]! <= 31) || (a[0] === 192 && a[1] === 168) || (a[0] === 169 && a[1] === 254);
}

/** A trusted proxy: loopback, or a private address or network no wider than /8. */
function isPrivateProxy(entry: string): boolean {
  const [address, bits] = entry.split("/");
  if (isLoopback(address)) return true;
  return isPrivateIpv4(address ?? "") && (bits === undefined || (Number(bits) >= 8 && Number(bits) <= 32));
}

export const homeAssistantNotPublic = resourceRule({
  name: "homeassistant-not-public",
  description:
    "Home Assistant is LAN-only: it listens on loopback and the node's private address (no wildcard), its port is opened only to the node network or the collective, forwarded addresses come only from private proxies, no internet relay (cloud) is built in, and outside dev it serves HTTPS.",
  appliesTo: (type) => type === NIXOS_HOST,
  check: (args) => {
    const config = nodeConfigOf(args.props);
    const ha = asRecord(config?.services?.homeAssistant);
    if (!config || !ha || !isOn(ha.enable)) args.notApplicable("no Home Assistant on this node");
    const at = "nodeConfig.services.homeAssistant";
    const http = asRecord(ha!.http);
    if (!http) {
      return [{ field: `${at}.http`, problem: "is missing: nothing says where Home Assistant listens", fix: "render the http settings (components/services/homeAssistant.ts)" }];
    }
    const findings: Finding[] = [];
    const own = String(asRecord(config!.network)?.address ?? "");
    const hosts = asArray(http.serverHosts).map(String);
    if (hosts.length === 0) {
      findings.push({ field: `${at}.http.serverHosts`, problem: "is empty: Home Assistant listens on every interface", fix: "listen on 127.0.0.1 and the node's own address only" });
    }
    hosts.forEach((host, i) => {
      const field = `${at}.http.serverHosts[${i}]`;
      if (WILDCARDS.has(host.trim())) {
        findings.push({ field, problem: `'${host}' listens on every interface (a VPN, Wi-Fi or a global IPv6 address as well)`, fix: "listen on 127.0.0.1 and the node's own LAN address only" });
      } else if (isLoopback(host)) {
        return;
      } else if (host !== own) {
        findings.push({ field, problem: `'${host}' is not this node's address (${own || "unknown"})`, fix: "listen on 127.0.0.1 and the node's own LAN address only" });
      } else if (!isPrivateIpv4(host)) {
        findings.push({ field, problem: `'${host}' is a public address: Home Assistant would answer from the internet`, fix: "run the node on a private network (RFC 1918) behind the router" });
      }
    });
    const port = asNumber(http.port);
    asArray(asRecord(config!.firewall)?.rules).forEach((raw, i) => {
      const rule = asRecord(raw) ?? {};
      const from = asNumber(rule.from);
      const to = asNumber(rule.to);
      if (port === undefined || from === undefined || to === undefined || port < from || port > to) return;
      if (rule.scope !== "lan" && rule.scope !== "cluster") {
        findings.push({
          field: `nodeConfig.firewall.rules[${i}].scope`,
          problem: `opens Home Assistant's port ${port} to '${String(rule.scope)}'`,
          fix: "open it only as the ports table's home-assistant rule (scope lan: the node network)",
        });
      }
    });
    if (isOn(http.useXForwardedFor)) {
      const proxies = asArray(http.trustedProxies).map(String);
      if (proxies.length === 0) {
        findings.push({ field: `${at}.http.trustedProxies`, problem: "is empty while forwarded client addresses are trusted", fix: "list the reverse proxy's address, or turn useXForwardedFor off" });
      }
      proxies.forEach((proxy, i) => {
        if (isPrivateProxy(proxy)) return;
        findings.push({
          field: `${at}.http.trustedProxies[${i}]`,
          problem: `'${proxy}' is not a private proxy: anyone there could claim any client address (and dodge the login ban)`,
          fix: "trust only the reverse proxy on loopback or the node network",
        });
      });
    }
    asArray(ha!.extraComponents).forEach((c, i) => {
      const why = RELAYS[String(c)];
      if (why) findings.push({ field: `${at}.extraComponents[${i}]`, problem: `'${String(c)}': ${why}`, fix: "remove it from borg:services.homeAssistant.extraComponents; reach Home Assistant over the LAN or a VPN" });
    });
    if (config!.securityLevel !== "dev" && !asRecord(http.tls)) {
      findings.push({ field: `${at}.http.tls`, problem: `is not set at security level ${String(config!.securityLevel)}: logins and tokens cross the LAN in clear text`, fix: "set borg:security.tls to true (Home Assistant gets a certificate from the stack's CA)" });
    }
    return findings;
  },
});
