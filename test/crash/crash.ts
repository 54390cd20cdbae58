/** Helpers for crash tests: spawn a child, collect its ACK lines, kill it with SIGKILL. */
import { spawn } from "node:child_process"
import * as path from "node:path"
import * as Bundle from "../../packages/cli/scripts/bundle.mjs"
import { cachedBundle, root } from "../support/bundled.js"

/**
 * The child program `script` (relative to the repository root) compiled from the current sources
 * (`test/support/bundled.ts`: plain node starts it in ~0.3 s, tsx in ~1.6 s).
 */
export const program = (script: string): Promise<string> =>
  cachedBundle(
    `crash-${path.basename(script, ".ts")}`,
    [import.meta.dirname],
    (outdir) => Bundle.bundleProgram(path.join(root, script), outdir)
  )

export interface Killed {
  readonly acks: Array<string>
  readonly stderr: string
  readonly exitedEarly: boolean
}

/** Run `script args` (its `program`); SIGKILL it after `afterMs` (once it acknowledged something, or at `deadlineMs`). */
export const runAndKill = async (script: string, args: ReadonlyArray<string>, afterMs: number, deadlineMs = 20_000) => {
  const entry = await program(script)
  return new Promise<Killed>((resolve) => {
    const child = spawn(process.execPath, [entry, ...args], {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"]
    })
    let out = ""
    let err = ""
    let exited = false
    let armed = false
    const arm = () => {
      if (armed) return
      armed = true
      setTimeout(() => child.kill("SIGKILL"), afterMs)
    }
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString("utf8")
      if (out.includes("\n")) arm()
    })
    child.stderr.on("data", (chunk: Buffer) => {
      err += chunk.toString("utf8")
    })
    const deadline = setTimeout(() => child.kill("SIGKILL"), deadlineMs)
    // on "close", not "exit": the output still in the pipe when the child died is read first (an
    // acknowledgement lost there would make the recovered state look ahead of what was acknowledged)
    child.on("close", (code) => {
      exited = code !== null
      clearTimeout(deadline)
      // only complete lines were acknowledged
      const lines = out.split("\n")
      lines.pop()
      resolve({ acks: lines.filter((l) => l.startsWith("ACK ")), stderr: err, exitedEarly: exited })
    })
  })
}

/** A deterministic pseudo-random sequence (xorshift) for kill times. */
export const prng = (seed: number) => {
  let x = seed >>> 0 || 1
  return (max: number) => {
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    return x % max
  }
}
