// Runs the policy pack's policies (never the pack itself: its constructor starts a server) over a
// captured plan, with the same per-stack enforcement config the CLI takes (--policy-pack-config),
// read and checked by ./policyConfig.ts with the engine's semantics.
import type { PolicyResource, ResourceValidationArgs, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import type { ExemptionSink } from "../../policy/lib/define.ts";
import { assertPolicyConfig, levelOf, policyConfig, type EnforcementConfig, type Policy } from "./policyConfig.js";

export { levelOf, loadPolicyConfig, policyConfig, PolicyConfigError, type EnforcementConfig, type Policy } from "./policyConfig.js";

/** The fields of a plan resource the policies read (plan.json `resources[]` or a fixture). */
export interface PlanResource {
  urn: string;
  type: string;
  name: string;
  parent?: string | null;
  dependencies?: string[];
  provider?: string | null;
  protect?: boolean;
  ignoreChanges?: string[];
  additionalSecretOutputs?: string[];
  inputs: Record<string, unknown>;
}

export interface Violation {
  policy: string;
  level: "mandatory" | "advisory";
  urn?: string;
  resource?: string;
  type?: string;
  message: string;
}

export interface PolicyReport {
  violations: Violation[];
  /** Exemptions that applied, with their reasons. */
  exemptions: { policy: string; resource: string; reason: string }[];
  /** Policies run (not disabled). */
  ran: string[];
}

class NotApplicable extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

const isResourcePolicy = (p: Policy): p is ResourceValidationPolicy => "validateResource" in p;

const typeToken = (cls: unknown): string | undefined => (cls as { __pulumiType?: string }).__pulumiType;
const matchesType = (type: string, cls: unknown) => {
  const token = typeToken(cls);
  return token !== undefined && (type === token || type === `pulumi:providers:${token}`);
};

function toPolicyResource(r: PlanResource, byUrn: Map<string, PlanResource>, seen = new Map<string, PolicyResource>()): PolicyResource {
  const existing = seen.get(r.urn);
  if (existing) return existing;
  const resource = {
    type: r.type,
    props: r.inputs,
    urn: r.urn,
    name: r.name,
    opts: optsOf(r),
    dependencies: [] as PolicyResource[],
    propertyDependencies: {},
    isType: (cls: unknown) => matchesType(r.type, cls),
    asType: (cls: unknown) => (matchesType(r.type, cls) ? r.inputs : undefined),
  } as unknown as PolicyResource & { parent?: PolicyResource };
  seen.set(r.urn, resource);
  const parent = r.parent ? byUrn.get(r.parent) : undefined;
  if (parent) resource.parent = toPolicyResource(parent, byUrn, seen);
  for (const dep of r.dependencies ?? []) {
    const target = byUrn.get(dep);
    if (target) resource.dependencies.push(toPolicyResource(target, byUrn, seen));
  }
  return resource;
}

function optsOf(r: PlanResource) {
  return {
    protect: r.protect ?? false,
    ignoreChanges: r.ignoreChanges ?? [],
    aliases: [],
    customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
    additionalSecretOutputs: r.additionalSecretOutputs ?? [],
    ...(r.parent ? { parent: r.parent } : {}),
  };
}

export interface SingleRun {
  violations: string[];
  notApplicable?: string;
}

/** One resource policy on one resource: what it reported, or why it did not apply. */
export async function runResourcePolicy(policy: ResourceValidationPolicy, resource: PlanResource, config: EnforcementConfig = {}): Promise<SingleRun> {
  const violations: string[] = [];
  const args = {
    type: resource.type,
    props: resource.inputs,
    urn: resource.urn,
    name: resource.name,
    opts: optsOf(resource),
    stackTags: new Map<string, string>(),
    isType: (cls: unknown) => matchesType(resource.type, cls),
    asType: (cls: unknown) => (matchesType(resource.type, cls) ? resource.inputs : undefined),
    getConfig: () => policyConfig(policy, config),
    notApplicable: (reason?: string): never => {
      throw new NotApplicable(reason ?? "not applicable");
    },
  } as unknown as ResourceValidationArgs;
  const validations = (Array.isArray(policy.validateResource) ? policy.validateResource : [policy.validateResource]).filter((v) => v !== undefined);
  try {
    for (const validate of validations) await validate(args, (message) => violations.push(message));
  } catch (err) {
    if (err instanceof NotApplicable) return { violations, notApplicable: err.reason };
    throw err;
  }
  return { violations };
}

export interface StackRun {
  violations: { message: string; urn?: string }[];
  /** Findings left out by an exemption, with its reason (absent when none was). */
  exempted?: { resource: string; reason: string }[];
  notApplicable?: string;
}

/** One stack policy over a set of resources. */
export async function runStackPolicy(policy: StackValidationPolicy, resources: readonly PlanResource[], config: EnforcementConfig = {}): Promise<StackRun> {
  const byUrn = new Map(resources.map((r) => [r.urn, r]));
  const seen = new Map<string, PolicyResource>();
  const violations: StackRun["violations"] = [];
  const exempted: NonNullable<StackRun["exempted"]> = [];
  const args: ExemptionSink & Record<string, unknown> = {
    resources: resources.map((r) => toPolicyResource(r, byUrn, seen)),
    stackTags: new Map<string, string>(),
    getConfig: () => policyConfig(policy, config),
    notApplicable: (reason?: string): never => {
      throw new NotApplicable(reason ?? "not applicable");
    },
    exempted: (resource, reason) => exempted.push({ resource: resource.name, reason }),
  };
  const run = (): StackRun => ({ violations, ...(exempted.length > 0 ? { exempted } : {}) });
  try {
    await policy.validateStack(args as never, (message, urn) => violations.push({ message, ...(urn ? { urn } : {}) }));
  } catch (err) {
    if (err instanceof NotApplicable) return { ...run(), notApplicable: err.reason };
    throw err;
  }
  return run();
}

/**
 * Every policy over every resource, at the levels `config` sets; throws PolicyConfigError before
 * running anything when the config is not valid.
 */
export async function runPolicies(policies: readonly Policy[], resources: readonly PlanResource[], config: EnforcementConfig): Promise<PolicyReport> {
  assertPolicyConfig(config, policies);
  const report: PolicyReport = { violations: [], exemptions: [], ran: [] };
  const byUrn = new Map(resources.map((r) => [r.urn, r]));
  for (const policy of policies) {
    const level = levelOf(policy, config);
    if (level === "disabled") continue;
    report.ran.push(policy.name);
    // The engine reports a violation of a rule at "remediate" as mandatory (none of ours remediates).
    const severity = level === "advisory" ? "advisory" : "mandatory";
    if (isResourcePolicy(policy)) {
      for (const resource of resources) {
        const run = await runResourcePolicy(policy, resource, config);
        if (run.notApplicable?.startsWith("exempt: ")) report.exemptions.push({ policy: policy.name, resource: resource.name, reason: run.notApplicable.slice(8) });
        for (const message of run.violations) report.violations.push({ policy: policy.name, level: severity, urn: resource.urn, resource: resource.name, type: resource.type, message });
      }
    } else {
      const run = await runStackPolicy(policy, resources, config);
      for (const e of run.exempted ?? []) report.exemptions.push({ policy: policy.name, ...e });
      for (const v of run.violations) {
        const at = v.urn ? byUrn.get(v.urn) : undefined;
        report.violations.push({ policy: policy.name, level: severity, message: v.message, ...(at ? { urn: at.urn, resource: at.name, type: at.type } : {}) });
      }
    }
  }
  return report;
}

/** Violations grouped by policy, mandatory first: what synth and `npm run policy` print. */
export function renderReport(report: PolicyReport): string {
  const lines: string[] = [];
  const byPolicy = new Map<string, Violation[]>();
  for (const v of report.violations) byPolicy.set(v.policy, [...(byPolicy.get(v.policy) ?? []), v]);
  const order = [...byPolicy.entries()].sort(([, a], [, b]) => (a[0]!.level === b[0]!.level ? 0 : a[0]!.level === "mandatory" ? -1 : 1));
  for (const [policy, violations] of order) {
    lines.push(`${violations[0]!.level.toUpperCase()}  ${policy}  (${violations.length})`);
    for (const v of violations) lines.push(`  - ${v.message}`);
  }
  for (const e of report.exemptions) lines.push(`EXEMPT  ${e.policy}: ${e.resource} — ${e.reason}`);
  const mandatory = report.violations.filter((v) => v.level === "mandatory").length;
  lines.push(`policies: ${report.ran.length} run, ${mandatory} mandatory and ${report.violations.length - mandatory} advisory violation(s)`);
  return lines.join("\n");
}
