// The Consul provider talks to the API over verified https (enforced in prod via config).
import { resourceRule, type Finding } from "../lib/define";
import { isOn } from "../lib/infraProps";
import { CONSUL_PROVIDER } from "../lib/infraTypes";

export const consulProviderHttps = resourceRule({
  name: "consul-provider-https",
  description: "The Consul provider must reach the API over https (scheme or address) with certificate verification on (insecureHttps not true).",
  appliesTo: (type) => type === CONSUL_PROVIDER,
  check: ({ props }) => {
    const findings: Finding[] = [];
    const address = typeof props.address === "string" ? props.address.trim() : "";
    const scheme = typeof props.scheme === "string" ? props.scheme.trim().toLowerCase() : "";
    const addressScheme = address.match(/^([a-z]+):\/\//i)?.[1]?.toLowerCase();
    const fix = 'set scheme = "https" and an address with the Consul HTTPS port (e.g. consul.hive.lan:8501), with the Consul CA in caPem/caFile';
    if (addressScheme && addressScheme !== "https") {
      findings.push({ field: "address", problem: `is ${address}: ${addressScheme} sends the ACL token in clear text`, fix });
    } else if (scheme && scheme !== "https") {
      findings.push({ field: "scheme", problem: `is ${JSON.stringify(scheme)}: the ACL token travels in clear text`, fix });
    } else if (!scheme && addressScheme !== "https") {
      findings.push({ field: "scheme", problem: "is not set and the address names no https://: the provider uses http (or whatever CONSUL_HTTP_ADDR says)", fix });
    }
    if (isOn(props.insecureHttps)) {
      findings.push({
        field: "insecureHttps",
        problem: "is true: the provider does not verify the Consul server certificate",
        fix: "remove insecureHttps and give the provider the Consul CA (caPem or caFile)",
      });
    }
    return findings;
  },
});
