// Service-mesh intentions never allow everything: no `*` source allowed, no `*` → `*` allow.
import { resourceRule, type Finding } from "../lib/define";
import { asArray, asRecord, decoded } from "../lib/infraProps";
import { CONSUL_CONFIG_ENTRY, CONSUL_INTENTION, CONSUL_INTENTIONS } from "../lib/infraTypes";

const FIX = "name the source services that may connect (one allow per source) and leave the rest to the default deny";

interface Source {
  name?: unknown;
  action?: unknown;
}

function judgeSources(destination: unknown, sources: Source[], field: (i: number) => string): Finding[] {
  const findings: Finding[] = [];
  sources.forEach((source, i) => {
    if (source.name !== "*" || String(source.action ?? "").toLowerCase() !== "allow") return;
    findings.push({
      field: `${field(i)}`,
      problem: destination === "*" ? "allows * → *: every service may connect to every service (default allow)" : `allows * → ${String(destination)}: every service in the mesh may connect to it`,
      fix: FIX,
    });
  });
  return findings;
}

export const consulIntentionsDefaultDeny = resourceRule({
  name: "consul-intentions-default-deny",
  description: "Consul intentions must not allow a `*` source (to one service, or `*` → `*`): the mesh stays default-deny.",
  appliesTo: (type) => type === CONSUL_INTENTIONS || type === CONSUL_INTENTION || type === CONSUL_CONFIG_ENTRY,
  check: ({ props, type }) => {
    if (type === CONSUL_INTENTIONS) {
      return judgeSources(props.name, asArray(props.sources).map((s) => asRecord(s) ?? {}), (i) => `sources[${i}].action`);
    }
    if (type === CONSUL_INTENTION) {
      return judgeSources(props.destinationName, [{ name: props.sourceName, action: props.action }], () => "action");
    }
    // A generic ConfigEntry of kind service-intentions carries the same thing as JSON.
    if (props.kind !== "service-intentions") return [];
    const body = asRecord(decoded(props.configJson)) ?? {};
    const sources = asArray(body.Sources ?? body.sources).map((s) => {
      const r = asRecord(s) ?? {};
      return { name: r.Name ?? r.name, action: r.Action ?? r.action };
    });
    return judgeSources(props.name, sources, (i) => `configJson.Sources[${i}].Action`);
  },
});
