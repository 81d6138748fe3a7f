// pulumirpc.ResourceMonitor, the engine's side: what the SDK in the program calls to register
// resources. Providers are fake (scripts/lib/mockedProgram.ts fakeOutputs, the same answers synth
// gets from the mocks); everything else is what the Pulumi engine does with a registration.
import { capturedFrom, fakeOutputs } from "../../scripts/lib/mockedProgram.js";
import { empty, resource, resourceRpc, rpcError, struct } from "./proto.js";
import { refuseTheRest, type Recording } from "./recording.js";

/** Features the engine of a CLI matching SDK 3.248 reports; any other id is answered false. */
const FEATURES = new Set([
  "secrets",
  "resourceReferences",
  "outputValues",
  "deletedWith",
  "replaceWith",
  "aliasSpecs",
  "transforms",
  "invokeTransforms",
  "parameterization",
  "resourceHooks",
  "errorHooks",
]);

type Callback = (err: Error | null, response?: unknown) => void;
type Call = { request: any }; // eslint-disable-line @typescript-eslint/no-explicit-any

export function resourceMonitor(recording: Recording, stack: string, project: string) {
  // The engine's URN scheme: the parent's type chain (the root stack's type left out), then this
  // type and name.
  const urnOf = (parent: string, type: string, name: string) => {
    const parentType = parent ? parent.split("::")[2]! : "pulumi:pulumi:Stack";
    const qualified = parentType === "pulumi:pulumi:Stack" ? type : `${parentType}$${type}`;
    return `urn:pulumi:${stack}::${project}::${qualified}::${name}`;
  };

  const answered = {
    supportsFeature({ request }: Call, cb: Callback) {
      const id: string = request.getId();
      recording.features.push(id);
      const response = new resource.SupportsFeatureResponse();
      response.setHassupport(FEATURES.has(id));
      cb(null, response);
    },

    registerResource({ request }: Call, cb: Callback) {
      try {
        const captured = capturedFrom(request);
        const urn = urnOf(request.getParent(), captured.type, captured.name);
        captured.urn = urn;
        const wire = (request.getObject()?.toJavaScript() ?? {}) as Record<string, unknown>;
        recording.registrations.push(captured);
        recording.wireInputs.set(urn, wire);
        const fake = fakeOutputs({ type: captured.type, name: captured.name, inputs: wire, provider: request.getProvider(), custom: captured.custom, id: request.getImportid() }, captured.additionalSecretOutputs);
        const response = new resource.RegisterResourceResponse();
        response.setUrn(urn);
        // Components have no id; custom resources get the fake provider's.
        response.setId(captured.custom ? fake.id : "");
        response.setObject(struct.Struct.fromJavaScript(fake.state));
        cb(null, response);
      } catch (err) {
        cb(err as Error);
      }
    },

    registerResourceOutputs({ request }: Call, cb: Callback) {
      recording.outputs.set(request.getUrn(), (request.getOutputs()?.toJavaScript() ?? {}) as Record<string, unknown>);
      cb(null, new empty.Empty());
    },

    // The SDK's last call (a beforeExit hook): the engine answers once every RPC is done.
    signalAndWaitForShutdown(_call: Call, cb: Callback) {
      cb(null, new empty.Empty());
    },
  };

  return refuseTheRest("ResourceMonitor", resourceRpc.ResourceMonitorService, answered, recording, rpcError);
}

export const ResourceMonitorService = resourceRpc.ResourceMonitorService;
