import { defineProject } from "vitest/config"

/** Settings every vitest project shares. */
export const project = (name: string) =>
  defineProject({
    test: {
      name,
      include: ["test/**/*.test.ts"],
      setupFiles: [new URL("./vitest.setup.ts", import.meta.url).pathname],
      testTimeout: 120_000,
      hookTimeout: 120_000
    }
  })
