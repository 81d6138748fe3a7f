// The collective's NATS servers on loopback: each node's exact config, rendered by nix/lib/nats.nix
// from its node.json with only ports (free ones, picked now), addresses (127.0.0.1) and paths (a
// temp dir) remapped, its secret files written by the program's own functions, TLS from a test CA
// (openssl), and the real Debian nats-server. Test code: every process is killed by close().
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { PROJECT_ROOT } from "../../components/bundle.js";
import { natsAuthFile, natsLinksFile, natsPasswordHash, natsUserNames, LEAF_USER, ROUTE_USER, type NatsSettings } from "../../components/services/nats.js";

const NIX_OPTS = ["--option", "build-users-group", "", "--store", "dummy://"];

/** The Debian binary (in /usr/sbin, often not on an unprivileged PATH), or undefined. */
export function natsServerBinary(): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(":").concat(["/usr/sbin", "/usr/bin"])) {
    const candidate = path.join(dir, "nats-server");
    if (dir && fs.existsSync(candidate)) return candidate;
  }
  return undefined;
}

export function evalNix<T>(expr: string): T {
  return JSON.parse(execFileSync("nix-instantiate", [...NIX_OPTS, "--eval", "--strict", "--json", "-E", expr], { encoding: "utf8", stdio: "pipe" })) as T;
}

const natsLib = JSON.stringify(path.join(PROJECT_ROOT, "nix", "lib", "nats.nix"));

/** settings, includes and rendered text of each node's nats config, from nix/lib/nats.nix, in one evaluation. */
export function renderNats(byNode: Record<string, NatsSettings>, dir: string): Record<string, { settings: any; conf: string; credentialFiles: string[] }> {
  const file = path.join(dir, `nats-input-${Object.keys(byNode).join("-")}.json`);
  fs.writeFileSync(file, JSON.stringify(byNode));
  return evalNix(
    `let l = import ${natsLib}; ns = builtins.fromJSON (builtins.readFile ${JSON.stringify(file)}); ` +
      `in builtins.mapAttrs (k: n: { settings = l.settings n; conf = l.conf n; credentialFiles = l.credentialFiles n; }) ns`,
  );
}

import { freePort } from "./loopback.js";

export { freePort };

export interface LoopbackNode {
  name: string;
  /** The node.json settings as the program rendered them. */
  original: NatsSettings;
  /** The same with loopback ports, addresses and paths. */
  settings: NatsSettings;
  dir: string;
  conf: string;
  rendered: any;
  log: string;
  proc?: ChildProcess;
}

const loopback = (url: string, port: number) => url.replace(/\/\/[^/]+$/, `//127.0.0.1:${port}`);

/** Writes a CA and one certificate per node (SANs 127.0.0.1 and localhost) with openssl. */
function testPki(dir: string, names: string[]): { caPem: string; files: Record<string, { cert: string; key: string }> } {
  const run = (...args: string[]) => execFileSync("openssl", args, { stdio: "pipe" });
  const ca = path.join(dir, "ca.pem");
  const caKey = path.join(dir, "ca.key");
  run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", caKey, "-out", ca, "-days", "2", "-subj", "/CN=borg test CA");
  const ext = path.join(dir, "san.ext");
  fs.writeFileSync(ext, "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n");
  const files: Record<string, { cert: string; key: string }> = {};
  for (const name of names) {
    const key = path.join(dir, `${name}.key`);
    const csr = path.join(dir, `${name}.csr`);
    const cert = path.join(dir, `${name}.pem`);
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", csr, "-subj", `/CN=${name}`);
    run("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", caKey, "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", ext);
    files[name] = { cert: fs.readFileSync(cert, "utf8"), key: fs.readFileSync(key, "utf8") };
  }
  return { caPem: fs.readFileSync(ca, "utf8"), files };
}

export class LoopbackNats {
  readonly nodes = new Map<string, LoopbackNode>();
  readonly passwords: Record<string, string> = {};
  caPem = "";

  private constructor(
    readonly binary: string,
    readonly dir: string,
  ) {}

  /**
   * @param nodesDir a synth's `nodes/` directory (one node.json per node)
   * @param names the nodes to run (NATS enabled on each)
   */
  static async create(binary: string, nodesDir: string, names: string[], dir: string): Promise<LoopbackNats> {
    fs.mkdirSync(dir, { recursive: true });
    const lb = new LoopbackNats(binary, dir);
    const original: Record<string, NatsSettings> = {};
    for (const name of names) {
      original[name] = JSON.parse(fs.readFileSync(path.join(nodesDir, name, "node.json"), "utf8")).services.nats as NatsSettings;
    }
    const ports: Record<string, { client: number; cluster: number | null; leaf: number | null; monitor: number }> = {};
    for (const name of names) {
      const s = original[name]!;
      ports[name] = {
        client: await freePort(),
        cluster: s.ports.cluster === null ? null : await freePort(),
        leaf: s.ports.leafnodeHub === null ? null : await freePort(),
        monitor: await freePort(),
      };
    }
    const byAddress = (url: string) => names.find((n) => url.includes(`//${original[n]!.address}:`));
    const remapped: Record<string, NatsSettings> = {};
    for (const name of names) {
      const s = original[name]!;
      const p = ports[name]!;
      const nodeDir = path.join(dir, name);
      fs.mkdirSync(path.join(nodeDir, "store"), { recursive: true });
      remapped[name] = {
        ...s,
        address: "127.0.0.1",
        ports: { client: p.client, cluster: p.cluster, leafnodeHub: p.leaf, monitor: p.monitor },
        storeDir: path.join(nodeDir, "store"),
        routes: s.routes.map((r) => loopback(r, ports[byAddress(r)!]!.cluster!)),
        leafnodeRemotes: s.leafnodeRemotes.map((r) => loopback(r, ports[byAddress(r)!]!.leaf!)),
        credentials: { ...s.credentials, dir: nodeDir },
      };
    }
    const rendered = renderNats(remapped, dir);

    for (const user of [...natsUserNames(), ROUTE_USER, LEAF_USER]) lb.passwords[user] = `test-${user}-${Math.random().toString(36).slice(2)}`;
    const hashes = Object.fromEntries(natsUserNames().map((u) => [u, natsPasswordHash(lb.passwords[u]!)]));
    const routeHash = natsPasswordHash(lb.passwords[ROUTE_USER]!);
    const leafHash = natsPasswordHash(lb.passwords[LEAF_USER]!);
    const tls = Object.values(remapped).some((s) => s.credentials.tls !== null);
    const pki = tls ? testPki(dir, names) : undefined;
    lb.caPem = pki?.caPem ?? "";

    for (const name of names) {
      const s = remapped[name]!;
      const nodeDir = s.credentials.dir;
      fs.writeFileSync(path.join(nodeDir, s.credentials.auth), natsAuthFile(s, hashes, routeHash, leafHash), { mode: 0o600 });
      const links = natsLinksFile(s, lb.passwords[ROUTE_USER]!, lb.passwords[LEAF_USER]!);
      if (links !== undefined) fs.writeFileSync(path.join(nodeDir, s.credentials.links), links, { mode: 0o600 });
      if (s.credentials.tls && pki) {
        fs.writeFileSync(path.join(nodeDir, s.credentials.tls.ca), pki.caPem);
        fs.writeFileSync(path.join(nodeDir, s.credentials.tls.cert), pki.files[name]!.cert);
        fs.writeFileSync(path.join(nodeDir, s.credentials.tls.key), pki.files[name]!.key, { mode: 0o600 });
      }
      const conf = path.join(nodeDir, "nats.conf");
      fs.writeFileSync(conf, rendered[name]!.conf);
      lb.nodes.set(name, { name, original: original[name]!, settings: s, dir: nodeDir, conf, rendered: rendered[name]!.settings, log: path.join(nodeDir, "nats.log") });
    }
    return lb;
  }

  node(name: string): LoopbackNode {
    const n = this.nodes.get(name);
    if (!n) throw new Error(`no loopback node ${name}`);
    return n;
  }

  /** `nats-server -t` on a node's rendered config: the exit status and output. */
  check(name: string): { status: number; output: string } {
    const r = spawnSync(this.binary, ["-c", this.node(name).conf, "-t"], { encoding: "utf8" });
    return { status: r.status ?? 1, output: `${r.stdout}${r.stderr}` };
  }

  start(name: string): void {
    const n = this.node(name);
    if (n.proc && n.proc.exitCode === null && n.proc.signalCode === null) throw new Error(`${name} already runs`);
    const log = fs.openSync(n.log, "a");
    n.proc = spawn(this.binary, ["-c", n.conf], { stdio: ["ignore", log, log] });
    fs.closeSync(log);
  }

  /** Kills a node's server (SIGKILL: no lame duck, no flush) and waits for it to be gone. */
  async kill(name: string, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const p = this.node(name).proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => p.once("exit", () => resolve()));
    p.kill(signal);
    await gone;
  }

  async monitor(name: string, pathAndQuery: string): Promise<any> {
    const res = await fetch(`http://127.0.0.1:${this.node(name).settings.ports.monitor}${pathAndQuery}`);
    const text = await res.text();
    try {
      return JSON.parse(text);
    } catch {
      return { status: res.status, text };
    }
  }

  /** Polls until `probe` returns true, or fails naming what it waited for. */
  async until(what: string, probe: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    for (;;) {
      try {
        if (await probe()) return;
      } catch (e) {
        last = e;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  async healthy(name: string, timeoutMs = 20_000): Promise<void> {
    const p = this.node(name).proc;
    await this.until(
      `${name} healthy`,
      async () => {
        if (p && (p.exitCode !== null || p.signalCode !== null)) throw new Error(`${name} exited (${p.exitCode ?? p.signalCode}): ${this.logText(name).slice(-1500)}`);
        return (await fetch(`http://127.0.0.1:${this.node(name).settings.ports.monitor}/healthz?js-enabled-only=true`)).ok;
      },
      timeoutMs,
    );
  }

  serverUrl(name: string): string {
    return `127.0.0.1:${this.node(name).settings.ports.client}`;
  }

  async connect(name: string, user: string, opts: { password?: string; reconnect?: boolean } = {}): Promise<NatsConnection> {
    return connect({
      servers: [this.serverUrl(name)],
      user,
      pass: opts.password ?? this.passwords[user],
      ...(this.caPem ? { tls: { ca: this.caPem } } : {}),
      reconnect: opts.reconnect ?? false,
      timeout: 5_000,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
    });
  }

  logText(name: string): string {
    const f = this.node(name).log;
    return fs.existsSync(f) ? fs.readFileSync(f, "utf8") : "";
  }

  async close(): Promise<void> {
    await Promise.all([...this.nodes.keys()].map((n) => this.kill(n)));
  }
}
