// NATS / MQTT rules over node settings (NixosHost nodeConfig) and broker files in ConfigMaps.
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { brokerHashedPasswords } from "./hashedPasswords";
import { brokerNoAnonymous } from "./noAnonymous";
import { brokerTls } from "./tls";
import { mqttAclPerUser } from "./mqttAclPerUser";
import { natsUserPermissions } from "./natsUserPermissions";

export const messagingPolicies: ResourceValidationPolicy[] = [brokerNoAnonymous, brokerTls, brokerHashedPasswords, mqttAclPerUser, natsUserPermissions];
