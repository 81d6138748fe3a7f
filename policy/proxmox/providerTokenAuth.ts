// The Proxmox provider authenticates with a scoped API token, never a user password or ticket.
import { resourceRule, type Finding } from "../lib/define";
import { isNonEmptyString, isPresent, isRedacted } from "../lib/infraProps";
import { PROXMOX_PROVIDER } from "../lib/infraTypes";

const TOKEN_FORMAT = /^[^\s@]+@[^\s!]+![^\s=]+=\S+$/;

export const proxmoxProviderTokenAuth = resourceRule({
  name: "proxmox-provider-token-auth",
  description: "The Proxmox VE provider must authenticate with an API token (apiToken), not a username/password, OTP or auth ticket.",
  appliesTo: (type) => type === PROXMOX_PROVIDER,
  check: ({ props }) => {
    const findings: Finding[] = [];
    const fix = "remove it and set `apiToken` (borg:proxmoxApiToken, a secret) to a privilege-separated token USER@REALM!TOKENID=SECRET with only the roles the stack needs";
    for (const field of ["password", "username", "authTicket", "csrfPreventionToken", "otp"]) {
      if (isPresent(props[field])) findings.push({ field, problem: "is set: the provider logs in as a user (full user rights, password or ticket in config)", fix });
    }
    const token = props.apiToken;
    if (!isNonEmptyString(token)) {
      findings.push({
        field: "apiToken",
        problem: "is not set: the provider falls back to user login or PROXMOX_VE_* environment credentials",
        fix: "set `apiToken` (borg:proxmoxApiToken, `pulumi config set --secret`) to USER@REALM!TOKENID=SECRET",
      });
    } else if (!isRedacted(token) && !TOKEN_FORMAT.test(token.trim())) {
      findings.push({
        field: "apiToken",
        problem: "is not in the form USER@REALM!TOKENID=SECRET, so the provider cannot use it as an API token",
        fix: "set borg:proxmoxApiToken to the full token id and secret, e.g. pulumi@pve!borg=<uuid>",
      });
    }
    return findings;
  },
});
