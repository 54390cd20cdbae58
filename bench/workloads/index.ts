/** Every registered workload, in the order of REFERENCE.md's groups. */
import type { Workload } from "../registry.js"
import { budgetWorkloads } from "./budget.js"
import { core } from "./core.js"
import { walWorkloads } from "./wal.js"

export const workloads: ReadonlyArray<Workload> = [...core, ...walWorkloads, ...budgetWorkloads]
