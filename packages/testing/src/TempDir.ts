/**
 * Temporary folders a test file makes, removed after it: `make(prefix)` creates
 * `<os.tmpdir()>/<prefix>XXXXXX` and registers it; `removeAll()` (run after every test file by
 * vitest.setup.ts's `afterAll`) removes every folder registered so far, whichever file made it.
 *
 * Why a registry here and not an `afterAll` beside each helper: the test files share a process
 * (`isolate: false`, vitest.config.ts), so a support module is imported once per process, and an
 * `afterAll` it registers when imported belongs to the first file that imported it: the folders of
 * every later file in that process were left behind (a whole suite's run left ~700 folders, 76 MB
 * of them one e2e test's). The registry lives on `globalThis`, so every copy of this module in the
 * process (the packages' and the integration tests' resolve it separately) shares it.
 *
 * `CALYBRIS_TEST_KEEP=1` keeps them, to look at after a run.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const key = Symbol.for("@calybris/testing/TempDir")
const store = globalThis as { [key]?: Array<string> }
const registered = (): Array<string> => (store[key] ??= [])

/**
 * Registers `dir` for removal after the test file; returns it. Only a folder inside the temp
 * folder is taken (a path a test read from a child's output, say, could name anything): any other
 * throws at once, before anything is removed.
 */
export const register = (dir: string): string => {
  const tmp = path.resolve(os.tmpdir())
  const resolved = path.resolve(dir)
  if (!resolved.startsWith(`${tmp}${path.sep}`)) {
    throw new Error(`TempDir.register: ${JSON.stringify(dir)} is not inside the temp folder ${tmp}`)
  }
  registered().push(resolved)
  return dir
}

/** A new folder `<os.tmpdir()>/<prefix>XXXXXX`, removed after the test file. */
export const make = (prefix: string): string => register(fs.mkdtempSync(path.join(os.tmpdir(), prefix)))

/** `name` in a new folder of `prefix` (the file itself is not created). */
export const file = (prefix: string, name: string): string => path.join(make(prefix), name)

/** Whether folders are kept after the run (`CALYBRIS_TEST_KEEP=1`). */
export const keep = (): boolean => process.env["CALYBRIS_TEST_KEEP"] === "1"

/**
 * Removes every registered folder (unless `keep()`), and forgets them; a folder that cannot be
 * removed does not stop the others: the first failure is thrown after them all.
 */
export const removeAll = (): void => {
  if (keep()) return
  const failures: Array<unknown> = []
  for (const dir of registered().splice(0)) {
    try {
      fs.rmSync(dir, { recursive: true, force: true })
    } catch (error) {
      failures.push(error)
    }
  }
  if (failures.length > 0) throw failures[0]
}
