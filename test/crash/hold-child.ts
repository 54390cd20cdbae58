/**
 * Lock-test child: opens the WAL file at <path> as a writer (keyed with 32 bytes of 42, like
 * `wal-child.ts`) and prints one line saying what happened:
 * - `HOLDING <sequence>`: it holds the log, and keeps it (appending nothing) until killed;
 * - `REFUSED <tag>`: opening failed with that typed error (then it exits 0).
 * With `append` as second argument it appends one record once it holds the log, prints
 * `ACK <sequence> <entry_hash>`, and exits 0 (closing the log).
 * argv: <path> [hold|append]
 */
import type * as Json from "@calybris/core/Json"
import * as Wal from "@calybris/wal/Wal"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as Effect from "effect/Effect"

const [path = "", mode = "hold"] = process.argv.slice(2)
const key = new Uint8Array(32).fill(42)

const held = Effect.gen(function*() {
  const head = yield* Wal.head
  process.stdout.write(`HOLDING ${head.sequence}\n`)
  if (mode === "append") {
    const sealed = yield* Wal.append(new Map<string, Json.Json>([["from", "hold-child"], ["pid", process.pid]]))
    process.stdout.write(`ACK ${sealed.sequence} ${sealed.entry_hash}\n`)
    return
  }
  return yield* Effect.never
})

const program = held.pipe(
  Effect.provide(Wal.layerFile(path, { key })),
  Effect.catchAll((error) => Effect.sync(() => process.stdout.write(`REFUSED ${error._tag}\n`))),
  Effect.provide(NodeContext.layer)
)

Effect.runPromise(program).catch((error: unknown) => {
  process.stderr.write(`child failed: ${String(error)}\n`)
  process.exit(3)
})
