import { defineConfig } from "vitest/config";

// One runner for every tier. Unit tests live beside the code (src/**/*.test.ts);
// integration and end-to-end tests live under test/src. Real processes (llama.cpp,
// nats-server, kube-apiserver) make some tests slow, hence the generous timeouts.
export default defineConfig({
  test: {
    include: [
      "packages/*/src/**/*.test.ts",
      "services/*/src/**/*.test.ts",
      "bench/src/**/*.test.ts",
      "cli/src/**/*.test.ts",
      "test/src/**/*.test.ts",
    ],
    exclude: ["**/node_modules/**", "**/dist/**"],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    pool: "forks",
    reporters: ["default"],
  },
});
