/**
 * The WAL crash test with a hard-linked second writer: a child process appends to the log
 * (`wal-child.ts`, durability "always" and "batch" x16) and is SIGKILLed at random moments;
 * while it lives, this process keeps trying to append through a hard link to the log in
 * another directory, and every attempt must be refused with `WalLocked`. After each kill the
 * second writer takes over through the hard link (repairing a torn tail, if any, through it)
 * and appends a few entries of its own. After every round the log verifies — so no sequence is
 * duplicated — and holds every entry either writer acknowledged, with the acknowledged hash.
 */
import type * as Json from "@calybris/core/Json"
import * as Wal from "@calybris/wal/Wal"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { startChild } from "./child.js"
import { prng } from "./crash.js"

const key = new Uint8Array(32).fill(42)
const ROUNDS = Number(process.env["CRASH_ROUNDS"] ?? "4")

const record = (i: number): Json.Json => new Map<string, Json.Json>([["second-writer", i]])

const run = <A, E>(effect: Effect.Effect<A, E, NodeContext.NodeContext>) =>
  Effect.runPromise(Effect.provide(effect, NodeContext.layer))

/** Append through `name`: the sealed entry, or the tag of the typed failure. */
const tryAppend = (name: string, i: number) =>
  Effect.provide(Wal.append(record(i)), Wal.layerFile(name, { key })).pipe(
    Effect.exit,
    Effect.map((exit) =>
      Exit.isSuccess(exit)
        ? exit.value
        : Option.match(Cause.failureOption(exit.cause), { onNone: () => "died", onSome: (e) => e._tag })
    )
  )

/** Every entry of the log, verified (read through `name`), after repairing a torn tail through it. */
const readAll = (name: string) =>
  Effect.gen(function*() {
    const repaired = yield* Wal.repair(name, { key })
    const entries = yield* Wal.readVerified.pipe(
      Stream.runCollect,
      Effect.map(Chunk.toReadonlyArray),
      Effect.provide(Wal.layerFile(name, { key, durability: "never" }))
    )
    return { repaired: repaired._tag, entries }
  })

describe("WAL crash safety with a hard-linked second writer (SIGKILL)", () => {
  for (const [durability, concurrency] of [["always", 1], ["batch", 16]] as const) {
    it(
      `durability ${durability} x${concurrency}: the second writer is locked out while the child lives; nothing acknowledged is lost, no sequence repeats`,
      { timeout: 240_000 },
      async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "calybris-hardlink-crash-"))
        const other = fs.mkdtempSync(path.join(os.tmpdir(), "calybris-hardlink-crash-other-"))
        const file = path.join(dir, "log.jsonl")
        const hard = path.join(other, "hard.jsonl")
        const random = prng(durability === "always" ? 17 : 23 + concurrency)
        const acknowledged = new Map<bigint, string>()
        const acknowledge = (sequence: bigint, hash: string) => {
          assert.isFalse(acknowledged.has(sequence), `sequence ${sequence} acknowledged twice`)
          acknowledged.set(sequence, hash)
        }
        let refused = 0
        let torn = 0
        let n = 0
        try {
          const first = await run(tryAppend(file, n++))
          assert.isTrue(typeof first === "object", String(first))
          if (typeof first === "object") acknowledge(first.sequence, first.entry_hash)
          fs.linkSync(file, hard)
          for (let round = 0; round < ROUNDS; round++) {
            const child = await startChild("test/crash/wal-child.ts", [
              file,
              durability,
              String(concurrency),
              String((round + 1) * 100_000)
            ])
            try {
              // the child holds the log once it acknowledged something
              await child.line("ACK")
              const killAt = Date.now() + 10 + random(200)
              do {
                const attempt = await run(tryAppend(hard, n++))
                if (typeof attempt === "object") acknowledge(attempt.sequence, attempt.entry_hash)
                assert.strictEqual(
                  typeof attempt === "object" ? `acknowledged sequence ${attempt.sequence}` : attempt,
                  "WalLocked",
                  `a second writer through a hard link while the child holds the log (round ${round})`
                )
                refused++
              } while (Date.now() < killAt)
            } finally {
              child.child.kill("SIGKILL")
              await child.exited
            }
            for (const line of child.lines.filter((l) => l.startsWith("ACK "))) {
              const [, sequence, hash] = line.split(" ")
              acknowledge(BigInt(sequence ?? "0"), hash ?? "")
            }
            // the child is gone: the second writer takes over through the hard link
            const { repaired } = await run(readAll(hard))
            if (repaired === "RepairTruncated") torn++
            for (let k = 0; k < 3; k++) {
              const sealed = await run(tryAppend(hard, n++))
              assert.isTrue(typeof sealed === "object", `the hard link after the kill: ${String(sealed)}`)
              if (typeof sealed === "object") acknowledge(sealed.sequence, sealed.entry_hash)
            }
            // read through the original name: verifies, so sequences are consecutive and unique
            const { entries } = await run(readAll(file))
            const hashes = new Map(entries.map((e) => [e.sequence, e.entry_hash]))
            assert.strictEqual(hashes.size, entries.length, "a sequence appears twice")
            for (const [sequence, hash] of acknowledged) {
              assert.strictEqual(hashes.get(sequence), hash, `acknowledged entry ${sequence} lost after round ${round}`)
            }
          }
          assert.isAbove(refused, 0)
          process.stdout.write(
            `hard-link crash ${durability} x${concurrency}: ${acknowledged.size} acknowledged, ${refused} second-writer attempts refused, ${torn} torn tails repaired\n`
          )
        } finally {
          fs.rmSync(dir, { recursive: true, force: true })
          fs.rmSync(other, { recursive: true, force: true })
        }
      }
    )
  }
})
