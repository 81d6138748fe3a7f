// Prints the NATS stream provider exactly as pulumi.dynamic.Resource serializes it when the
// program runs under the language host (`node --import tsx`, Pulumi.yaml's nodeargs): the text a
// real `pulumi up` ships to the dynamic-provider host as `__provider`.
import { runtime } from "@pulumi/pulumi";
import { STREAM_PROVIDER } from "../../components/services/natsService.js";

process.stdout.write((await runtime.serializeFunction(() => STREAM_PROVIDER, { allowSecrets: true })).text);
