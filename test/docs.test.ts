/**
 * The security documents name tests by file and title; every one they name must exist (and
 * `pnpm test` runs it). A renamed or deleted test breaks this check, not the documents silently.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"

const root = path.resolve(import.meta.dirname, "..")
const squash = (s: string) => s.replace(/\s+/g, " ")

/** [file, title] pairs: a quoted title belongs to the last test file named before it. */
const namedTests = (doc: string): Array<readonly [string, string]> => {
  const text = squash(fs.readFileSync(path.join(root, doc), "utf8"))
  const out: Array<readonly [string, string]> = []
  let file: string | undefined
  const token = /((?:packages|test)\/[\w./-]+\.test\.ts|packages\/budget\/test\/support\/contract\.ts)|"([^"`]{12,})"/g
  for (const m of text.matchAll(token)) {
    if (m[1] !== undefined) file = m[1]
    else if (m[2] !== undefined && file !== undefined) out.push([file, m[2]])
  }
  return out
}

describe("security documents", () => {
  for (const doc of ["docs/SECURITY_INVARIANTS.md", "docs/AUDIT_GUIDE.md"]) {
    it(`every test named in ${doc} exists`, () => {
      const named = namedTests(doc)
      assert.isTrue(named.length > 10, `found ${named.length} named tests`)
      for (const [file, title] of named) {
        const full = path.join(root, file)
        assert.isTrue(fs.existsSync(full), `${doc}: ${file} does not exist`)
        const source = squash(fs.readFileSync(full, "utf8")).replace(/\\"/g, "\"")
        assert.include(source, title, `${doc}: no test "${title}" in ${file}`)
      }
    })
  }
})

describe("install lines", () => {
  // npm's `latest` of the Effect packages is 4.x, which the packages' peer ranges refuse (ERESOLVE):
  // every documented install names the 3.x it was tested with (a helper's hostile review found
  // the README's library example without)
  it("every documented `npm install` of effect or an @effect package pins its version", () => {
    const documents = [
      "README.md",
      ...fs.readdirSync(path.join(root, "docs")).map((name) => `docs/${name}`),
      ...fs.readdirSync(path.join(root, "packages")).flatMap((name) =>
        [`packages/${name}/README.md`, `packages/${name}/examples/gateway.mjs`].filter((file) =>
          fs.existsSync(path.join(root, file))
        )
      )
    ]
    let lines = 0
    for (const doc of documents) {
      for (const line of fs.readFileSync(path.join(root, doc), "utf8").split("\n")) {
        const install = /npm (?:install|i) ([^&|#`]*)/.exec(line)
        if (install === null) continue
        lines++
        for (const word of (install[1] ?? "").trim().split(/\s+/)) {
          if (/^(?:effect|@effect\/[\w-]+)(?:@|$)/.test(word)) {
            assert.match(word, /@\d+\.\d+\.\d+$/, `${doc}: "${line.trim()}" installs ${word} without its version`)
          }
        }
      }
    }
    assert.isAbove(lines, 5)
  })
})
