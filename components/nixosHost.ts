// NixosHost: deploys a bundle to one NixOS machine over SSH, as separate resources that each
// depend only on what they need:
//   ready → bundle → secrets → activate (rollback guard armed) → confirm (fresh connection, health gate)
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { PROJECT_ROOT, STATE_DIR, type NodeBundle, type NodeJson } from "./bundle.js";
import type { GuardStep, RolloutGuard, SecretFile } from "./services/types.js";

export type { SecretFile } from "./services/types.js";

export interface SshTarget {
  readonly host: pulumi.Input<string>;
  readonly user: string;
  readonly privateKey: pulumi.Input<string>;
  /** Pinned host public key ('<type> <base64>'): generated for a VM, from config for any other host. */
  readonly hostKey: pulumi.Input<string>;
}

export interface NixosHostArgs {
  readonly nodeName: string;
  readonly ssh: SshTarget;
  readonly nodeJson: NodeJson;
  readonly bundle: NodeBundle;
  /** Local directory holding exactly the bundle's files (what CopyToRemote ships). */
  readonly bundleDir: string;
  readonly secrets: readonly SecretFile[];
  /** Identity of the machine (VM id, or address + host key): a new machine re-runs every step. */
  readonly machineId: pulumi.Input<string>;
  /** Resources that must exist before the first SSH dial (the VM). */
  readonly machine?: pulumi.Input<pulumi.Resource>[];
  /** Rollout lane: activation waits for these (the previous node's confirm). */
  readonly activateAfter?: pulumi.Input<pulumi.Resource>[];
  readonly confirmTimeoutSeconds: number;
  /** Service guards around the switch (Ceph noout, K3s cordon, quorum health), in lane order. */
  readonly guards?: readonly RolloutGuard[];
}

/** A freshly cloned VM needs a while to boot: retry the first dial for up to ~5 minutes. */
const BOOT_DIAL = { dialErrorLimit: 30, perDialTimeout: 10 };
/** Later steps talk to a host that just answered: fail fast. */
const STEP_DIAL = { dialErrorLimit: 5, perDialTimeout: 15 };

const scriptText = (name: string) => fs.readFileSync(path.join(PROJECT_ROOT, "node-scripts", name), "utf8");

export class NixosHost extends pulumi.ComponentResource {
  /** The confirm step: the node is running, healthy and boots the new generation once this exists. */
  readonly confirmed: command.remote.Command;
  /** The node runs its new configuration and every guard's `after` passed: lanes continue from here. */
  readonly deployed: pulumi.Resource;
  readonly bundleHash: string;
  /** Where the verified bundle lives on the node once activated (service steps run from here). */
  readonly installedBundle: string;
  /** What every later connection to the node uses (pinned key, fail-fast dials). */
  readonly connection: command.types.input.remote.ConnectionArgs;

  constructor(name: string, args: NixosHostArgs, opts?: pulumi.ComponentResourceOptions) {
    // The node config (never secret) is this component's input, so policies can judge what a node runs.
    super("borg:index:NixosHost", name, { nodeName: args.nodeName, bundleHash: args.bundle.hash, nodeConfig: args.nodeJson }, opts);
    const { nodeName, bundle, ssh } = args;
    this.bundleHash = bundle.hash;
    const connection = (dial: typeof BOOT_DIAL): command.types.input.remote.ConnectionArgs => ({
      host: ssh.host,
      user: ssh.user,
      privateKey: ssh.privateKey,
      hostKey: ssh.hostKey,
      ...dial,
    });
    const home = ssh.user === "root" ? "/root" : `/home/${ssh.user}`;
    const staging = `${home}/.borg/staging/${bundle.hash}`;
    const installed = `${STATE_DIR}/bundles/${bundle.hash}`;
    this.installedBundle = installed;
    this.connection = connection(STEP_DIAL);
    const triggers = [args.machineId, bundle.hash];
    const child = { parent: this };
    const guards = args.guards ?? [];
    // A guard step on this node runs from the staged bundle (before activation) or the installed
    // one (after confirm); on an earlier node, from that node's installed bundle, once it is deployed.
    const guardCommand = (step: GuardStep, phase: "before" | "after", service: string, after: pulumi.Input<pulumi.Resource>[]) => {
      const onSelf = step.on === "self";
      const dir = onSelf ? (phase === "before" ? staging : installed) : step.on.installedBundle;
      return new command.remote.Command(
        `${name}-guard-${service}-${phase}`,
        {
          connection: onSelf ? connection(STEP_DIAL) : step.on.connection,
          create: [`sudo -n bash ${dir}/node-scripts/${step.script}`, nodeName, ...step.args].join(" "),
          triggers,
        },
        { ...child, dependsOn: [...after, ...(onSelf ? [] : [step.on.deployed])] },
      );
    };

    const ready = new command.remote.Command(
      `${name}-ready`,
      {
        connection: connection(BOOT_DIAL),
        create: `bash -s -- ${nodeName} ${bundle.hash} ${staging}`,
        stdin: scriptText("preflight.sh"),
        triggers,
      },
      { ...child, dependsOn: args.machine ?? [] },
    );

    const copy = new command.remote.CopyToRemote(
      `${name}-bundle`,
      {
        connection: connection(STEP_DIAL),
        source: new pulumi.asset.FileArchive(args.bundleDir),
        remotePath: staging,
        triggers,
      },
      { ...child, dependsOn: [ready] },
    );

    // One line per file (install-secrets.sh); the whole stdin is a secret.
    const secretStdin = pulumi.secret(
      pulumi
        .all(args.secrets.map((s) => pulumi.output(s.value)))
        .apply((values) => args.secrets.map((s, i) => secretRecord(s, values[i]!)).join("")),
    );
    const secrets = new command.remote.Command(
      `${name}-secrets`,
      {
        connection: connection(STEP_DIAL),
        create: `sudo -n bash ${staging}/node-scripts/install-secrets.sh ${nodeName}`,
        stdin: secretStdin,
        logging: "none",
        // Re-install when a secret changes without printing or storing its value in plain state.
        triggers: [...triggers, pulumi.secret(secretStdin.apply(digest))],
      },
      { ...child, dependsOn: [copy], additionalSecretOutputs: ["stdout", "stderr"] },
    );

    // Guards wait for the lane too: a cordon or noout is set only when this node's turn has come.
    const beforeGuards = guards.map((g) => guardCommand(g.before, "before", g.service, [copy, ...(args.activateAfter ?? [])]));
    const activate = new command.remote.Command(
      `${name}-activate`,
      {
        connection: connection(STEP_DIAL),
        create: `sudo -n bash ${staging}/node-scripts/activate.sh ${nodeName} ${bundle.hash} ${staging} ${args.confirmTimeoutSeconds}`,
        triggers,
      },
      { ...child, dependsOn: [copy, secrets, ...beforeGuards, ...(args.activateAfter ?? [])] },
    );

    // A separate resource is a separate SSH connection: proof that the new system still lets us in.
    this.confirmed = new command.remote.Command(
      `${name}-confirm`,
      {
        connection: connection(STEP_DIAL),
        // The activate URN only feeds the retry hint printed if the node already reverted.
        create: pulumi.interpolate`sudo -n bash ${installed}/node-scripts/confirm.sh ${nodeName} ${bundle.hash} '${activate.urn}'${leftInPlaceHint(guards)}`,
        triggers,
      },
      { ...child, dependsOn: [activate] },
    );

    // Each `after` returns only when its service is back to the health it had before the switch.
    // They run one after another, so the last one stands for "deployed".
    let deployed: pulumi.Resource = this.confirmed;
    for (const g of guards) deployed = guardCommand(g.after, "after", g.service, [deployed]);
    this.deployed = deployed;

    this.registerOutputs({ bundleHash: bundle.hash, confirmed: this.confirmed.stdout });
  }
}

/** `<name> <owner> <group> <base64> [<unit>,…]`: the units restart when the content changes. */
function secretRecord(file: SecretFile, value: string): string {
  const units = file.restartUnits?.length ? ` ${file.restartUnits.join(",")}` : "";
  return `${file.name} ${file.owner} ${file.group} ${Buffer.from(value, "utf8").toString("base64")}${units}\n`;
}

/** On a failed confirm, say which guards stay in place (their `after` never runs) and how to undo them. */
function leftInPlaceHint(guards: readonly RolloutGuard[]): string {
  if (guards.length === 0) return "";
  const what = guards.map((g) => `${g.service}: ${g.leftInPlace}`).join("; ");
  return ` || { echo ${shellQuote(`borg: guards left in place after the failed confirm: ${what}`)} >&2; exit 1; }`;
}

const shellQuote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;

const digest = (text: string) => createHash("sha256").update(text).digest("hex");
