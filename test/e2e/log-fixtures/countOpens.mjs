// Preloaded into a CLI child by test/e2e/log.test.ts: counts how many times the file named by
// CALYBRIS_TEST_COUNT_OPENS is opened (node:fs open, openSync, promises.open, createReadStream)
// and reports it on stderr at exit, so a test can tell how many passes a command reads a log in.
import fs from "node:fs"
import { syncBuiltinESMExports } from "node:module"
import * as path from "node:path"

const target = path.resolve(process.env["CALYBRIS_TEST_COUNT_OPENS"] ?? "")
let opens = 0
const count = (file) => {
  if (typeof file === "string" && path.resolve(file) === target) opens++
}
for (const name of ["open", "openSync", "createReadStream"]) {
  const original = fs[name]
  fs[name] = function(file, ...rest) {
    count(file)
    return original.call(this, file, ...rest)
  }
}
const promisesOpen = fs.promises.open
fs.promises.open = function(file, ...rest) {
  count(file)
  return promisesOpen.call(this, file, ...rest)
}
syncBuiltinESMExports()
process.on("exit", () => {
  process.stderr.write(`\ncalybris-test-opens=${opens}\n`)
})
