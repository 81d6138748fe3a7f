// The Pulumi gRPC stubs the SDK ships (@pulumi/pulumi/proto), loaded from the same copies of
// @grpc/grpc-js and google-protobuf they require, so messages built here pass their type checks.
// The stubs are CommonJS without named ESM exports: require them.
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const protoDir = require.resolve("@pulumi/pulumi/proto/resource_pb.js");
const fromProto = createRequire(protoDir);

/* eslint-disable @typescript-eslint/no-explicit-any -- generated stubs, typed at use */
export const grpc: typeof import("@grpc/grpc-js") = fromProto("@grpc/grpc-js");
export const struct: any = fromProto("google-protobuf/google/protobuf/struct_pb.js");
export const empty: any = fromProto("google-protobuf/google/protobuf/empty_pb.js");
export const resource: any = fromProto("./resource_pb.js");
export const resourceRpc: any = fromProto("./resource_grpc_pb.js");
export const provider: any = fromProto("./provider_pb.js");
export const engine: any = fromProto("./engine_pb.js");
export const engineRpc: any = fromProto("./engine_grpc_pb.js");
export const analyzer: any = fromProto("./analyzer_pb.js");
export const analyzerRpc: any = fromProto("./analyzer_grpc_pb.js");

/** Serves `services` (proto service definition → implementation) on a free loopback port. */
export async function serve(services: [definition: unknown, implementation: object][]): Promise<{ address: string; close: () => Promise<void> }> {
  const server = new grpc.Server();
  for (const [definition, implementation] of services) server.addService(definition as any, implementation as any);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    address: `127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
}

/** An RPC that fails the way an engine reports a bug: the program sees the message. */
export function rpcError(message: string): Error & { code: number; details: string } {
  return Object.assign(new Error(message), { code: grpc.status.UNIMPLEMENTED, details: message });
}
