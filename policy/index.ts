// The CrossGuard pack: only wraps the policies. Levels come from --policy-pack-config
// (config/<stack>.json); without one, every policy is advisory.
import { PolicyPack } from "@pulumi/policy";
import { allPolicies, PACK_ENFORCEMENT_LEVEL } from "./policies";

new PolicyPack("borg-collective", { enforcementLevel: PACK_ENFORCEMENT_LEVEL, policies: allPolicies });
