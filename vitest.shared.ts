import { defineProject } from "vitest/config"

/**
 * The workspace's packages resolve to their TypeScript sources: every package's `exports` names
 * them under the `@calybris/source` condition first (a consumer of the published packages, which
 * does not set it, gets `dist`). A Node process a test starts (`@calybris/testing/Source`) and
 * tsx in the root scripts (`--conditions=@calybris/source`) set it too. After it come Vite's
 * default server conditions, which `vitest/config` does not re-export.
 */
const conditions = ["@calybris/source", "module", "node", "development|production"]

/** Vite's resolution of the workspace's packages to their sources, for every project. */
export const sourceResolution = {
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ["@calybris/source"] } }
}

/** Settings every vitest project shares (`globalSetup`: e.g. `[postgresSetup]` for PostgreSQL tests). */
export const project = (name: string, options: { readonly globalSetup?: ReadonlyArray<string> } = {}) =>
  defineProject({
    ...sourceResolution,
    test: {
      name,
      include: ["test/**/*.test.ts"],
      setupFiles: [new URL("./vitest.setup.ts", import.meta.url).pathname],
      ...(options.globalSetup === undefined ? {} : { globalSetup: [...options.globalSetup] }),
      testTimeout: 120_000,
      hookTimeout: 120_000
    }
  })

/**
 * The globalSetup of a project with PostgreSQL tests (`test.globalSetup: [postgresSetup]`): it gives the
 * tests `CALYBRIS_TEST_DATABASE_URL`, starting a throwaway cluster when it is unset (see
 * packages/testing/src/PostgresSetup.ts); every project listing it shares one server.
 */
export const postgresSetup = new URL("./packages/testing/src/PostgresSetup.ts", import.meta.url).pathname
