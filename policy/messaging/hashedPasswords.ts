// Broker passwords in configuration text are hashes, never plaintext.
import { resourceRule, type Finding } from "../lib/define";
import { brokerFiles, dataField, isBcrypt, isMosquittoHash, isVariableReference, parseNatsConf, walkConf } from "../lib/brokerConf";
import { CONFIG_MAP } from "../lib/infraTypes";

function natsFindings(key: string, text: string): Finding[] {
  const findings: Finding[] = [];
  for (const { path, entry } of walkConf(parseNatsConf(text))) {
    const k = entry.key.toLowerCase();
    if (k !== "password" && k !== "pass" && k !== "token") continue;
    const value = entry.value;
    if (value.kind !== "string" || isVariableReference(value) || isBcrypt(value.text)) continue;
    findings.push({
      field: dataField(key, entry.line),
      problem: `${path} is a plaintext ${k === "token" ? "token" : "password"}: anyone who can read the ConfigMap can log in`,
      fix: "store a bcrypt hash instead (`nats server passwd`, `$2a$11$…`) and keep the file in a Secret",
    });
  }
  return findings;
}

function passwdFindings(key: string, text: string): Finding[] {
  const findings: Finding[] = [];
  text.split("\n").forEach((raw, index) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const colon = line.indexOf(":");
    if (colon < 0) return;
    const user = line.slice(0, colon);
    if (isMosquittoHash(line.slice(colon + 1))) return;
    findings.push({
      field: dataField(key, index + 1),
      problem: `the entry for ${user} is a plaintext password (a mosquitto hash starts with $6$ or $7$)`,
      fix: "hash the file with `mosquitto_passwd -U` (or `-c`) and keep it in a Secret",
    });
  });
  return findings;
}

export const brokerHashedPasswords = resourceRule({
  name: "broker-hashed-passwords",
  description: "Broker credentials in ConfigMaps must be hashes: NATS passwords/tokens bcrypt ($2a$/$2b$), mosquitto password-file entries $6$/$7$.",
  appliesTo: (type) => type === CONFIG_MAP,
  check: ({ props }) => {
    const findings: Finding[] = [];
    for (const file of brokerFiles(props.data)) {
      if (file.kind === "nats") findings.push(...natsFindings(file.key, file.text));
      if (file.kind === "passwd") findings.push(...passwdFindings(file.key, file.text));
    }
    return findings;
  },
});
