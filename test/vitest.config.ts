import { defineProject } from "vitest/config"
import { sourceResolution } from "../vitest.shared.js"

export default defineProject({
  ...sourceResolution,
  test: {
    name: "integration",
    include: ["**/*.test.ts"],
    setupFiles: [new URL("../vitest.setup.ts", import.meta.url).pathname],
    exclude: ["**/node_modules/**", "build/**", "postgres/**"],
    testTimeout: 300_000,
    hookTimeout: 300_000
  }
})
