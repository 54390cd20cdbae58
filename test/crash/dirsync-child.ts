/**
 * Directory-fsync child (run under strace by dirsync.test.ts): a tree log under durability
 * "batch" on `WalNode` and `TreeLogNode`, 300 appends and a flush (tiles in new directories, and
 * the tree head), then a clean exit. argv: <path>
 */
import * as TreeLog from "@calybris/tlog/TreeLog"
import * as TreeLogNode from "@calybris/tlog/TreeLogNode"
import * as WalNode from "@calybris/wal/WalNode"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

const [path = ""] = process.argv.slice(2)

await Effect.runPromise(
  Effect.scoped(Effect.gen(function*() {
    const log = yield* TreeLog.makeFile(path, {
      key: new Uint8Array(32).fill(5),
      durability: "batch",
      flushEvery: 1_000_000
    })
    for (let i = 0; i < 300; i++) yield* log.append(new Map([["i", i]]))
    yield* log.flush
  })).pipe(Effect.provide(Layer.merge(WalNode.layer, TreeLogNode.layer)), Effect.provide(NodeContext.layer))
)
