// FC_NUM_RUNS=10000 pnpm test runs every property test at that many cases.
import * as fc from "effect/FastCheck"

const runs = Number(process.env["FC_NUM_RUNS"] ?? "")
if (Number.isSafeInteger(runs) && runs > 0) fc.configureGlobal({ numRuns: runs })
