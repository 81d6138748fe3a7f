// The node bundle: what a node builds from in nix/, the node-scripts/ run on the node, and one
// generated node.json (never a secret). Its MANIFEST hash is the trigger of every deploy step.
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { parseCidr } from "./config/ipv4.js";
import type { CollectiveSpec, NodeSpec } from "./config/validate.js";
import { HOST_KEY_SECRET, OSD_DEVICE, SECRETS_DIR } from "./bundle-paths.js";
import { renderServices, rolesOf, type NodeServices } from "./services/index.js";
import { firewallRules, type FirewallRule } from "./services/ports.js";

export { HOST_KEY_SECRET, SECRETS_DIR, STATE_DIR } from "./bundle-paths.js";

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
/**
 * system.stateVersion of every node: the state format of a machine's first install (the template's and
 * SD image's first boot, which use the same value), not the nixpkgs release. A nixpkgs bump never changes
 * it; changing it for machines already installed would switch stateful defaults under existing data.
 */
export const NIXOS_STATE_VERSION = "24.11";

export interface SecretFileRef {
  readonly name: string;
  readonly owner: string;
  readonly group: string;
}

/** node.json as the NixOS side reads it (nix/configuration.nix). */
export interface NodeJson {
  schemaVersion: 1;
  name: string;
  role: NodeSpec["role"];
  platform: NodeSpec["platform"];
  stack: string;
  securityLevel: CollectiveSpec["security"]["level"];
  stateVersion: string;
  network: { address: string; prefixLength: number; gateway: string; dns: string[]; domain: string };
  ssh: { user: string; authorizedKeys: string[]; hostKeyFile: string | null };
  /** What the node runs; each role opens exactly its ports from nix/lib/ports.json. */
  roles: string[];
  /** cluster-scope rules accept only `clusterSources` (every node of the collective). */
  firewall: { rules: FirewallRule[]; clusterSources: string[] };
  capabilities: string[];
  storage: { osdDevice: string } | null;
  peers: { name: string; role: NodeSpec["role"]; address: string }[];
  secrets: { dir: string; files: SecretFileRef[] };
  /** Desired service roles and peers (the NixOS service modules read these). */
  services: NodeServices;
}

/** Secrets every node of this platform receives (values travel separately, on stdin). */
export function secretFilesFor(node: NodeSpec): SecretFileRef[] {
  return node.platform === "proxmox-vm" ? [{ name: HOST_KEY_SECRET, owner: "root", group: "root" }] : [];
}

/** `serviceSecrets`: the files the node's services add (names and owners only; values travel on stdin). */
export function renderNodeJson(spec: CollectiveSpec, node: NodeSpec, stack: string, serviceSecrets: readonly SecretFileRef[] = []): NodeJson {
  const secretFiles = [...secretFilesFor(node), ...serviceSecrets.map(({ name, owner, group }) => ({ name, owner, group }))];
  const services = renderServices(spec, node);
  const roles = rolesOf(services);
  const hasManagedHostKey = secretFiles.some((f) => f.name === HOST_KEY_SECRET);
  return {
    schemaVersion: 1,
    name: node.name,
    role: node.role,
    platform: node.platform,
    stack,
    securityLevel: spec.security.level,
    stateVersion: NIXOS_STATE_VERSION,
    network: {
      address: node.address,
      prefixLength: parseCidr(spec.network.cidr)!.prefixLength,
      gateway: spec.network.gateway,
      dns: [...spec.network.dns],
      domain: spec.network.domain,
    },
    ssh: {
      user: node.sshUser,
      authorizedKeys: [...spec.ssh.authorizedKeys],
      hostKeyFile: hasManagedHostKey ? `${SECRETS_DIR}/${HOST_KEY_SECRET}` : null,
    },
    roles,
    firewall: { rules: firewallRules(roles), clusterSources: spec.nodes.map((n) => n.address) },
    capabilities: [...node.capabilities],
    storage: node.osdDiskGb !== undefined ? { osdDevice: OSD_DEVICE } : null,
    peers: spec.nodes.filter((n) => n.name !== node.name).map((n) => ({ name: n.name, role: n.role, address: n.address })),
    secrets: { dir: SECRETS_DIR, files: secretFiles },
    services,
  };
}

export interface NodeBundle {
  /** Relative path → content, MANIFEST included. */
  readonly files: ReadonlyMap<string, string>;
  /** sha256 of MANIFEST: the content hash of the whole bundle. */
  readonly hash: string;
}

/**
 * What a node builds from, relative to nix/ (which becomes the bundle root): system.nix builds
 * configuration.nix (+ lib/, modules/) against the nixpkgs pinned in pin.json. The flake and images/
 * build the template and the SD image elsewhere; shipping them would redeploy every node on an edit.
 */
export const NODE_NIX_PATHS = ["configuration.nix", "system.nix", "pin.json", "lib", "modules"] as const;

/** NODE_NIX_PATHS of `root`/nix at the bundle root, `root`/node-scripts/ beside it. */
export function readStaticFiles(root: string): Map<string, string> {
  const files = new Map<string, string>();
  const add = (full: string, rel: string) => {
    if (fs.statSync(full).isDirectory()) {
      for (const name of fs.readdirSync(full).sort()) add(path.join(full, name), `${rel}/${name}`);
    } else files.set(rel, fs.readFileSync(full, "utf8"));
  };
  for (const rel of NODE_NIX_PATHS) add(path.join(root, "nix", rel), rel);
  add(path.join(root, "node-scripts"), "node-scripts");
  return files;
}

let projectFiles: ReadonlyMap<string, string> | undefined;
/** This repository's static bundle files, read once per process. */
const projectStaticFiles = () => (projectFiles ??= readStaticFiles(PROJECT_ROOT));

const sha256 = (text: string) => createHash("sha256").update(text, "utf8").digest("hex");

/** Assembles a node's bundle; identical inputs give a byte-identical bundle and hash. */
export function buildBundle(nodeJson: NodeJson, staticFiles: ReadonlyMap<string, string> = projectStaticFiles()): NodeBundle {
  const files = new Map(staticFiles);
  files.set("node.json", `${JSON.stringify(nodeJson, null, 2)}\n`);
  const paths = [...files.keys()].sort();
  // sha256sum format, so the node checks it with `sha256sum -c MANIFEST`.
  const manifest = paths.map((p) => `${sha256(files.get(p)!)}  ${p}\n`).join("");
  files.set("MANIFEST", manifest);
  return { files, hash: sha256(manifest) };
}

/** Writes the bundle to `dir` (replacing what was there): the directory CopyToRemote ships. */
export function writeBundle(bundle: NodeBundle, dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
  for (const [rel, content] of bundle.files) {
    const target = path.join(dir, rel);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, content, { mode: rel.endsWith(".sh") ? 0o755 : 0o644 });
  }
}
