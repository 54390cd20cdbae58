/**
 * A journaled ledger over a tree log (issue 17): `Ledger.layerJournal` over `TreeLog.layerFile`
 * keeps the Merkle tree of its journal and publishes a signed checkpoint every N entries, with no
 * change to the ledger. The published checkpoint verifies with the public key alone and commits
 * to the journal file's own lines; the ledger recovers from the same journal on reopen, and the
 * journal still audits as a plain journal file.
 */
import { Microcents, TenantId } from "@calybris/budget/Arguments"
import * as JournalAudit from "@calybris/budget/JournalAudit"
import * as Ledger from "@calybris/budget/Ledger"
import * as Checkpoint from "@calybris/tlog/Checkpoint"
import * as Merkle from "@calybris/tlog/Merkle"
import * as Note from "@calybris/tlog/Note"
import * as TreeLog from "@calybris/tlog/TreeLog"
import * as TreeLogNode from "@calybris/tlog/TreeLogNode"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { assert, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type { Worker } from "node:worker_threads"

const ORIGIN = "ledger.example/journal"
const signer = Either.getOrThrow(Note.ed25519Signer(ORIGIN, Redacted.make(new Uint8Array(32).fill(21))))
const vkey = Note.formatVerifierKey(signer)
const key = new Uint8Array(32).fill(8)

const leavesOf = (file: string): Array<Uint8Array> => {
  const bytes = fs.readFileSync(file)
  const out: Array<Uint8Array> = []
  let from = 0
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === 0x0a) {
      out.push(Merkle.hashLeaf(bytes.subarray(from, i)))
      from = i + 1
    }
  }
  return out
}

const published = (journal: string) => {
  const verifier = Either.getOrThrow(Checkpoint.parseVerifierKey(vkey))
  const verified = Checkpoint.verifyCheckpoint(fs.readFileSync(TreeLog.checkpointPath(journal)), [verifier], {
    origin: ORIGIN,
    keyNameIsOrigin: true
  })
  if (Either.isLeft(verified)) throw new Error(verified.left.message)
  return verified.right.checkpoint
}

describe("a journaled ledger over TreeLog.layerFile", () => {
  it.scoped("publishes signed checkpoints of its journal every N entries; they verify with the public key only", () =>
    Effect.gen(function*() {
      const dir = yield* Effect.acquireRelease(
        Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "ledger-tree-"))),
        (d) => Effect.sync(() => fs.rmSync(d, { recursive: true, force: true }))
      )
      const journal = path.join(dir, "journal.jsonl")
      const layer = (every: number) =>
        Ledger.layerJournal({ checkpointEvery: 0 }).pipe(
          Layer.provideMerge(TreeLog.layerFile(journal, {
            key,
            checkpoint: { origin: ORIGIN, signers: [signer], every: { entries: every } }
          }))
        )
      const acme = TenantId.make("acme")
      yield* Effect.scoped(Effect.gen(function*() {
        const context = yield* Layer.build(layer(3))
        yield* Effect.provide(
          Effect.gen(function*() {
            yield* Ledger.ensureTenant(acme, Microcents.make(1_000_000n))
            for (let i = 0; i < 7; i++) yield* Ledger.reserve(acme, Microcents.make(1_000n))
            const log = yield* TreeLog.TreeLog
            const head = yield* log.head
            const cp = published(journal)
            // a checkpoint at each multiple of 3 entries; the last one at the head's multiple
            expect(cp.size).toBe(head.size - head.size % 3n)
            const leaves = leavesOf(journal)
            expect(BigInt(leaves.length)).toBe(head.size)
            expect(Buffer.from(cp.root)).toEqual(Buffer.from(Merkle.referenceRoot(leaves.slice(0, Number(cp.size)))))
          }),
          context
        )
      }))
      // closed: the final checkpoint is the whole journal
      const leaves = leavesOf(journal)
      const last = published(journal)
      expect(last.size).toBe(BigInt(leaves.length))
      expect(Buffer.from(last.root)).toEqual(Buffer.from(Merkle.referenceRoot(leaves)))
      // the journal is a plain ledger journal: it audits as one and the ledger recovers from it
      const audit = yield* JournalAudit.auditFile(journal, [], { key })
      assert(audit !== undefined)
      yield* Effect.scoped(Effect.gen(function*() {
        const context = yield* Layer.build(layer(3))
        const remaining = yield* Effect.provide(Ledger.remaining("acme"), context)
        expect(remaining).toEqual(Option.some(1_000_000n - 7_000n))
      }))
    }).pipe(Effect.provide(NodeContext.layer)))

  it.live(
    "its hashing worker stopped: the next command fails closed with nothing journaled; reopened, a retry under its operation id applies once",
    () =>
      Effect.gen(function*() {
        const dir = yield* Effect.acquireRelease(
          Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "ledger-tree-"))),
          (d) => Effect.sync(() => fs.rmSync(d, { recursive: true, force: true }))
        )
        const journal = path.join(dir, "journal.jsonl")
        // the worker's service, keeping each hashing it starts (to kill its worker, as a crash of that thread would)
        const started: Array<unknown> = []
        const io = Either.getOrThrow(TreeLogNode.make())
        const capturing = Layer.succeed(TreeLogNode.TreeIo, {
          startHashing: (range, sink) => {
            const hashing = io.startHashing(range, sink)
            started.push(hashing)
            return hashing
          }
        })
        const layer = (treeIo: Layer.Layer<TreeLogNode.TreeIo>) =>
          Ledger.layerJournal({ checkpointEvery: 0 }).pipe(
            Layer.provideMerge(TreeLog.layerFile(journal, { key }).pipe(Layer.provide(treeIo)))
          )
        const acme = TenantId.make("acme")
        const reserve = (id: string) => Ledger.reserve(acme, Microcents.make(1_000n), { operationId: id })
        const before = yield* Effect.scoped(Effect.gen(function*() {
          const context = yield* Layer.build(layer(capturing))
          return yield* Effect.provide(
            Effect.gen(function*() {
              yield* Ledger.ensureTenant(acme, Microcents.make(1_000_000n))
              for (let i = 0; i < 3; i++) yield* reserve(`r-${i}`)
              const lines = fs.readFileSync(journal)
              const worker = (started[0] as { readonly worker: Worker }).worker
              yield* Effect.promise(() => worker.terminate())
              // refused before the WAL sealed anything: the ledger fails closed, this command and the next
              for (const id of ["r-3", "r-4"]) {
                const error = yield* Effect.flip(reserve(id))
                assert(error._tag === "LedgerStoreError", error.message)
                expect(error.message).toMatch(
                  /^ledger store failed during journal append: WAL append refused before anything was written: the tree log's hashing stopped: the tree log's hashing worker exited \(code \d+\)/
                )
              }
              expect(fs.readFileSync(journal).equals(lines)).toBe(true)
              return lines
            }),
            context
          )
        }))
        // closed: the journal holds exactly the acknowledged commands
        expect(fs.readFileSync(journal).equals(before)).toBe(true)
        const head = yield* Effect.scoped(Effect.gen(function*() {
          const context = yield* Layer.build(layer(TreeLogNode.layer))
          return yield* Effect.provide(
            Effect.gen(function*() {
              expect(yield* Ledger.remaining("acme")).toEqual(Option.some(1_000_000n - 3_000n))
              const first = yield* reserve("r-3")
              const again = yield* reserve("r-3")
              expect(again).toEqual(first)
              expect(yield* Ledger.remaining("acme")).toEqual(Option.some(1_000_000n - 4_000n))
              return yield* (yield* TreeLog.TreeLog).head
            }),
            context
          )
        }))
        // the journal: the acknowledged commands, then r-3 once; the tree is its lines'
        const leaves = leavesOf(journal)
        expect(leaves.length).toBe(before.filter((byte) => byte === 0x0a).length + 1)
        expect(head.size).toBe(BigInt(leaves.length))
        expect(Buffer.from(head.root)).toEqual(Buffer.from(Merkle.referenceRoot(leaves)))
      }).pipe(Effect.provide(NodeContext.layer), Effect.scoped)
  )
})
