// Node configuration as policies see it: the `nodeConfig` input of each borg:index:NixosHost
// (the exact node.json that node receives; never secret).
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
