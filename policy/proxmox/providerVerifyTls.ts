// The Proxmox provider verifies the API's TLS certificate and talks https with TLS >= 1.2.
import { resourceRule, type Finding } from "../lib/define";
import { isOn } from "../lib/infraProps";
import { PROXMOX_PROVIDER } from "../lib/infraTypes";

export const proxmoxProviderVerifyTls = resourceRule({
  name: "proxmox-provider-verify-tls",
  description: "The Proxmox VE provider must verify the API's TLS certificate (insecure off, https endpoint, TLS 1.2 or newer).",
  appliesTo: (type) => type === PROXMOX_PROVIDER,
  check: ({ props }) => {
    const findings: Finding[] = [];
    if (isOn(props.insecure)) {
      findings.push({
        field: "insecure",
        problem: "is true: the provider skips verification of the Proxmox API certificate, so anyone on the path can read the API token",
        fix: "drop `insecure` (borg:proxmox.insecure) and give the PVE API a certificate the operator trusts (ACME on the PVE node, or the PVE CA in the system trust store)",
      });
    }
    const endpoint = props.endpoint;
    if (typeof endpoint === "string" && /^http:\/\//i.test(endpoint.trim())) {
      findings.push({
        field: "endpoint",
        problem: `is ${endpoint}: plain http sends the API token in clear text`,
        fix: "use the https URL of the PVE API (https://<host>:8006/)",
      });
    }
    const minTls = typeof props.minTls === "string" ? props.minTls.trim() : undefined;
    if (minTls === "1.0" || minTls === "1.1") {
      findings.push({ field: "minTls", problem: `is ${minTls}: TLS 1.0/1.1 are broken`, fix: "remove `minTls` (default 1.3) or set it to 1.2 or 1.3" });
    }
    return findings;
  },
});
