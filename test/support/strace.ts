/**
 * Reading an `strace -f -qq` trace (`-e trace=openat,fsync,fdatasync,rename,mkdir,ftruncate`)
 * into the events the durability tests order: which file or directory each fsync and truncate was
 * on (by the path its descriptor was opened with), renames and mkdirs, in the order the calls
 * began. Tests skip where strace is absent (`hasStrace`).
 */
import { spawnSync } from "node:child_process"

export const hasStrace = spawnSync("strace", ["-V"]).status === 0

export type Event =
  | { readonly kind: "fsync"; readonly path: string }
  | { readonly kind: "truncate"; readonly path: string; readonly length: number }
  | { readonly kind: "rename"; readonly from: string; readonly to: string }
  | { readonly kind: "mkdir"; readonly path: string }

/** The trace's events, in order (one process: its threads share the descriptors). */
export const events = (trace: string): Array<Event> => {
  const fds = new Map<string, string>() // fd -> path
  const pendingOpen = new Map<string, string>() // tid -> path of an openat not yet resumed
  const out: Array<Event> = []
  for (const raw of trace.split("\n")) {
    const m = /^(\d+) +(.*)$/.exec(raw)
    if (m === null) continue
    const tid = m[1] as string
    const line = m[2] as string
    const opened = /^openat\(AT_FDCWD, "([^"]+)", [^)]*\)(?: += (\d+))?/.exec(line)
    if (opened !== null) {
      if (opened[2] !== undefined) fds.set(opened[2], opened[1] as string)
      else pendingOpen.set(tid, opened[1] as string)
      continue
    }
    if (/^openat\(AT_FDCWD, "([^"]+)".*<unfinished/.test(line)) {
      pendingOpen.set(tid, (/"([^"]+)"/.exec(line) as RegExpExecArray)[1] as string)
      continue
    }
    const resumed = /^<\.\.\. openat resumed>.* = (\d+)/.exec(line)
    if (resumed !== null) {
      const p = pendingOpen.get(tid)
      if (p !== undefined) fds.set(resumed[1] as string, p)
      pendingOpen.delete(tid)
      continue
    }
    const synced = /^f(?:data)?sync\((\d+)/.exec(line)
    if (synced !== null) {
      const p = fds.get(synced[1] as string)
      if (p !== undefined) out.push({ kind: "fsync", path: p })
      continue
    }
    const truncated = /^ftruncate\((\d+), (\d+)/.exec(line)
    if (truncated !== null) {
      const p = fds.get(truncated[1] as string)
      if (p !== undefined) out.push({ kind: "truncate", path: p, length: Number(truncated[2]) })
      continue
    }
    const renamed = /^rename\("([^"]+)", "([^"]+)"\) = 0/.exec(line)
    if (renamed !== null) out.push({ kind: "rename", from: renamed[1] as string, to: renamed[2] as string })
    const made = /^mkdir\("([^"]+)", \d+\) = 0/.exec(line)
    if (made !== null) out.push({ kind: "mkdir", path: made[1] as string })
  }
  return out
}
