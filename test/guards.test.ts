// Settings whose breakage shows in no normal run: a key rotation must not replace the VMs, the
// revert timer's default and bounds, the Ceph pool size against the hosts that carry OSDs.
// (The node side of the timer and the preflight threshold: test/node-scripts.test.ts.)
import { beforeAll, describe, expect, it } from "vitest";
import { validateConfig, type CollectiveSpec } from "../components/config/validate.js";
import { renderServices } from "../components/services/index.js";
import { stackValues, synth, synthFresh, toStackConfig, type Synth } from "./helpers.js";
import * as fs from "node:fs";
import * as path from "node:path";

const SECRETS = { sshPrivateKey: "<set>", proxmoxApiToken: "<set>" };
const VM = "proxmoxve:index/vmLegacy:VmLegacy";

/** Every leaf path (`a.b[0].c`) whose value differs between two input trees. */
function changedPaths(a: unknown, b: unknown, at = ""): string[] {
  if (typeof a === "object" && a !== null && typeof b === "object" && b !== null && Array.isArray(a) === Array.isArray(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].flatMap((k) => {
      const sub = Array.isArray(a) ? `${at}[${k}]` : at ? `${at}.${k}` : k;
      return changedPaths((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], sub);
    });
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [at];
}
const coveredBy = (path: string, ignored: readonly string[]) => ignored.some((i) => path === i || path.startsWith(`${i}.`) || path.startsWith(`${i}[`));

describe("a key rotation does not replace the VMs", () => {
  let before: Synth;
  let rotated: Synth;
  beforeAll(async () => {
    before = await synth("dev");
    const values = stackValues("dev");
    values.ssh.authorizedKeys = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAhjYWW3hiAdwq3kUSuDyw0YYJUQu+VhWdPFGSoAkWiE operator@new-laptop"];
    rotated = await synthFresh(toStackConfig("dev", values));
  });

  it("the new keys reach each VM's cloud-init only through inputs its ignoreChanges covers", () => {
    const vms = before.byType(VM);
    expect(vms.length).toBe(2);
    for (const vm of vms) {
      const after = rotated.byName(vm.name);
      const changed = changedPaths(vm.inputs, after.inputs);
      // control: the rotation does reach the VM's inputs (cloud-init user data carries the keys)
      expect(changed, vm.name).toContain("initialization.userAccount.keys[0]");
      expect(changed.filter((p) => !coveredBy(p, after.ignoreChanges)), `${vm.name}: changes Pulumi would act on`).toEqual([]);
      expect(after.ignoreChanges).toEqual(["initialization.userAccount"]);
    }
    // The VM's other cloud-init input, the host key snippet, does not move either.
    for (const snippet of before.byType("proxmoxve:index/fileLegacy:FileLegacy")) {
      expect(changedPaths(snippet.inputs, rotated.byName(snippet.name).inputs), snippet.name).toEqual([]);
    }
  });

  it("NixOS takes the new keys instead: each node's bundle changes and redeploys", () => {
    for (const vm of before.byType(VM)) {
      const node = vm.name.replace(/-vm-qemu$/, "");
      expect(rotated.byName(`${node}-nixos-activate`).inputs.triggers, node).not.toEqual(before.byName(`${node}-nixos-activate`).inputs.triggers);
    }
  });

  it("every VM of every committed stack carries the same ignoreChanges", async () => {
    for (const stack of ["staging", "prod"]) {
      for (const vm of (await synth(stack)).byType(VM)) expect(vm.ignoreChanges, `${stack} ${vm.name}`).toEqual(["initialization.userAccount"]);
    }
  });
});

describe("the revert timer (borg:rollout.confirmTimeoutSeconds)", () => {
  const timeoutOf = (rollout: Record<string, unknown> | undefined) => {
    const config: Record<string, any> = { ...stackValues("dev"), ...SECRETS };
    if (rollout === undefined) delete config.rollout;
    else config.rollout = rollout;
    const result = validateConfig(config);
    return result.ok ? result.spec.rollout.confirmTimeoutSeconds : result.problems;
  };

  it("defaults to 180 s", () => {
    expect(timeoutOf(undefined)).toBe(180);
    expect(timeoutOf({})).toBe(180);
  });

  it("accepts 30 to 3600 whole seconds, nothing else", () => {
    expect(timeoutOf({ confirmTimeoutSeconds: 30 })).toBe(30);
    expect(timeoutOf({ confirmTimeoutSeconds: 3600 })).toBe(3600);
    for (const bad of [29, 3601, 0, 90.5, "120"]) {
      const problems = timeoutOf({ confirmTimeoutSeconds: bad });
      expect(problems, String(bad)).toEqual([expect.stringMatching(/^borg:rollout\.confirmTimeoutSeconds: /)]);
    }
  });

  it("every node's activate.sh arms the timer with the stack's value, or the default", async () => {
    // dev sets 120, staging leaves the default, prod sets 180.
    const cases = [["dev", 120], ["staging", undefined], ["prod", 180]] as const;
    for (const [stack, configured] of cases) {
      expect(stackValues(stack).rollout?.confirmTimeoutSeconds, stack).toBe(configured);
      const s = await synth(stack);
      const activates = s.plan.resources.filter((r) => r.name.endsWith("-nixos-activate"));
      expect(activates.length, stack).toBeGreaterThan(1);
      for (const r of activates) expect(r.inputs.create, r.name).toMatch(new RegExp(`/activate\\.sh \\S+ [0-9a-f]{64} \\S+ ${configured ?? 180}$`));
    }
  });
});

describe("Ceph pool size vs the drones that carry an OSD disk", () => {
  /** The dev stack with `osd` Proxmox drones (each with an OSD disk) and `existing` existing hosts. */
  function specWith(osd: number, existing = 0, osdPoolSize?: number): CollectiveSpec | string[] {
    const config: Record<string, any> = { ...stackValues("dev"), ...SECRETS };
    delete config.services.ceph.osdPoolSize; // dev sets 1
    const template = config.drones[0];
    config.drones = [
      ...Array.from({ length: osd }, (_, i) => ({ ...template, name: `drone-${i + 1}`, vmId: 200 + i, address: `10.42.2.${20 + i}` })),
      ...Array.from({ length: existing }, (_, i) => ({
        name: `old-${i + 1}`,
        kind: "existing",
        address: `10.42.2.${40 + i}`,
        hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOpoqlsod4PeFbXKWJsJxKQSirK0kykMY5ZmJFVwSxsa",
      })),
    ];
    if (osdPoolSize !== undefined) config.services = { ...config.services, ceph: { ...config.services?.ceph, osdPoolSize } };
    const result = validateConfig(config);
    return result.ok ? result.spec : result.problems;
  }
  const poolSizes = (spec: CollectiveSpec | string[]) => {
    if (Array.isArray(spec)) throw new Error(spec.join("\n"));
    return [...new Set(spec.nodes.filter((n) => n.role !== "edge").map((n) => renderServices(spec, n).ceph.poolSize))];
  };

  it.each([
    [1, 0, 1],
    [2, 0, 2],
    [3, 0, 3],
    [4, 0, 3],
    [5, 0, 3],
    [2, 2, 2], // existing hosts carry no OSD disk: they do not count
  ])("%i OSD drone(s) and %i existing host(s): every node gets pool size %i", (osd, existing, want) => {
    expect(poolSizes(specWith(osd, existing))).toEqual([want]);
  });

  it("an explicit size up to the OSD drones is used; above them it is an error naming the count", () => {
    expect(poolSizes(specWith(3, 0, 2))).toEqual([2]);
    expect(poolSizes(specWith(2, 0, 2))).toEqual([2]);
    expect(specWith(2, 1, 3)).toEqual(["borg:services.ceph.osdPoolSize: is 3 but only 2 drone(s) carry an OSD disk"]);
    expect(specWith(4, 0, 4)).toEqual([expect.stringMatching(/^borg:services\.ceph\.osdPoolSize: /)]);
  });

  it("the size reaches each node's node.json", async () => {
    for (const [stack, want] of [["dev", 1], ["staging", 2], ["prod", 3]] as const) {
      const s = await synth(stack);
      for (const node of ["queen", "drone-1"]) {
        const json = JSON.parse(fs.readFileSync(path.join(s.outDir, "nodes", node, "node.json"), "utf8"));
        expect(json.services.ceph.poolSize, `${stack} ${node}`).toBe(want);
      }
    }
  });
});
