/** Client processes of the proofs (proof-child.ts), spawned as the workspace runs its sources. */
import * as Source from "@calybris/testing/Source"
import { type ChildProcess, spawn } from "node:child_process"
import * as path from "node:path"

const root = path.resolve(import.meta.dirname, "..", "..", "..", "..")
const script = path.join(import.meta.dirname, "proof-child.ts")

/** The children still running (a test that fails midway ends them: `endChildren`). */
const running = new Set<ChildProcess>()

/** SIGKILL every child still running (each by its own process). */
export const endChildren = (): void => {
  for (const child of running) child.kill("SIGKILL")
}

export interface Exited {
  readonly child: number
  readonly code: number | null
  readonly stderr: string
}

/** Start child `child` (see proof-child.ts for the arguments): resolves when it exits. */
export const runChild = (
  child: number,
  args: { readonly url: string; readonly ops: number; readonly log: string; readonly tenants: ReadonlyArray<string> },
  patienceMs = 60_000
): Promise<Exited> =>
  new Promise((resolve, reject) => {
    const process_ = spawn(
      process.execPath,
      [
        ...Source.nodeArgs,
        script,
        args.url,
        String(child),
        String(args.ops),
        args.log,
        args.tenants.join(","),
        String(patienceMs)
      ],
      { cwd: root, stdio: ["ignore", "ignore", "pipe"] }
    )
    running.add(process_)
    let stderr = ""
    process_.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")))
    process_.on("error", reject)
    process_.on("close", (code) => {
      running.delete(process_)
      resolve({ child, code, stderr })
    })
  })
