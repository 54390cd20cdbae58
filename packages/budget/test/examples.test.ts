/**
 * The README's library example is packages/budget/examples/gateway.ts (the code block, character
 * for character, between its markers), it typechecks (the examples are in this package's test
 * project, which `tsc -b` builds) and it runs.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { main } from "../examples/gateway.js"

const root = path.resolve(import.meta.dirname, "../../..")
const read = (file: string) => fs.readFileSync(path.join(root, file), "utf8")

describe("examples", () => {
  it("the README's library example is the code of packages/budget/examples/gateway.ts", () => {
    const readme = read("README.md")
    const section = readme.slice(readme.indexOf("## The library"))
    const block = /```ts\n([\s\S]*?)```/.exec(section)?.[1]
    assert.isDefined(block, "a ts code block under \"## The library\"")
    const gateway = read("packages/budget/examples/gateway.ts")
    const marked = /\/\/ README: begin\n([\s\S]*?)\/\/ README: end\n/.exec(gateway)?.[1]
    assert.isDefined(marked, "the README markers in gateway.ts")
    // the README's block runs the program on the live layers, the example on the test layers
    const run = "\nEffect.runPromise(gateway(policyJson, inputJson).pipe(Effect.provide(live)))\n"
    assert.strictEqual(block, `${marked}${run}`)
  })

  it.live("the gateway example runs: admit, verify, commit and a conservation proof", () =>
    Effect.gen(function*() {
      const proof = yield* main
      assert.strictEqual(proof.tenant_count, 1n)
      assert.strictEqual(proof.active_reservations, 0n)
      assert.strictEqual(proof.total_committed_microcents, 1_200n, "the admitted hold was committed at 1,200")
    }))
})
