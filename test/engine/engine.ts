// pulumirpc.Engine, the engine's side: logging and the root (stack) resource.
import { empty, engine, engineRpc, rpcError } from "./proto.js";
import { refuseTheRest, type Recording } from "./recording.js";

type Callback = (err: Error | null, response?: unknown) => void;
type Call = { request: any }; // eslint-disable-line @typescript-eslint/no-explicit-any

const SEVERITY = ["debug", "info", "warning", "error"];

export function engineService(recording: Recording) {
  const answered = {
    log({ request }: Call, cb: Callback) {
      recording.logs.push({ severity: SEVERITY[request.getSeverity()] ?? String(request.getSeverity()), message: request.getMessage(), urn: request.getUrn() });
      cb(null, new empty.Empty());
    },

    getRootResource(_call: Call, cb: Callback) {
      const response = new engine.GetRootResourceResponse();
      response.setUrn(recording.root);
      cb(null, response);
    },

    setRootResource({ request }: Call, cb: Callback) {
      recording.root = request.getUrn();
      cb(null, new engine.SetRootResourceResponse());
    },
  };
  return refuseTheRest("Engine", engineRpc.EngineService, answered, recording, rpcError);
}

export const EngineService = engineRpc.EngineService;
