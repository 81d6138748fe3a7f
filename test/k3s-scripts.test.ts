// The K3s service steps (node-scripts/services/k3s-*.sh), run for real against a stand-in
// `k3s kubectl` (test/stand-ins/k3s: a cluster kept as files), as any user (BORG_ROOT_UID).
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../components/bundle.js";
import { tempDir } from "./helpers.js";

const SERVICES = path.join(PROJECT_ROOT, "node-scripts", "services");
const STAND_INS = path.join(PROJECT_ROOT, "test", "stand-ins");

let dir: string;
let env: Record<string, string>;
const cluster = () => path.join(dir, "fake", "k3s");

beforeEach(() => {
  dir = tempDir("borg-k3s-");
  fs.mkdirSync(path.join(dir, "fake", "k3s"), { recursive: true });
  const kubeconfig = path.join(dir, "k3s.yaml");
  fs.writeFileSync(kubeconfig, "apiVersion: v1\nkind: Config\n");
  env = {
    PATH: `${STAND_INS}:${process.env.PATH ?? "/usr/bin:/bin"}`,
    HOME: dir,
    FAKE_LOG: path.join(dir, "calls.log"),
    FAKE_DIR: path.join(dir, "fake"),
    BORG_ROOT_UID: String(process.getuid!()),
    BORG_K3S_KUBECONFIG: kubeconfig,
    BORG_K3S_WAIT: "1",
    BORG_GATE_INTERVAL: "0.1",
  };
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function addNode(name: string, opts: { ready?: boolean; pending?: number; labels?: string[]; cordoned?: boolean } = {}) {
  const d = path.join(cluster(), name);
  fs.mkdirSync(d);
  fs.writeFileSync(path.join(d, "ready"), opts.ready === false ? "False" : "True");
  if (opts.pending !== undefined) fs.writeFileSync(path.join(d, "pending"), String(opts.pending));
  fs.writeFileSync(path.join(d, "labels"), [`kubernetes.io/hostname=${name}`, ...(opts.labels ?? [])].map((l) => `${l}\n`).join(""));
  if (opts.cordoned) fs.writeFileSync(path.join(d, "unschedulable"), "");
}
const nodeFile = (name: string, file: string) => {
  const p = path.join(cluster(), name, file);
  return fs.existsSync(p) ? fs.readFileSync(p, "utf8") : undefined;
};
const run = (script: string, args: string[], extra: Record<string, string> = {}) => {
  const r = spawnSync("bash", [path.join(SERVICES, script), ...args], { env: { ...env, ...extra }, encoding: "utf8", timeout: 30_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
};
const calls = () => fs.readFileSync(env.FAKE_LOG!, "utf8").trim().split("\n").filter(Boolean);

describe("k3s-guard.sh cordon (before an agent's or a later server's switch, on an earlier server)", () => {
  it("cordons a registered node and marks it as cordoned by the deploy", () => {
    addNode("drone-1");
    const r = run("k3s-guard.sh", ["drone-1", "cordon"]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toBe("borg: drone-1: k3s: drone-1 cordoned for its switch\n");
    expect(nodeFile("drone-1", "unschedulable")).toBe("");
    expect(nodeFile("drone-1", "annotations")).toBe("borg.io/cordoned-by-deploy=true\n");
  });

  it("first deploy: a node not registered yet has nothing to cordon", () => {
    const r = run("k3s-guard.sh", ["drone-1", "cordon"]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/drone-1 is not registered yet/);
    expect(calls().some((c) => c.includes("cordon drone-1"))).toBe(false);
  });

  it("leaves an operator's cordon alone, and the later uncordon keeps it", () => {
    addNode("drone-1", { cordoned: true });
    expect(run("k3s-guard.sh", ["drone-1", "cordon"]).out).toMatch(/already cordoned \(not by this deploy\)/);
    const after = run("k3s-guard.sh", ["drone-1", "uncordon"]);
    expect(after.code, after.err).toBe(0);
    expect(nodeFile("drone-1", "unschedulable")).toBe("");
  });

  it("fails, bounded and named, when the server's API does not answer", () => {
    addNode("drone-1");
    const started = Date.now();
    const r = run("k3s-guard.sh", ["drone-1", "cordon"], { FAKE_K3S_READYZ: "[-]etcd failed: reason withheld" });
    expect(r.code).toBe(1);
    expect(r.err).toContain("borg: drone-1: k3s: API /readyz: not ready after 1s: [-]etcd failed: reason withheld");
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(nodeFile("drone-1", "unschedulable")).toBeUndefined();
  });

  it("refuses to run where no K3s server runs (the program only sends it to servers)", () => {
    const r = run("k3s-guard.sh", ["drone-1", "cordon"], { BORG_K3S_KUBECONFIG: path.join(dir, "missing.yaml") });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/no K3s server runs here .*cannot cordon drone-1/);
  });
});

describe("k3s-guard.sh cordon-self (before the first server's own switch)", () => {
  it("first deploy: K3s is not running yet, nothing to do", () => {
    const r = run("k3s-guard.sh", ["queen", "cordon-self"], { BORG_K3S_KUBECONFIG: path.join(dir, "missing.yaml") });
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/not running yet \(first deploy\)/);
  });

  it("a broken API does not block the switch that may repair it", () => {
    addNode("queen");
    const r = run("k3s-guard.sh", ["queen", "cordon-self"], { FAKE_K3S_READYZ: "connection refused" });
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/API not ready: queen not cordoned/);
    expect(nodeFile("queen", "unschedulable")).toBeUndefined();
  });

  it("cordons itself when the API answers", () => {
    addNode("queen");
    expect(run("k3s-guard.sh", ["queen", "cordon-self"]).code).toBe(0);
    expect(nodeFile("queen", "unschedulable")).toBe("");
  });
});

describe("k3s-guard.sh uncordon (after the confirm)", () => {
  it("waits for Ready, sets exactly its borg.io labels, and uncordons what the deploy cordoned", () => {
    addNode("drone-3", { pending: 3, labels: ["borg.io/old=true", "borg.io/gpu=true"] });
    expect(run("k3s-guard.sh", ["drone-3", "cordon"]).code).toBe(0);
    const r = run("k3s-guard.sh", ["drone-3", "uncordon", "borg.io/gpu=true", "borg.io/high-memory=true"], { BORG_K3S_WAIT: "5" });
    expect(r.code, r.err).toBe(0);
    expect(r.out).toBe("borg: drone-3: k3s: drone-3 Ready, labels set, uncordoned\n");
    expect(nodeFile("drone-3", "labels")!.trim().split("\n").sort()).toEqual(["borg.io/gpu=true", "borg.io/high-memory=true", "kubernetes.io/hostname=drone-3"]);
    expect(nodeFile("drone-3", "unschedulable")).toBeUndefined();
    expect(nodeFile("drone-3", "annotations")).toBe("");
    // Ready was probed until it turned True (3 probes answered False first).
    expect(calls().filter((c) => c.includes("get node drone-3 -o jsonpath={.status.conditions")).length).toBe(4);
  });

  it("a node that never gets Ready fails the deploy naming node, service, probe and its output; it stays cordoned", () => {
    addNode("drone-2", { ready: false });
    run("k3s-guard.sh", ["drone-2", "cordon"]);
    const r = run("k3s-guard.sh", ["drone-2", "uncordon"]);
    expect(r.code).toBe(1);
    expect(r.err).toContain("borg: drone-2: k3s: node drone-2 Ready: not ready after 1s: Ready=False");
    expect(nodeFile("drone-2", "unschedulable")).toBe("");
  });

  it("refuses node-role labels (kubelet would refuse to start) before touching anything", () => {
    addNode("drone-1");
    const r = run("k3s-guard.sh", ["drone-1", "uncordon", "node-role.kubernetes.io/worker=true"]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/invalid node label 'node-role\.kubernetes\.io\/worker=true'/);
    expect(fs.existsSync(env.FAKE_LOG!) ? calls() : []).toEqual([]);
  });
});

describe("k3s-gate.sh", () => {
  it("readyz: ok when the API says ok; otherwise the probe's output, bounded", () => {
    expect(run("k3s-gate.sh", ["queen", "readyz"]).out).toBe("borg: queen: k3s: API ready\n");
    const r = run("k3s-gate.sh", ["drone-1", "readyz"], { FAKE_K3S_READYZ: "[-]poststarthook/rbac failed" });
    expect(r.code).toBe(1);
    expect(r.err).toContain("borg: drone-1: k3s: API /readyz: not ready after 1s: [-]poststarthook/rbac failed");
  });

  it("nodes: every expected node Ready with exactly its labels", () => {
    addNode("queen");
    addNode("drone-1", { pending: 2 });
    addNode("drone-3", { labels: ["borg.io/gpu=true", "borg.io/high-memory=true"] });
    const r = run("k3s-gate.sh", ["queen", "nodes", "queen", "drone-1", "drone-3,borg.io/high-memory=true,borg.io/gpu=true"], { BORG_K3S_WAIT: "5" });
    expect(r.code, r.err).toBe(0);
    expect(r.out).toBe("borg: queen: k3s: 3 nodes Ready with their labels\n");
  });

  it("nodes: a missing label, a node that never registers, a node left over", () => {
    addNode("queen");
    addNode("drone-3", { labels: ["borg.io/gpu=true"] });
    const labels = run("k3s-gate.sh", ["queen", "nodes", "queen", "drone-3,borg.io/gpu=true,borg.io/high-memory=true"]);
    expect(labels.code).toBe(1);
    expect(labels.err).toContain("k3s: node drone-3 labels: expected [borg.io/gpu=true borg.io/high-memory=true ] but it has [borg.io/gpu=true ]");
    const missing = run("k3s-gate.sh", ["queen", "nodes", "queen", "drone-9"]);
    expect(missing.code).toBe(1);
    expect(missing.err).toContain("borg: queen: k3s: node drone-9 registered: not ready after 1s");
    const extra = run("k3s-gate.sh", ["queen", "nodes", "queen"]);
    expect(extra.code, extra.err).toBe(0);
    expect(extra.err).toMatch(/registered but not in the stack .*: drone-3/);
  });

  it("validates every argument before waiting", () => {
    const r = run("k3s-gate.sh", ["queen", "nodes", "queen", "Bad_Node"]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/invalid node name/);
    expect(fs.existsSync(env.FAKE_LOG!) ? calls() : []).toEqual([]);
  });
});

describe("k3s-kubeconfig.sh", () => {
  it("prints the admin kubeconfig and nothing else on stdout", () => {
    const fixture = fs.readFileSync(path.join(PROJECT_ROOT, "test", "fixtures", "k3s.yaml"), "utf8");
    fs.writeFileSync(env.BORG_K3S_KUBECONFIG!, fixture);
    const r = run("k3s-kubeconfig.sh", ["queen"]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toBe(fixture);
    expect(r.err).toBe("");
  });

  it("fails naming the node when K3s has not written it", () => {
    const r = run("k3s-kubeconfig.sh", ["queen"], { BORG_K3S_KUBECONFIG: path.join(dir, "none.yaml") });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^borg: queen: k3s: no admin kubeconfig at .*none\.yaml: K3s has not started here$/m);
    expect(r.out).toBe("");
  });
});

describe("every K3s step", () => {
  it("refuses to run as anyone but root", () => {
    for (const [script, args] of [["k3s-guard.sh", ["drone-1", "cordon"]], ["k3s-gate.sh", ["queen", "readyz"]], ["k3s-kubeconfig.sh", ["queen"]]] as const) {
      const r = run(script, [...args], { BORG_ROOT_UID: String(process.getuid!() + 1) });
      expect(r.code, script).toBe(1);
      expect(r.err, script).toMatch(/must run as root \(sudo\)/);
    }
  });

  it("passes shellcheck (with the sourced libraries)", () => {
    const scripts = fs.readdirSync(SERVICES).filter((f) => f.endsWith(".sh")).map((f) => `node-scripts/services/${f}`);
    expect(scripts).toEqual(expect.arrayContaining(["node-scripts/services/k3s-guard.sh", "node-scripts/services/k3s-gate.sh", "node-scripts/services/k3s-kubeconfig.sh"]));
    const r = spawnSync("shellcheck", ["-x", ...scripts], { cwd: PROJECT_ROOT, encoding: "utf8" });
    expect(r.error).toBeUndefined();
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });
});
