// The pull-request workflow parses and names only stacks, configs and paths that exist.
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { PROJECT_ROOT } from "../components/bundle.js";

const workflow = parse(fs.readFileSync(path.join(PROJECT_ROOT, ".github", "workflows", "preview.yml"), "utf8"));
const exists = (rel: string) => fs.existsSync(path.join(PROJECT_ROOT, rel));
const committedStacks = fs
  .readdirSync(path.join(PROJECT_ROOT, "stacks"))
  .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
  .filter((s): s is string => Boolean(s))
  .sort();

describe(".github/workflows/preview.yml", () => {
  it("runs on pull requests with test, synth and preview jobs", () => {
    expect(Object.keys(workflow.on)).toEqual(["pull_request"]);
    expect(Object.keys(workflow.jobs).sort()).toEqual(["preview", "synth", "test"]);
    const testSteps = workflow.jobs.test.steps.map((s: { run?: string }) => s.run).filter(Boolean);
    expect(testSteps).toContain("npm ci");
    expect(testSteps.some((r: string) => /^sudo -E env "PATH=\$PATH" npm test$/.test(r))).toBe(true);
  });

  it.each(["synth", "preview"])("the %s matrix covers exactly the committed stacks", (job) => {
    expect([...workflow.jobs[job].strategy.matrix.stack].sort()).toEqual(committedStacks);
    for (const stack of workflow.jobs[job].strategy.matrix.stack) {
      expect(exists(`stacks/Pulumi.${stack}.yaml`), stack).toBe(true);
      expect(exists(`policy/config/${stack}.json`), stack).toBe(true);
    }
  });

  it("uploads each stack's synth plan", () => {
    const steps = workflow.jobs.synth.steps;
    expect(steps.some((s: { run?: string }) => s.run === "npm run synth -- ${{ matrix.stack }} --out out")).toBe(true);
    const upload = steps.find((s: { uses?: string }) => s.uses?.startsWith("actions/upload-artifact@"));
    expect(upload.with.path).toBe("out/${{ matrix.stack }}");
  });

  it("grants PR-comment rights only to the preview job, which runs behind a reviewed environment", () => {
    expect(workflow.permissions).toEqual({ contents: "read" });
    expect(workflow.jobs.preview.permissions).toEqual({ contents: "read", "pull-requests": "write" });
    expect(workflow.jobs.preview.environment).toBe("lab-preview");
  });

  it("previews each stack with diff, a PR comment, the policy pack and that stack's policy config", () => {
    const step = workflow.jobs.preview.steps.find((s: { uses?: string }) => s.uses?.startsWith("pulumi/actions@"));
    expect(Number(step.uses.split("@v")[1])).toBeGreaterThanOrEqual(6);
    expect(step.with).toMatchObject({
      command: "preview",
      "stack-name": "${{ matrix.stack }}",
      diff: true,
      "comment-on-pr": true,
      policyPacks: "policy",
      policyPackConfigs: "policy/config/${{ matrix.stack }}.json",
      "cloud-url": "${{ secrets.PULUMI_BACKEND_URL }}",
    });
    expect(step.env.PULUMI_CONFIG_PASSPHRASE).toBe("${{ secrets.PULUMI_CONFIG_PASSPHRASE }}");
    expect(exists(`${step.with.policyPacks}/PulumiPolicy.yaml`)).toBe(true);
  });

  it("every local path a step uses exists", () => {
    const text = JSON.stringify(workflow);
    for (const rel of text.match(/\b(?:policy|stacks|out)\/[^\s"$]*/g) ?? []) {
      if (rel.startsWith("out/")) continue; // produced by the job itself
      expect(exists(rel.replace(/\/$/, "")) || rel.endsWith("/"), rel).toBe(true);
    }
  });
});
