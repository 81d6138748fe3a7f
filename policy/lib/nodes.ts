// Node configuration as policies see it: the `nodeConfig` input of each borg:index:NixosHost
// (the exact node.json that node receives; never secret).
import { asArray, asRecord } from "./infraProps";

export const NIXOS_HOST = "borg:index:NixosHost";

export interface NodeConfigView {
  name: string;
  role: "queen" | "drone" | "edge";
  securityLevel: "dev" | "staging" | "prod";
  services?: Record<string, any>;
  [key: string]: unknown;
}

export function nodeConfigOf(props: Record<string, any>): NodeConfigView | undefined {
  const config = props?.nodeConfig;
  return config && typeof config === "object" ? (config as NodeConfigView) : undefined;
}

/** True when `file` is one of the node's secret files (by path under its secrets dir). */
export function isSecretFile(config: Record<string, any>, file: unknown): boolean {
  if (typeof file !== "string") return false;
  const secrets = asRecord(config.secrets) ?? {};
  const dir = typeof secrets.dir === "string" ? secrets.dir.replace(/\/+$/, "") : "";
  return dir !== "" && asArray(secrets.files).some((f) => `${dir}/${String(asRecord(f)?.name)}` === file);
}
