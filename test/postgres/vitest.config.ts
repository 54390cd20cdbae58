import { defineProject } from "vitest/config"
import { postgresSetup, sourceResolution } from "../../vitest.shared.js"

/** The tests on a real PostgreSQL server (the integration project leaves this folder to it). */
export default defineProject({
  ...sourceResolution,
  test: {
    name: "postgres",
    include: ["**/*.test.ts"],
    setupFiles: [new URL("../../vitest.setup.ts", import.meta.url).pathname],
    globalSetup: [postgresSetup],
    testTimeout: 300_000,
    hookTimeout: 300_000
  }
})
