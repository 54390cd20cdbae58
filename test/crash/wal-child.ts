/**
 * Crash-test child: appends records to a WAL file with the durability given, and prints
 * `ACK <sequence> <entry_hash>` for every acknowledged append, until it is killed.
 * argv: <path> <durability> <concurrency> <start> [io]; io "node": the flusher on `WalNode.layer`
 */
import type * as Json from "@calybris/core/Json"
import * as Wal from "@calybris/wal/Wal"
import * as WalNode from "@calybris/wal/WalNode"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as Effect from "effect/Effect"

const [path = "", durability = "always", concurrencyText = "1", startText = "0", io = "filesystem"] = process.argv
  .slice(2)
const key = new Uint8Array(32).fill(42)
const concurrency = Number(concurrencyText)
const start = Number(startText)

const program = Effect.gen(function*() {
  let n = start
  const worker = Effect.gen(function*() {
    for (;;) {
      const i = n++
      const sealed = yield* Wal.append(
        new Map<string, Json.Json>([
          ["n", i],
          ["payload", "x".repeat(200 + (i % 300))],
          ["u64", 18446744073709551615n]
        ])
      )
      process.stdout.write(`ACK ${sealed.sequence} ${sealed.entry_hash}\n`)
    }
  })
  yield* Effect.all(Array.from({ length: concurrency }, () => worker), { concurrency: "unbounded" })
}).pipe(
  Effect.provide(Wal.layerFile(path, { key, durability: durability as Wal.Durability })),
  (effect) => io === "node" ? Effect.provide(effect, WalNode.layer) : effect,
  Effect.provide(NodeContext.layer)
)

Effect.runPromise(program).catch((error: unknown) => {
  process.stderr.write(`child failed: ${String(error)}\n`)
  process.exit(3)
})
