// Run before every test file (vitest.shared.ts's `setupFiles`).
import { afterAll, it } from "@effect/vitest"
import * as fc from "effect/FastCheck"
import * as TempDir from "./packages/testing/src/TempDir.js"

// The temporary folders the file made (`@calybris/testing/TempDir`) are removed after it: an
// `afterAll` here is the file's own (this file runs again before each file), where one that a
// shared support module registers when first imported belongs only to the first file of the process.
afterAll(TempDir.removeAll)

// FC_NUM_RUNS=10000 pnpm test runs every property test at that many cases.
const runs = Number(process.env["FC_NUM_RUNS"] ?? "")
if (Number.isSafeInteger(runs) && runs > 0) fc.configureGlobal({ numRuns: runs })

// @effect/vitest's `layer(L)(…)` replaces the methods of the one shared `it` (`effect`, `scoped`,
// `prop`, `flakyTest`, `layer`) with ones that run each test inside L's runtime, and never puts them
// back. Test files share a process (`isolate: false`, vitest.config.ts), so a file's plain
// `it.effect` and `it.scoped` tests ran inside whichever layer the previous file in that process
// built last: its services, its closed scope (found when an unkeyed ledger in LedgerPg.wiring
// wrote its journal with PgJournal.test's key). Each file starts from the methods as they were
// before any test file ran, saved by the first run of this file in the process.
const saved = Symbol.for("@calybris/test/effect-vitest-it")
const store = globalThis as { [saved]?: Partial<typeof it> }
store[saved] ??= {
  effect: it.effect,
  scoped: it.scoped,
  live: it.live,
  scopedLive: it.scopedLive,
  prop: it.prop,
  flakyTest: it.flakyTest,
  layer: it.layer
}
Object.assign(it, store[saved])
