/**
 * The WAL crash test: a child process appends with durability "always" and "batch" (16 and 100
 * concurrent appenders: group commits of many entries) and reports each acknowledged sequence;
 * we SIGKILL it at random moments, many rounds. After every kill
 * the log verifies (after repairing a torn tail, if any) and contains every acknowledged entry
 * with the hash that was acknowledged; the next round appends to the same file. Each runs with
 * the flusher on `FileSystem` and on `WalNode` (writeSync, fdatasync).
 */
import * as Wal from "@calybris/wal/Wal"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { prng, runAndKill } from "./crash.js"

const key = new Uint8Array(32).fill(42)
const ROUNDS = Number(process.env["CRASH_ROUNDS"] ?? "6")

const check = (file: string) =>
  Effect.gen(function*() {
    const repaired = yield* Wal.repair(file, { key })
    const entries = yield* Wal.readVerified.pipe(
      Stream.runCollect,
      Effect.map(Chunk.toReadonlyArray),
      Effect.provide(Wal.layerFile(file, { key, durability: "never" }))
    )
    return { repaired: repaired._tag, hashes: new Map(entries.map((e) => [e.sequence, e.entry_hash])) }
  }).pipe(Effect.provide(NodeContext.layer))

describe("WAL crash safety (SIGKILL)", () => {
  for (
    const [durability, concurrency, io] of [
      ["always", 1, "filesystem"],
      ["batch", 16, "filesystem"],
      ["batch", 100, "filesystem"],
      ["always", 1, "node"],
      ["batch", 100, "node"]
    ] as const
  ) {
    it(
      `durability ${durability} x${concurrency}${
        io === "node" ? " (WalNode)" : ""
      }: every acknowledged entry survives a kill`,
      { timeout: 240_000 },
      async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "calybris-crash-"))
        const file = path.join(dir, "log.jsonl")
        const random = prng(durability === "always" ? 7 : 11 + concurrency)
        const acknowledged = new Map<bigint, string>()
        let torn = 0
        try {
          for (let round = 0; round < ROUNDS; round++) {
            const killed = await runAndKill(
              "test/crash/wal-child.ts",
              [file, durability, String(concurrency), String(round * 100_000), io],
              10 + random(150)
            )
            assert.isFalse(killed.exitedEarly, `child exited by itself: ${killed.stderr}`)
            for (const line of killed.acks) {
              const [, sequence, hash] = line.split(" ")
              acknowledged.set(BigInt(sequence ?? "0"), hash ?? "")
            }
            const { hashes, repaired } = await Effect.runPromise(check(file))
            if (repaired === "RepairTruncated") torn++
            for (const [sequence, hash] of acknowledged) {
              assert.strictEqual(hashes.get(sequence), hash, `acknowledged entry ${sequence} lost after round ${round}`)
            }
          }
          assert.isTrue(acknowledged.size > 0)
          // torn tails happen at random; we only report how many we repaired
          process.stdout.write(
            `wal crash ${durability} x${concurrency}: ${acknowledged.size} acknowledged, ${torn} torn tails repaired\n`
          )
        } finally {
          fs.rmSync(dir, { recursive: true, force: true })
        }
      }
    )
  }
})
