// Pulumi's dynamic-provider host as the engine runs it for `pulumi-nodejs:dynamic:*` resources:
// `node <@pulumi/pulumi/cmd/dynamic-provider> <engine>` in the project directory, its gRPC port the
// first line it prints, then pulumirpc.ResourceProvider calls carrying the serialized provider in
// `__provider`. Each call deserializes it the way a real `pulumi up` does (require-from-string).
// Not reproduced: the engine's secret stripping (values here are plain) and its diff display.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import * as path from "node:path";
import { PROJECT_ROOT } from "../../components/bundle.js";
import { grpc, provider as pb, struct } from "../engine/proto.js";

const require = createRequire(import.meta.url);
const fromProto = createRequire(require.resolve("@pulumi/pulumi/proto/provider_pb.js"));
const providerRpc: any = fromProto("./provider_grpc_pb.js");

/** The serialized provider as the program under `node --import tsx` produces it. */
export function serializedStreamProvider(): string {
  const r = spawnSync(process.execPath, ["--import", "tsx", path.join(PROJECT_ROOT, "test", "lib", "serializeStreamProvider.ts")], {
    cwd: PROJECT_ROOT,
    encoding: "utf8",
    maxBuffer: 16 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`serializing the stream provider failed: ${r.stderr}`);
  return r.stdout;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- resource properties
type Props = Record<string, any> | object;
const toStruct = (v: Props) => struct.Struct.fromJavaScript(v as Record<string, unknown>);

export interface DynamicHost {
  check(olds: Props, news: Props): Promise<{ inputs: Record<string, unknown>; failures: { property: string; reason: string }[] }>;
  diff(id: string, olds: Props, news: Props): Promise<{ changes: boolean; replaces: string[]; deleteBeforeReplace: boolean }>;
  create(props: Props): Promise<{ id: string; outs: Record<string, unknown> }>;
  update(id: string, olds: Props, news: Props): Promise<{ outs: Record<string, unknown> }>;
  delete(id: string, props: Props): Promise<void>;
  /** `pulumi refresh`: the live state; an empty id means the resource is gone. */
  read(id: string, props: Props): Promise<{ id: string; props: Record<string, unknown> }>;
  close(): Promise<void>;
}

export async function startDynamicProviderHost(serialized: string, urn: string): Promise<DynamicHost> {
  const host = require.resolve("@pulumi/pulumi/cmd/dynamic-provider/index.js");
  // The engine's address is unused by this host (nothing calls back); it only must be present.
  const proc: ChildProcess = spawn(process.execPath, [host, "127.0.0.1:1"], { cwd: PROJECT_ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  proc.stderr!.on("data", (d) => (stderr += String(d)));
  const port = await new Promise<string>((resolve, reject) => {
    let out = "";
    proc.stdout!.on("data", (d) => {
      out += String(d);
      const line = out.split("\n")[0]!;
      if (out.includes("\n")) resolve(line.trim());
    });
    proc.once("exit", (code) => reject(new Error(`dynamic-provider host exited ${code}: ${stderr}`)));
  });
  const client = new providerRpc.ResourceProviderClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const call = <T>(method: string, req: unknown): Promise<T> =>
    new Promise((resolve, reject) => client[method](req, (err: Error | null, res: T) => (err ? reject(new Error(err.message.replace(/^\d+ [A-Z_]+: /, ""))) : resolve(res))));
  const withProvider = (p: Props) => ({ ...p, __provider: serialized });
  const strip = (p: Record<string, unknown>) => {
    const { __provider: _, ...rest } = p;
    return rest;
  };
  return {
    async check(olds, news) {
      const req = new pb.CheckRequest();
      req.setUrn(urn);
      req.setOlds(toStruct(Object.keys(olds).length ? withProvider(olds) : {}));
      req.setNews(toStruct(withProvider(news)));
      const res: any = await call("check", req);
      return { inputs: strip(res.getInputs().toJavaScript()), failures: res.getFailuresList().map((f: any) => ({ property: f.getProperty(), reason: f.getReason() })) };
    },
    async diff(id, olds, news) {
      const req = new pb.DiffRequest();
      req.setId(id);
      req.setUrn(urn);
      req.setOlds(toStruct(withProvider(olds)));
      req.setNews(toStruct(withProvider(news)));
      const res: any = await call("diff", req);
      return { changes: res.getChanges() === pb.DiffResponse.DiffChanges.DIFF_SOME, replaces: res.getReplacesList(), deleteBeforeReplace: res.getDeletebeforereplace() };
    },
    async create(props) {
      const req = new pb.CreateRequest();
      req.setUrn(urn);
      req.setProperties(toStruct(withProvider(props)));
      const res: any = await call("create", req);
      return { id: res.getId(), outs: strip(res.getProperties().toJavaScript()) };
    },
    async update(id, olds, news) {
      const req = new pb.UpdateRequest();
      req.setId(id);
      req.setUrn(urn);
      req.setOlds(toStruct(withProvider(olds)));
      req.setNews(toStruct(withProvider(news)));
      const res: any = await call("update", req);
      return { outs: strip(res.getProperties().toJavaScript()) };
    },
    async delete(id, props) {
      const req = new pb.DeleteRequest();
      req.setId(id);
      req.setUrn(urn);
      req.setProperties(toStruct(withProvider(props)));
      await call("delete", req);
    },
    async read(id, props) {
      const req = new pb.ReadRequest();
      req.setId(id);
      req.setUrn(urn);
      req.setProperties(toStruct(withProvider(props)));
      const res: any = await call("read", req);
      return { id: res.getId(), props: strip(res.getProperties()?.toJavaScript() ?? {}) };
    },
    async close() {
      client.close();
      if (proc.exitCode === null && proc.signalCode === null) {
        const gone = new Promise((r) => proc.once("exit", r));
        proc.kill("SIGTERM");
        await gone;
      }
    },
  };
}
