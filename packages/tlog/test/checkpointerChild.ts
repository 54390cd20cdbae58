/**
 * Crash-test child of checkpointerCrash.test.ts: a deterministic history (leaf i = `{"n":i}`)
 * rebuilt up to `<start>` entries, then appended one by one with a Checkpointer signing every
 * entry; prints `ACK <size>` after each afterAppend succeeded (the checkpoint written), until
 * it is killed. argv: <checkpoint path> <start>
 */
import * as Checkpointer from "@calybris/tlog/Checkpointer"
import * as Merkle from "@calybris/tlog/Merkle"
import * as Note from "@calybris/tlog/Note"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"

const [path = "", startText = "0"] = process.argv.slice(2)
const encoder = new TextEncoder()
const signer = Either.getOrThrow(Note.ed25519Signer("example.com/log", Redacted.make(new Uint8Array(32).fill(5))))
const tree = new Merkle.MemoryTree()
const appendOne = () => tree.append(Merkle.hashLeaf(encoder.encode(`{"n":${tree.size}}`)))
for (let i = 0; i < Number(startText); i++) appendOne()

const program = Effect.gen(function*() {
  const cp = yield* Checkpointer.make(
    { origin: "example.com/log", signers: [signer], every: { entries: 1 }, write: path },
    {
      head: Effect.sync(() => ({ size: tree.size, root: Either.getOrThrow(Merkle.root(tree, tree.size)) })),
      rootAt: (size) => Effect.sync(() => Either.getOrThrow(Merkle.root(tree, size)))
    }
  )
  for (;;) {
    appendOne()
    yield* cp.afterAppend(tree.size)
    process.stdout.write(`ACK ${tree.size}\n`)
  }
}).pipe(Effect.scoped, Effect.provide(NodeFileSystem.layer))

Effect.runPromise(program).catch((error: unknown) => {
  process.stderr.write(`child failed: ${String(error)}\n`)
  process.exit(3)
})
