// The Kubernetes policies of the pack, in the order reports list them.
import type { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { dropAllCapabilities } from "./dropAllCapabilities";
import { imageDigest } from "./imageDigest";
import { imageExplicitTag } from "./imageExplicitTag";
import { ingressTls } from "./ingressTls";
import { namespaceNetworkPolicy } from "./namespaceNetworkPolicy";
import { noAlphaBetaApis } from "./noAlphaBetaApis";
import { noAutomountServiceAccountToken } from "./noAutomountServiceAccountToken";
import { noBarePods } from "./noBarePods";
import { noClusterAdminBinding } from "./noClusterAdminBinding";
import { noHelmRelease } from "./noHelmRelease";
import { noHostNamespaces } from "./noHostNamespaces";
import { noHostPathVolumes } from "./noHostPathVolumes";
import { noHostPorts } from "./noHostPorts";
import { noPrivilegedContainers } from "./noPrivilegedContainers";
import { noPrivilegeEscalation } from "./noPrivilegeEscalation";
import { noRbacWildcards } from "./noRbacWildcards";
import { noSecretEnvLiterals } from "./noSecretEnvLiterals";
import { readOnlyRootFilesystem } from "./readOnlyRootFilesystem";
import { resourceRequestsLimits } from "./resourceRequestsLimits";
import { runAsNonRoot } from "./runAsNonRoot";
import { seccompRuntimeDefault } from "./seccompRuntimeDefault";
import { serviceTypeAllowlist } from "./serviceTypeAllowlist";

export const kubernetesPolicies: Array<ResourceValidationPolicy | StackValidationPolicy> = [
  noPrivilegedContainers,
  noPrivilegeEscalation,
  runAsNonRoot,
  readOnlyRootFilesystem,
  dropAllCapabilities,
  noHostNamespaces,
  noHostPathVolumes,
  noHostPorts,
  seccompRuntimeDefault,
  imageExplicitTag,
  imageDigest,
  resourceRequestsLimits,
  noAutomountServiceAccountToken,
  noSecretEnvLiterals,
  noBarePods,
  noAlphaBetaApis,
  serviceTypeAllowlist,
  ingressTls,
  namespaceNetworkPolicy,
  noRbacWildcards,
  noClusterAdminBinding,
  noHelmRelease,
];
