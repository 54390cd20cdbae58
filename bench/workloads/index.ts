/**
 * Every registered workload, by group, in the order of REFERENCE.md. Each group's module is
 * loaded on demand, so a child process measuring a core workload never loads the WAL or
 * budget packages (nor runs their module set-up).
 */
import type { Workload } from "../registry.js"

export const groups: ReadonlyArray<() => Promise<ReadonlyArray<Workload>>> = [
  () => import("./core.js").then((m) => m.core),
  () => import("./wal.js").then((m) => m.walWorkloads),
  () => import("./budget.js").then((m) => m.budgetWorkloads),
  () => import("./budgetPg.js").then((m) => m.budgetPgWorkloads),
  () => import("./cli.js").then((m) => m.cliWorkloads),
  () => import("./tlog.js").then((m) => m.tlogWorkloads),
  () => import("./tlogAppend.js").then((m) => m.tlogAppendWorkloads)
]

/** All workloads (loads every group). */
export const loadAll = async (): Promise<ReadonlyArray<Workload>> =>
  (await Promise.all(groups.map((load) => load()))).flat()

/** The workload of that name, loading groups in order only until it is found. */
export const find = async (name: string): Promise<Workload | undefined> => {
  for (const load of groups) {
    const found = (await load()).find((w) => w.name === name)
    if (found !== undefined) return found
  }
  return undefined
}
