// The CrossGuard pack: only wraps the policies. Levels come from --policy-pack-config
// (config/<stack>.json); without one, every policy is advisory.
import { PolicyPack } from "@pulumi/policy";
import { allPolicies } from "./policies";

new PolicyPack("borg-collective", { enforcementLevel: "advisory", policies: allPolicies });
