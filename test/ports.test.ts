// The ports table (nix/lib/ports.json) is the one source of what nodes open: the program derives
// each node's rules from its roles, the NixOS modules look ports up by name (nix/lib/ports.nix),
// and the README shows the same table.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../components/bundle.js";
import { firewallRules, PORT_TABLE, portsMarkdown } from "../components/services/ports.js";

const nixEval = (expr: string) =>
  JSON.parse(execFileSync("nix-instantiate", ["--option", "build-users-group", "", "--eval", "--strict", "--json", "-E", expr], { encoding: "utf8", stdio: "pipe" }));
const portsNix = path.join(PROJECT_ROOT, "nix", "lib", "ports.nix");

describe("the ports table", () => {
  it("has unique names, valid ports and ranges, and a scope and purpose for each", () => {
    expect(new Set(PORT_TABLE.map((p) => p.name)).size).toBe(PORT_TABLE.length);
    for (const p of PORT_TABLE) {
      expect(p.port, p.name).toBeGreaterThan(0);
      expect(p.to ?? p.port, p.name).toBeGreaterThanOrEqual(p.port);
      expect((p.to ?? p.port) <= 65535, p.name).toBe(true);
      expect(["lan", "cluster"]).toContain(p.scope);
      expect(p.roles.length, p.name).toBeGreaterThan(0);
      expect(p.purpose.length, p.name).toBeGreaterThan(5);
    }
  });

  it("the Nix side looks up the same numbers by name, and refuses an unknown name", () => {
    const fromNix = nixEval(`let p = import ${JSON.stringify(portsNix)}; in map (e: { name = e.name; port = p.port e.name; }) p.table`);
    expect(fromNix).toEqual(PORT_TABLE.map((p) => ({ name: p.name, port: p.port })));
    expect(() => nixEval(`(import ${JSON.stringify(portsNix)}).port "telnet"`)).toThrow(/ports.json has no port named telnet/);
  });

  it("a set of roles opens exactly its rows, once each", () => {
    expect(firewallRules(["ssh"])).toEqual([{ name: "ssh", protocol: "tcp", from: 22, to: 22, scope: "lan" }]);
    const both = firewallRules(["ceph-mgr", "ceph-osd"]);
    expect(both.filter((r) => r.name === "ceph-daemons")).toEqual([{ name: "ceph-daemons", protocol: "tcp", from: 6800, to: 7300, scope: "cluster" }]);
    expect(both).toHaveLength(1);
    expect(firewallRules([])).toEqual([]);
  });

  it("README shows the table as it is", () => {
    expect(fs.readFileSync(path.join(PROJECT_ROOT, "README.md"), "utf8")).toContain(portsMarkdown());
  });
});
