/**
 * One writer per journal, whatever name reaches it: a journaled ledger over `Wal.layerFile` of a
 * hard link (in another directory), a symlink or a `dir/../file` path is refused with
 * `WalLocked` while another ledger holds the journal, and nothing is journaled through it.
 */
import { Microcents, TenantId } from "@calybris/budget/Arguments"
import * as Ledger from "@calybris/budget/Ledger"
import * as Wal from "@calybris/wal/Wal"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as FileSystem from "@effect/platform/FileSystem"
import { assert, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"

const key = new Uint8Array(32).fill(9)

const ledgerOver = (path: string) =>
  Ledger.layerJournal({ checkpointEvery: 0 }).pipe(Layer.provide(Wal.layerFile(path, { key })))

it.live("a journaled ledger over a hard link, a symlink or dir/../file of a held journal is refused with WalLocked", () =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const dir = yield* fs.makeTempDirectoryScoped({ prefix: "calybris-ledger-lock-" })
    const other = yield* fs.makeTempDirectoryScoped({ prefix: "calybris-ledger-lock-other-" })
    const journal = `${dir}/journal.jsonl`
    yield* fs.makeDirectory(`${dir}/sub`)
    yield* Ledger.ensureTenant(TenantId.make("t"), Microcents.make(1_000n)).pipe(Effect.provide(ledgerOver(journal)))
    yield* fs.link(journal, `${other}/hard.jsonl`)
    yield* fs.symlink(journal, `${other}/alias.jsonl`)
    const names = [`${other}/hard.jsonl`, `${other}/alias.jsonl`, `${dir}/sub/../journal.jsonl`]
    yield* Effect.gen(function*() {
      const held = yield* Ledger.reserve(TenantId.make("t"), Microcents.make(100n), { operationId: "held" })
      assert.strictEqual(held._tag, "Reserved")
      for (const name of names) {
        const exit = yield* Effect.exit(
          Ledger.reserve(TenantId.make("t"), Microcents.make(100n), { operationId: "second-writer" }).pipe(
            Effect.provide(ledgerOver(name))
          )
        )
        const tag = Exit.isSuccess(exit)
          ? "succeeded"
          : Option.match(Cause.failureOption(exit.cause), { onNone: () => "died", onSome: (e) => e._tag })
        assert.strictEqual(tag, "WalLocked", name)
      }
      // the holder still serves
      assert.strictEqual((yield* Ledger.reserve(TenantId.make("t"), Microcents.make(100n)))._tag, "Reserved")
    }).pipe(Effect.provide(ledgerOver(journal)))
    // only the holder's reservations are in the journal: 800 of 1,000 remain, through any name
    for (const name of [journal, ...names]) {
      const balances = yield* Ledger.balances.pipe(Effect.provide(ledgerOver(name)))
      assert.strictEqual(balances.tenants[0]?.reserved_microcents, 200n, name)
    }
  }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)))
