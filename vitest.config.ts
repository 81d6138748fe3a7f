import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/global-setup.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Each file runs the Pulumi SDK under mocks in its own process: the SDK keeps global state.
    pool: "forks",
    // Every nix command the tests run only evaluates: no daemon, no build users and a dummy store,
    // so it needs no writable /nix and the suite passes as any user.
    env: { NIX_CONFIG: "store = dummy://\nbuild-users-group =" },
  },
});
