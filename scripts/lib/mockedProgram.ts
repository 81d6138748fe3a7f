// Runs the real program (index.ts) under the Pulumi SDK's mocks and captures every registration:
// urn, type, parent, dependencies, options and inputs with secrets redacted value by value.
// The only file that touches SDK internals (the mock monitor, Output.promise): the SDK is pinned.
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "node:crypto";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { PROJECT_ROOT } from "../../components/bundle.js";
// The marker policies recognise (they also run on saved plans).
import { REDACTED } from "../../policy/lib/define.ts";

export { REDACTED };

export const UNKNOWN = "[unknown]";
/** What a user secret that the offline run cannot read becomes: any trace of it in a plan is a leak. */
export const canary = (what: string) => `<secret:${what}>`;

export interface CapturedResource {
  urn: string;
  type: string;
  name: string;
  custom: boolean;
  parent: string | null;
  dependencies: string[];
  provider: string | null;
  protect: boolean;
  ignoreChanges: string[];
  additionalSecretOutputs: string[];
  replaceOnChanges: string[];
  inputs: Record<string, unknown>;
}

export interface ProgramRun {
  resources: CapturedResource[];
  outputs: Record<string, unknown>;
  /** What the program logged with pulumi.log.warn (under the engine: its diagnostics). */
  warnings: string[];
}

export interface RunOptions {
  stack: string;
  /** `namespace:key` → value; secret keys listed in `secretKeys`. */
  config: Record<string, string>;
  secretKeys: readonly string[];
  /** Where the program writes node bundles (BORG_BUNDLE_ROOT). */
  bundleRoot: string;
  /** Called for every registration as it happens (also when the program later fails). */
  onRegister?: (resource: CapturedResource) => void;
  /** Tests only: capture secret input values instead of redacting them. */
  revealSecrets?: boolean;
}

// Serialized-property signatures of the Pulumi wire format.
const SIG = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
const ASSET_SIG = "c44067f5952c0a294b673a41bacd8c17";
const ARCHIVE_SIG = "0def7320c3a5731c473e5ecbe6d01bc7";
const RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e";
const UNKNOWN_VALUE = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/**
 * Wire value → plain JSON; every non-empty leaf under a secret becomes REDACTED, keys stay
 * visible. `reveal` keeps secret values (tests only; never written to a plan).
 */
export function decodeWire(value: unknown, secret = false, reveal = false): unknown {
  if (value === UNKNOWN_VALUE) return UNKNOWN;
  if (Array.isArray(value)) return value.map((v) => decodeWire(v, secret, reveal));
  if (value !== null && typeof value === "object") {
    const obj = value as Record<string, unknown>;
    switch (obj[SIG]) {
      case SECRET_SIG:
        return decodeWire(obj.value, !reveal, reveal);
      case ASSET_SIG:
        return { asset: "path" in obj ? { path: obj.path } : { text: secret ? REDACTED : obj.text } };
      case ARCHIVE_SIG:
        return { archive: "path" in obj ? { path: obj.path } : { assets: decodeWire(obj.assets, secret, reveal) } };
      case RESOURCE_SIG:
        return { resource: obj.urn };
    }
    return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, decodeWire(v, secret, reveal)]));
  }
  // An empty value hides nothing and shows that the field is empty (e.g. an unset host key).
  return secret && value !== null && value !== "" ? REDACTED : value;
}

/** A base64 blob of the right shape for an ed25519 public key, derived from the name (fake, stable). */
function fakeEd25519(name: string): string {
  const body = Buffer.concat([
    Buffer.from([0, 0, 0, 11]),
    Buffer.from("ssh-ed25519"),
    Buffer.from([0, 0, 0, 32]),
    createHash("sha256").update(`fake:${name}`).digest(),
  ]);
  return `ssh-ed25519 ${body.toString("base64")}`;
}

/** The fake `random.RandomBytes` value of a resource name (offline runs only; at most 64 bytes). */
export function fakeRandomBytes(name: string, length: number): Buffer {
  return createHash("sha512").update(`fake bytes of ${name}`).digest().subarray(0, length);
}

/** A fake, well-formed, stable UUID (v4 layout) derived from a resource name. */
export function fakeUuid(name: string): string {
  const h = createHash("sha256").update(`fake-uuid:${name}`).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** Mock inputs keep the wire's secret wrappers; fakes only need the plain values. */
function unwrapSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(unwrapSecrets);
  if (value !== null && typeof value === "object") {
    const obj = value as Record<string, unknown>;
    if (obj[SIG] === SECRET_SIG) return unwrapSecrets(obj.value);
    return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, unwrapSecrets(v)]));
  }
  return value;
}

/**
 * Clearly labelled fake provider outputs: ids start with `fake-`, generated secrets are canaries.
 * Also what the local engine of test/engine answers, so both runs see the same provider results.
 * `secretOutputs`: the resource's additionalSecretOutputs (a secret RandomUuid stays a canary).
 */
export function fakeOutputs(args: pulumi.runtime.MockResourceArgs, secretOutputs: readonly string[] = []): { id: string; state: Record<string, unknown> } {
  const inputs = args.inputs as Record<string, unknown>;
  const id = `fake-${args.name}`;
  switch (args.type) {
    case "tls:index/privateKey:PrivateKey":
      return {
        id,
        state: {
          ...inputs,
          publicKeyOpenssh: `${fakeEd25519(args.name)}\n`,
          publicKeyPem: `fake public key of ${args.name}`,
          privateKeyOpenssh: canary(`tls:${args.name}`),
          privateKeyPem: canary(`tls:${args.name}`),
          privateKeyPemPkcs8: canary(`tls:${args.name}`),
        },
      };
    case "tls:index/selfSignedCert:SelfSignedCert":
    case "tls:index/locallySignedCert:LocallySignedCert":
      return { id, state: { ...inputs, certPem: `fake certificate of ${args.name}` } };
    case "tls:index/certRequest:CertRequest":
      return { id, state: { ...inputs, certRequestPem: `fake certificate request of ${args.name}` } };
    case "proxmoxve:index/vmLegacy:VmLegacy":
      return { id: `fake-vm-${String(inputs.vmId)}`, state: { ...inputs, ipv4Addresses: [["127.0.0.1"], [String((unwrapSecrets(inputs.initialization) as any)?.ipConfigs?.[0]?.ipv4?.address ?? "").split("/")[0]]] } };
    case "proxmoxve:index/fileLegacy:FileLegacy":
      return { id: `${String(inputs.datastoreId)}:snippets/${String((unwrapSecrets(inputs.sourceRaw) as any)?.fileName)}`, state: inputs };
    case "command:remote:Command":
      return { id, state: { ...inputs, stdout: fakeStdout(args.name, String(inputs.create ?? "")), stderr: "" } };
    case "random:index/randomBytes:RandomBytes": {
      // Real-looking bytes of the asked length (code decodes them, e.g. into cephx keys), stable per
      // name; labelled fakes. Tests search plans for them and for what derives from them.
      const bytes = fakeRandomBytes(args.name, Number(inputs.length ?? 32));
      return { id, state: { ...inputs, base64: bytes.toString("base64"), hex: bytes.toString("hex") } };
    }
    case "random:index/randomUuid:RandomUuid":
      // A secret one (a token) is a canary; a plain one (an fsid, an OSD uuid) a fake, well-formed UUID.
      return { id, state: { ...inputs, result: secretOutputs.includes("result") ? canary(`random:${args.name}`) : fakeUuid(args.name) } };
    default:
      if (args.type.startsWith("random:")) return { id, state: { ...inputs, result: canary(`random:${args.name}`) } };
      return { id, state: inputs };
  }
}

/** What a step prints; a step that prints a secret prints a canary in a realistic shape. */
function fakeStdout(name: string, create: string): string {
  if (create.includes("services/k3s-kubeconfig.sh")) {
    // K3s' /etc/rancher/k3s/k3s.yaml: the CA is public, the admin client key is the secret.
    const pem = (what: string) => Buffer.from(`-----BEGIN CERTIFICATE-----\nfake ${what} of ${name}\n-----END CERTIFICATE-----\n`).toString("base64");
    return [
      "apiVersion: v1",
      "clusters:",
      "- cluster:",
      `    certificate-authority-data: ${pem("server CA")}`,
      "    server: https://127.0.0.1:6443",
      "  name: default",
      "contexts:",
      "- context:",
      "    cluster: default",
      "    user: default",
      "  name: default",
      "current-context: default",
      "kind: Config",
      "preferences: {}",
      "users:",
      "- name: default",
      "  user:",
      `    client-certificate-data: ${pem("admin client certificate")}`,
      `    client-key-data: ${canary(`k3s-admin-key:${name}`)}`,
      "",
    ].join("\n");
  }
  return `fake stdout of ${name}`;
}

/**
 * A RegisterResourceRequest (the gRPC message the SDK sends the engine) as a plan entry; the urn
 * is filled in from the engine's answer.
 */
export function capturedFrom(req: any, revealSecrets = false): CapturedResource {
  const propertyDeps = req.getPropertydependenciesMap();
  const deps = new Set<string>(req.getDependenciesList());
  propertyDeps.forEach((v: any) => v.getUrnsList().forEach((u: string) => deps.add(u)));
  const provider: string = req.getProvider();
  return {
    urn: "",
    type: req.getType(),
    name: req.getName(),
    custom: req.getCustom(),
    parent: req.getParent() || null,
    dependencies: [...deps].sort(),
    // A provider reference is `<urn>::<id>`: keep the URN.
    provider: provider ? provider.slice(0, provider.lastIndexOf("::")) : null,
    protect: Boolean(req.getProtect()),
    ignoreChanges: req.getIgnorechangesList(),
    additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
    replaceOnChanges: req.getReplaceonchangesList(),
    inputs: compactDynamicProvider(decodeWire(req.getObject()?.toJavaScript() ?? {}, false, revealSecrets) as Record<string, unknown>),
  };
}

/**
 * A dynamic resource carries its provider as serialized JavaScript (`__provider`, ~10 KB, the same
 * for every resource of that provider). Its text depends on the TypeScript loader (tsx under the
 * engine, vite under the tests), so the plan records only that it is there.
 */
export const SERIALIZED_PROVIDER = "<serialized dynamic provider>";
function compactDynamicProvider(inputs: Record<string, unknown>): Record<string, unknown> {
  const text = inputs.__provider;
  if (typeof text !== "string" || text === REDACTED || text === "") return inputs;
  return { ...inputs, __provider: SERIALIZED_PROVIDER };
}

let runs = 0;

export async function runProgram(options: RunOptions): Promise<ProgramRun> {
  const resources: CapturedResource[] = [];
  // The mock sees no resource options: the secret outputs come from the registration just captured.
  const secretOutputsOf = (name: string, type: string) => {
    for (let i = resources.length - 1; i >= 0; i--) if (resources[i]!.name === name && resources[i]!.type === type) return resources[i]!.additionalSecretOutputs;
    return [];
  };
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => fakeOutputs(args, secretOutputsOf(args.name, args.type)),
      call: (args) => {
        // Fail loudly: an unmocked invoke means the offline plan would be fiction.
        const err = new Error(`unmocked invoke ${args.token}: add a fake for it in scripts/lib/mockedProgram.ts`);
        (err as Error & { details?: string }).details = err.message;
        throw err;
      },
    },
    "borg-collective",
    options.stack,
    true,
  );
  pulumi.runtime.setAllConfig(options.config, [...options.secretKeys]);

  const monitor = pulumi.runtime.getMonitor() as unknown as { registerResource: (req: any, cb: any) => void; newUrn: (parent: string, type: string, name: string) => string };
  // The engine qualifies a type with its parent's whole type chain, leaving out the root stack's
  // (`…::A$B$type::name`, as the SDK's createUrn does); the mock monitor keeps only the parent's
  // last type. Plans must carry the URNs a real preview shows: exemptions and `--replace` use them.
  monitor.newUrn = (parent, type, name) => {
    const chain = parent ? parent.split("::")[2]! : "pulumi:pulumi:Stack";
    return `urn:pulumi:${options.stack}::borg-collective::${chain === "pulumi:pulumi:Stack" ? type : `${chain}$${type}`}::${name}`;
  };
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req: any, cb: any) => {
    resources.push(capturedFrom(req, options.revealSecrets ?? false));
    const entry = resources[resources.length - 1]!;
    options.onRegister?.(entry);
    register(req, (err: unknown, res: any) => {
      if (res) entry.urn = res.getUrn();
      cb(err, res);
    });
  };

  process.env.BORG_BUNDLE_ROOT = options.bundleRoot;
  // Load the program's module graph first: provider packages resolve their exports through lazy
  // requires, which fail under the short stack limit below.
  await import(pathToFileURL(path.join(PROJECT_ROOT, "components", "collective.ts")).href);
  await import(pathToFileURL(path.join(PROJECT_ROOT, "components", "config", "load.ts")).href);
  // The SDK captures a stack for every internal promise; with @pulumi/* already loaded, a one-frame
  // limit makes a run ~3x faster (setting it before the SDK loads breaks module loading).
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 1;
  // Without an engine the SDK prints pulumi.log.warn as `warning: [runtime] …` on console.warn:
  // collect those for the caller to show (stdout stays the plan when --json).
  const warnings: string[] = [];
  const consoleWarn = console.warn;
  console.warn = (...args: unknown[]) => {
    const text = args.map(String).join(" ");
    const prefix = "warning: [runtime] ";
    if (text.startsWith(prefix)) warnings.push(text.slice(prefix.length));
    else consoleWarn(...args);
  };
  try {
    return { ...(await importProgram(resources)), warnings };
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
    console.warn = consoleWarn;
  }
}

async function importProgram(resources: CapturedResource[]): Promise<Omit<ProgramRun, "warnings">> {
  // A fresh module instance per run: the program registers its resources at import.
  const entry = `${pathToFileURL(path.join(PROJECT_ROOT, "index.ts")).href}?run=${++runs}`;
  const exportsOf = (await import(entry)) as Record<string, unknown>;
  const outputs: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(exportsOf)) outputs[key] = await resolveOutput(value);
  await (pulumi.runtime as unknown as { waitForRPCs: () => Promise<void> }).waitForRPCs();
  return { resources, outputs };
}

/** Exports → plain JSON with secret values redacted. */
async function resolveOutput(value: unknown): Promise<unknown> {
  if (pulumi.Output.isInstance(value)) {
    const out = value as unknown as { promise: () => Promise<unknown>; isSecret: Promise<boolean> };
    const [inner, secret] = await Promise.all([out.promise(), out.isSecret]);
    const resolved = await resolveOutput(inner);
    return secret ? decodeWire(resolved, true) : resolved;
  }
  if (Array.isArray(value)) return Promise.all(value.map(resolveOutput));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(await Promise.all(Object.entries(value).map(async ([k, v]) => [k, await resolveOutput(v)] as const)));
  }
  return value;
}
