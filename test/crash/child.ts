/** A long-lived child process for lock tests: its stdout lines as they come, and its exit. */
import { type ChildProcess, spawn } from "node:child_process"
import { root } from "../support/bundled.js"
import { program } from "./crash.js"

/** A child running `script args` (its `program`, compiled from the current sources), and its stdout lines as they come. */
export const startChild = async (
  script: string,
  args: ReadonlyArray<string>,
  env: Readonly<Record<string, string>> = {}
) => {
  const child = spawn(process.execPath, [await program(script), ...args], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env }
  })
  let out = ""
  let err = ""
  const waiting: Array<{ readonly prefix: string; readonly resolve: (line: string) => void }> = []
  const lines: Array<string> = []
  const check = () => {
    for (let i = 0; i < waiting.length; i++) {
      const w = waiting[i]
      if (w === undefined) continue
      const line = lines.find((l) => l.startsWith(w.prefix))
      if (line !== undefined) {
        waiting.splice(i--, 1)
        w.resolve(line)
      }
    }
  }
  child.stdout.on("data", (chunk: Buffer) => {
    out += chunk.toString("utf8")
    const parts = out.split("\n")
    out = parts.pop() ?? ""
    lines.push(...parts)
    check()
  })
  child.stderr.on("data", (chunk: Buffer) => {
    err += chunk.toString("utf8")
  })
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
  /** The first line starting with `prefix` (fails if the child exits first). */
  const line = (prefix: string): Promise<string> =>
    new Promise<string>((resolve, reject) => {
      waiting.push({ prefix, resolve })
      check()
      void exited.then(() =>
        setTimeout(() => reject(new Error(`child exited before "${prefix}": ${lines.join(" | ")} ${err}`)), 50)
      )
    })
  return { child: child as ChildProcess, line, exited, lines }
}
