/**
 * vitest.setup.ts: each test file starts from @effect/vitest's own `it` methods. `layer(L)(…)`
 * replaces the shared `it`'s methods with ones that run inside L's runtime and never puts them
 * back, and test files share a process (`isolate: false`): without the setup, a file's plain
 * `it.effect` tests ran inside the previous file's layer (an unkeyed ledger in
 * LedgerPg.wiring.test.ts journaled with PgJournal.test.ts's key).
 */
import { assert, describe, it, layer } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

/** The methods the setup saved before any test file ran in this process. */
const pristine = (globalThis as { [key: symbol]: Partial<typeof it> | undefined })[
  Symbol.for("@calybris/test/effect-vitest-it")
]
/** This file's methods as it began, before its own `layer` below. */
const atStart = { effect: it.effect, scoped: it.scoped, prop: it.prop, layer: it.layer }

class Probe extends Context.Reference<Probe>()("test/effectVitestIt/Probe", { defaultValue: () => "default" }) {}

layer(Layer.succeed(Probe, "layered"))((it) => {
  it.effect("a test inside a layer sees its services", () => Effect.map(Probe, (p) => assert.strictEqual(p, "layered")))
})

describe("each test file starts from @effect/vitest's own it", () => {
  it("this file began with the saved methods, whatever file ran before it in this process", () => {
    assert.isDefined(pristine)
    assert.strictEqual(atStart.effect, pristine?.effect)
    assert.strictEqual(atStart.scoped, pristine?.scoped)
    assert.strictEqual(atStart.prop, pristine?.prop)
    assert.strictEqual(atStart.layer, pristine?.layer)
  })

  it("layer replaced them for the rest of this file (what the setup undoes for the next one)", () => {
    assert.notStrictEqual(it.effect, pristine?.effect)
    assert.notStrictEqual(it.scoped, pristine?.scoped)
  })
})
