// Starts the program the way pulumi-language-nodejs (LanguageRuntime.Run) does for `pulumi preview`:
// `node <nodeargs> <@pulumi/pulumi/cmd/run> --monitor … --engine … --project … --stack … --pwd …
// --dry-run --parallel … <main>`, config in PULUMI_CONFIG / PULUMI_CONFIG_SECRET_KEYS, and this
// process as the engine (ResourceMonitor + Engine services on loopback).
//
// What the real host does that this one does not (see README "What is verified offline"):
// - it proxies the monitor through its own gRPC server; here the program talks to the engine directly;
// - it serves synchronous invokes over FIFOs in the --sync directory; here the directory is empty
//   (SDK 3.248 never opens it: a program that did would fail loudly);
// - the CLI decrypts `secure:` config; here secrets are canaries, passed in the clear like decrypted ones;
// - providers are fake (see resourceMonitor.ts): nothing is diffed, created, or read back from state.
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as os from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import { PROJECT_ROOT } from "../../components/bundle.js";
import { engineService, EngineService } from "./engine.js";
import { serve } from "./proto.js";
import { newRecording, type Recording } from "./recording.js";
import { resourceMonitor, ResourceMonitorService } from "./resourceMonitor.js";

export interface ProgramRun extends Recording {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  /** The node argv and the environment variables the host added, as launched. */
  argv: string[];
  env: Record<string, string>;
  seconds: number;
}

export interface RunOptions {
  stack: string;
  /** `namespace:key` → value, secret values in the clear (as the CLI passes them after decrypting). */
  config: Record<string, string>;
  secretKeys: readonly string[];
  /** BORG_BUNDLE_ROOT: where the program writes node bundles (a temp dir; the real default is .borg). */
  bundleRoot: string;
  projectRoot?: string;
  timeoutMs?: number;
}

interface Project {
  name: string;
  main?: string;
  runtime: { name: string; options?: { typescript?: boolean; nodeargs?: string; tsconfig?: string } };
}

/** shlex.Split as the host uses it for `nodeargs`: whitespace-separated words, quotes group. */
export function splitArgs(text: string): string[] {
  return [...text.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3]!);
}

export async function runUnderEngine(options: RunOptions): Promise<ProgramRun> {
  const root = options.projectRoot ?? PROJECT_ROOT;
  const project = parse(fs.readFileSync(path.join(root, "Pulumi.yaml"), "utf8")) as Project;
  if (project.runtime.name !== "nodejs") throw new Error(`runtime ${project.runtime.name}: only nodejs is modelled`);
  const runtime = project.runtime.options ?? {};

  // The CLI's program directory and entry point: `main` a file → its directory and base name.
  const main = path.resolve(root, project.main ?? ".");
  const isDir = fs.statSync(main).isDirectory();
  const programDirectory = isDir ? main : path.dirname(main);
  const entryPoint = isDir ? "." : path.basename(main);

  const recording = newRecording();
  const server = await serve([
    [ResourceMonitorService, resourceMonitor(recording, options.stack, project.name)],
    [EngineService, engineService(recording)],
  ]);
  const syncDir = fs.mkdtempSync(path.join(os.tmpdir(), "borg-engine-sync-"));
  try {
    // locateModule: require.resolve from the program directory.
    const runPath = createRequire(path.join(programDirectory, "package.json")).resolve("@pulumi/pulumi/cmd/run");
    const argv = [
      ...splitArgs(runtime.nodeargs ?? ""),
      runPath,
      ...["--monitor", server.address],
      ...["--engine", server.address],
      ...["--sync", syncDir],
      // A DIY (file://) backend runs every stack in the organization "organization".
      ...["--organization", "organization"],
      ...["--project", project.name],
      ...["--root-directory", root],
      ...["--stack", options.stack],
      ...["--pwd", programDirectory],
      "--dry-run",
      ...["--parallel", "16"],
      entryPoint,
    ];
    // The host's constructConfig writes keys in the old `<namespace>:config:<name>` form.
    const config = Object.fromEntries(Object.entries(options.config).map(([k, v]) => [k.replace(/^([^:]+):/, "$1:config:"), v]));
    const env: Record<string, string> = {
      PULUMI_CONFIG: JSON.stringify(config),
      PULUMI_CONFIG_SECRET_KEYS: JSON.stringify(options.secretKeys),
      ...(runtime.typescript ?? true ? { PULUMI_NODEJS_TYPESCRIPT: "true" } : {}),
      ...(runtime.tsconfig ? { PULUMI_NODEJS_TSCONFIG_PATH: runtime.tsconfig } : {}),
      BORG_BUNDLE_ROOT: options.bundleRoot,
    };
    const started = performance.now();
    const child = spawn(process.execPath, argv, { cwd: root, env: { ...cliEnvironment(), ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 240_000);
    const exitCode = await new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    clearTimeout(timer);
    return { ...recording, exitCode, stdout, stderr, argv, env, seconds: (performance.now() - started) / 1000 };
  } finally {
    await server.close();
    fs.rmSync(syncDir, { recursive: true, force: true });
  }
}

/** The environment a `pulumi` started from a shell passes on: ours, without the test runner's. */
function cliEnvironment(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(process.env).filter(([k, v]) => v !== undefined && !/^(VITEST|NODE_OPTIONS$|NODE_ENV$|TSX_|PULUMI_)/.test(k)),
  ) as Record<string, string>;
}
