// The collective as the stack rules see it: each borg:index:NixosHost with its node config and
// its child resources (children: resources whose parent is the host's URN).
import type { PolicyResource } from "@pulumi/policy";
import { NIXOS_HOST, nodeConfigOf, type NodeConfigView } from "./nodes";

export interface HostView {
  resource: PolicyResource;
  config: NodeConfigView;
}

export function nixosHosts(resources: readonly PolicyResource[]): HostView[] {
  const hosts: HostView[] = [];
  for (const resource of resources) {
    if (resource.type !== NIXOS_HOST) continue;
    const config = nodeConfigOf(resource.props);
    if (config) hosts.push({ resource, config });
  }
  return hosts;
}

export const parentUrnOf = (resource: PolicyResource): string | undefined => resource.parent?.urn ?? resource.opts?.parent;

export function childrenOf(resources: readonly PolicyResource[], parent: PolicyResource): PolicyResource[] {
  return resources.filter((r) => parentUrnOf(r) === parent.urn);
}

/** Whether `from` depends on `on`, directly or through its dependencies' dependencies. */
export function dependsOn(from: PolicyResource, on: PolicyResource): boolean {
  const seen = new Set<string>();
  const stack = [...(from.dependencies ?? [])];
  while (stack.length) {
    const next = stack.pop()!;
    if (next.urn === on.urn) return true;
    if (seen.has(next.urn)) continue;
    seen.add(next.urn);
    stack.push(...(next.dependencies ?? []));
  }
  return false;
}

export const nodeLabel = (host: HostView) => host.config.name ?? host.resource.name;
