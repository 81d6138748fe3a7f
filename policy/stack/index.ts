// Stack rules over all resources: odd quorums, pinned versions, the deploy rollback guard.
import type { StackValidationPolicy } from "@pulumi/policy";
import { stackOddQuorum } from "./oddQuorum";
import { stackPinnedVersions } from "./pinnedVersions";
import { stackRollbackGuard } from "./rollbackGuard";

export const stackPolicies: StackValidationPolicy[] = [stackOddQuorum, stackPinnedVersions, stackRollbackGuard];
