/**
 * `cachedBundle` (test/support/bundled.ts): a build of newer sources never removes a bundle that a
 * test process may still be running (another vitest run, or a second worker, each process keeping
 * the bundle it found), only bundles unused for `STALE_MS`.
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { cachedBundle, STALE_MS } from "./support/bundled.js"

const name = `bundled-test-${process.pid}-${Date.now()}`
const folder = (key: string) => path.join(os.tmpdir(), `calybris-cache-${name}-${key}`)

/** A published bundle of some older sources: its entry, its marker, last used `ageMs` ago. */
const published = (key: string, ageMs: number): string => {
  const dir = folder(key)
  fs.mkdirSync(dir, { recursive: true })
  fs.writeFileSync(path.join(dir, "main.mjs"), "")
  fs.writeFileSync(path.join(dir, ".entry"), "main.mjs")
  const then = new Date(Date.now() - ageMs)
  fs.utimesSync(path.join(dir, ".entry"), then, then)
  return dir
}

afterAll(() => {
  for (const entry of fs.readdirSync(os.tmpdir())) {
    if (entry.includes(name)) fs.rmSync(path.join(os.tmpdir(), entry), { recursive: true, force: true })
  }
})

describe("cachedBundle", () => {
  it("a build of newer sources keeps the bundles used within the hour and removes the stale ones", async () => {
    // another process's bundle, taken a minute ago (its run still going), and one of last week
    const inUse = published("0123456789abcdef", 60_000)
    const stale = published("fedcba9876543210", STALE_MS + 60_000)
    const entry = await cachedBundle(name, [], async (outdir) => {
      fs.mkdirSync(outdir, { recursive: true })
      fs.writeFileSync(path.join(outdir, "main.mjs"), "")
      return path.join(outdir, "main.mjs")
    })
    assert.isTrue(fs.existsSync(entry), "the new build")
    assert.isTrue(fs.existsSync(path.join(inUse, "main.mjs")), "the bundle in use is kept")
    assert.isFalse(fs.existsSync(stale), "the stale bundle is removed")
    // only the new one and the one in use are left under this name
    const left = fs.readdirSync(os.tmpdir()).filter((entry) => entry.startsWith(`calybris-cache-${name}-`))
    assert.strictEqual(left.length, 2)
  })
})
