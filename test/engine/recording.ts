// What the engine side saw of one program run: every registration and call, in order.
import type { CapturedResource } from "../../scripts/lib/mockedProgram.js";

export interface Recording {
  /** Every RegisterResource, decoded like a plan entry (secrets redacted), urn filled in. */
  registrations: CapturedResource[];
  /** The same registrations' inputs as sent on the wire (secret wrappers kept), by urn. */
  wireInputs: Map<string, Record<string, unknown>>;
  /** RegisterResourceOutputs, on the wire, by urn (the stack's are the stack exports). */
  outputs: Map<string, Record<string, unknown>>;
  /** SetRootResource: the stack resource's urn. */
  root: string;
  /** SupportsFeature ids the SDK asked about. */
  features: string[];
  /** Engine.Log calls. */
  logs: { severity: string; message: string; urn: string }[];
  /** RPCs this engine does not answer, with what was asked: any entry is a harness gap or a bug. */
  refused: string[];
}

export const newRecording = (): Recording => ({
  registrations: [],
  wireInputs: new Map(),
  outputs: new Map(),
  root: "",
  features: [],
  logs: [],
  refused: [],
});

/**
 * Implementations for every method of `definition` not in `answered`: they record the call and
 * fail it, so a program that needs more of the protocol fails loudly instead of hanging.
 */
export function refuseTheRest(service: string, definition: Record<string, unknown>, answered: object, recording: Recording, rpcError: (m: string) => Error) {
  const rest: Record<string, (call: { request: unknown }, cb: (err: Error) => void) => void> = {};
  for (const method of Object.keys(definition)) {
    if (method in answered) continue;
    rest[method] = (call, cb) => {
      const what = `${service}.${method}${describe(call.request)}`;
      recording.refused.push(what);
      cb(rpcError(`the test engine does not answer ${what}; extend test/engine if the program needs it`));
    };
  }
  return { ...rest, ...answered };
}

function describe(request: unknown): string {
  const r = request as { getTok?: () => string; getType?: () => string } | undefined;
  if (r?.getTok) return ` ${r.getTok()}`;
  if (r?.getType) return ` ${r.getType()}`;
  return "";
}
