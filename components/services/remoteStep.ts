// A service step on one node: a script of the node's installed bundle (node-scripts/services/),
// run as root with non-secret arguments. Secrets go on stdin only (logging off, outputs secret).
// The script's text is covered by the bundle hash, so a changed step re-runs; nothing else does.
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { NodeHandle } from "./types.js";

const SAFE_ARG = /^[A-Za-z0-9@%+=:,./_-]+$/;

export interface RemoteStepArgs {
  readonly node: NodeHandle;
  /** Path under node-scripts/, e.g. "services/ceph-gate.sh". */
  readonly script: string;
  /** Non-secret words (node names, addresses, counts): they are visible in process lists and state. */
  readonly args?: readonly string[];
  /** Secret input, on stdin only. */
  readonly stdin?: pulumi.Input<string>;
  /** What re-runs the step besides the node's identity and bundle (e.g. peer bundles, a config hash). */
  readonly triggers?: pulumi.Input<string>[];
  /** The step prints a secret (a key, a kubeconfig): its stdout becomes a secret output. */
  readonly secretOutput?: boolean;
  readonly dependsOn?: pulumi.Input<pulumi.Resource>[];
}

export function remoteStep(name: string, args: RemoteStepArgs, opts: pulumi.CustomResourceOptions): command.remote.Command {
  const words = args.args ?? [];
  for (const w of words) {
    if (!SAFE_ARG.test(w)) throw new Error(`${name}: step argument ${JSON.stringify(w)} is not a plain word`);
  }
  const hasSecret = args.stdin !== undefined || args.secretOutput === true;
  return new command.remote.Command(
    name,
    {
      connection: args.node.connection,
      create: [`sudo -n bash ${args.node.installedBundle}/node-scripts/${args.script}`, args.node.spec.name, ...words].join(" "),
      ...(args.stdin !== undefined ? { stdin: pulumi.secret(args.stdin) } : {}),
      ...(hasSecret ? { logging: "none" as const } : {}),
      triggers: [args.node.machineId, args.node.bundleHash, ...(args.triggers ?? [])],
    },
    {
      ...opts,
      dependsOn: [args.node.deployed, ...(args.dependsOn ?? [])],
      ...(hasSecret ? { additionalSecretOutputs: ["stdout", "stderr"] } : {}),
    },
  );
}
