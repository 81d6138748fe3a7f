// The Kubernetes policies of the pack, in the order reports list them: the pod security rules first
// (README "Pod Security Standards" maps them to the upstream controls), then images, resources,
// services, RBAC and Helm.
import type { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { defaultProcMount } from "./defaultProcMount";
import { dropAllCapabilities } from "./dropAllCapabilities";
import { imageDigest } from "./imageDigest";
import { imageExplicitTag } from "./imageExplicitTag";
import { ingressTls } from "./ingressTls";
import { namespaceNetworkPolicy } from "./namespaceNetworkPolicy";
import { noAlphaBetaApis } from "./noAlphaBetaApis";
import { noAppArmorUnconfined } from "./noAppArmorUnconfined";
import { noAutomountServiceAccountToken } from "./noAutomountServiceAccountToken";
import { noBarePods } from "./noBarePods";
import { noClusterAdminBinding } from "./noClusterAdminBinding";
import { noHelmRelease } from "./noHelmRelease";
import { noHostNamespaces } from "./noHostNamespaces";
import { noHostPathVolumes } from "./noHostPathVolumes";
import { noHostPorts } from "./noHostPorts";
import { noHostProcess } from "./noHostProcess";
import { noPrivilegedContainers } from "./noPrivilegedContainers";
import { noPrivilegeEscalation } from "./noPrivilegeEscalation";
import { noProbeHost } from "./noProbeHost";
import { noRbacWildcards } from "./noRbacWildcards";
import { noRootGroup } from "./noRootGroup";
import { noSecretEnvLiterals } from "./noSecretEnvLiterals";
import { readOnlyRootFilesystem } from "./readOnlyRootFilesystem";
import { resourceRequestsLimits } from "./resourceRequestsLimits";
import { restrictedVolumeTypes } from "./restrictedVolumeTypes";
import { runAsNonRoot } from "./runAsNonRoot";
import { safeSysctls } from "./safeSysctls";
import { seccompRuntimeDefault } from "./seccompRuntimeDefault";
import { seLinuxContainerTypes } from "./seLinuxContainerTypes";
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
  noHostProcess,
  noAppArmorUnconfined,
  seLinuxContainerTypes,
  defaultProcMount,
  safeSysctls,
  noProbeHost,
  restrictedVolumeTypes,
  noRootGroup,
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
