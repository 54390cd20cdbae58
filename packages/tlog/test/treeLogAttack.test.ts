/**
 * Hostile review of the tree log (issue 17): promises of TreeLog.ts and Checkpointer.ts attacked
 * through the public API, each test failing before its fix.
 *
 * - The directory `<log>.tlog/` is a C2SP tlog-tiles log: its `checkpoint` names a tree whose
 *   tiles are all in the directory (a client reading the checkpoint, then the tiles of its size,
 *   must find them and compute the checkpoint's root), after every periodic checkpoint and at close.
 */
import type * as Json from "@calybris/core/Json"
import * as Checkpoint from "@calybris/tlog/Checkpoint"
import * as Merkle from "@calybris/tlog/Merkle"
import * as Note from "@calybris/tlog/Note"
import * as Tiles from "@calybris/tlog/Tiles"
import * as TreeLog from "@calybris/tlog/TreeLog"
import * as Wal from "@calybris/wal/Wal"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { assert, describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as nodeFs from "node:fs"
import * as nodeOs from "node:os"
import * as nodePath from "node:path"
import { right, signer } from "./noteSupport.js"
import { headText } from "./treeLogSupport.js"

const ORIGIN = "example.com/tree-log-attack"
const logSigner = signer(ORIGIN, Uint8Array.from({ length: 32 }, (_, i) => i * 7 + 1))
const vkey = right(Note.parseVerifierKey(Note.formatVerifierKey(logSigner)))
const key = new Uint8Array(32).fill(9)

const tempLog = Effect.acquireRelease(
  Effect.sync(() => nodeFs.mkdtempSync(nodePath.join(nodeOs.tmpdir(), "treelog-attack-"))),
  (dir) => Effect.sync(() => nodeFs.rmSync(dir, { recursive: true, force: true }))
).pipe(Effect.map((dir) => nodePath.join(dir, "log.jsonl")))

const record = (i: number): Json.Json => new Map<string, Json.Json>([["i", i]])

/** What a tlog-tiles client does: the checkpoint, then the root from the tiles of its size. */
const readAsClient = (path: string): { size: bigint; root: string; fromTiles: string } => {
  const dir = `${path}.tlog`
  const verified = Checkpoint.verifyCheckpoint(nodeFs.readFileSync(`${dir}/checkpoint`), [vkey], { origin: ORIGIN })
  if (Either.isLeft(verified)) throw new Error(`checkpoint does not verify: ${verified.left.message}`)
  const { root, size } = verified.right.checkpoint
  const read: Tiles.TileReader = (level, index, width) => {
    // C2SP: the partial tile of that width, or the full tile (its first `width` hashes)
    for (const w of [width, Tiles.TILE_WIDTH]) {
      const file = `${dir}/${Either.getOrThrow(Tiles.tilePath(level, index, w))}`
      if (nodeFs.existsSync(file)) return nodeFs.readFileSync(file).subarray(0, width * 32)
    }
    return undefined
  }
  const fromTiles = Tiles.rootFromTiles(read, size)
  return {
    size,
    root: Buffer.from(root).toString("hex"),
    fromTiles: Either.isLeft(fromTiles) ? `unreadable: ${fromTiles.left.message}` : Buffer.from(fromTiles.right)
      .toString("hex")
  }
}

describe("TreeLog attack: the tiles directory as a C2SP tlog-tiles log", () => {
  it.scoped("every periodic checkpoint names a tree whose tiles are in the directory (default flushEvery)", () =>
    Effect.gen(function*() {
      const path = yield* tempLog
      yield* Effect.scoped(Effect.gen(function*() {
        const log = yield* TreeLog.makeFile(path, {
          key,
          durability: "batch",
          checkpoint: { origin: ORIGIN, signers: [logSigner], every: { entries: 3 } }
        })
        for (let i = 0; i < 300; i++) {
          yield* log.append(record(i))
          if ((i + 1) % 3 === 0) {
            const client = readAsClient(path)
            expect(client.size, `after ${i + 1} appends`).toBe(BigInt(i + 1))
            expect(client.fromTiles, `after ${i + 1} appends`).toBe(client.root)
          }
        }
      }))
      const client = readAsClient(path)
      expect(client.size).toBe(300n)
      expect(client.fromTiles).toBe(client.root)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("the final checkpoint at close names tiles that are in the directory", () =>
    Effect.gen(function*() {
      const path = yield* tempLog
      yield* Effect.scoped(Effect.gen(function*() {
        const log = yield* TreeLog.makeFile(path, {
          key,
          checkpoint: { origin: ORIGIN, signers: [logSigner], every: { seconds: 3600 } }
        })
        for (let i = 0; i < 5; i++) yield* log.append(record(i))
      }))
      const client = readAsClient(path)
      assert(client.size === 5n)
      expect(client.fromTiles).toBe(client.root)
    }).pipe(Effect.provide(NodeContext.layer)))
})

describe("TreeLog attack: a rolled-back log", () => {
  it.scoped("tiles ahead: the advice keeps the published checkpoint, so the rebuilt log still fails closed", () =>
    Effect.gen(function*() {
      const path = yield* tempLog
      const options: TreeLog.TreeLogFileOptions = {
        key,
        checkpoint: { origin: ORIGIN, signers: [logSigner], every: { entries: 2 } }
      }
      yield* Effect.scoped(Effect.gen(function*() {
        const log = yield* TreeLog.makeFile(path, options)
        for (let i = 0; i < 6; i++) yield* log.append(record(i))
      }))
      // the log rolled back (an old backup): the tiles are ahead of it
      const lines = nodeFs.readFileSync(path, "utf8").split("\n")
      nodeFs.writeFileSync(path, lines.slice(0, 3).join("\n") + "\n")
      const ahead = yield* Effect.flip(Effect.scoped(TreeLog.makeFile(path, options)))
      assert(ahead._tag === "TreeLogTilesAhead")
      // the error's advice must not destroy the evidence of what was published
      expect(ahead.message).not.toMatch(/remove the directory/)
      expect(ahead.message).toMatch(/checkpoint/)
      // followed: the tiles and the tree head removed, the checkpoint kept
      nodeFs.rmSync(`${path}.tlog/tile`, { recursive: true, force: true })
      nodeFs.rmSync(`${path}.tlog/${TreeLog.HEAD_FILE}`, { force: true })
      const log = yield* TreeLog.makeFile(path, options)
      expect((yield* log.head).size).toBe(3n)
      const refused = yield* Effect.flip(log.append(record(99)))
      expect(refused._tag).toBe("CheckpointerHeadRegressed")
      expect((yield* log.head).size).toBe(3n)
    }).pipe(Effect.provide(NodeContext.layer)))
})

describe("TreeLog attack: options", () => {
  it.scoped("a flushEvery that is not a positive integer is a typed error naming it, before the log exists", () =>
    Effect.gen(function*() {
      const path = yield* tempLog
      for (const flushEvery of [1.5, Number.NaN, Number.POSITIVE_INFINITY, 0, -3]) {
        const exit = yield* Effect.exit(Effect.scoped(TreeLog.makeFile(path, { key, flushEvery })))
        assert(exit._tag === "Failure", `flushEvery ${flushEvery}`)
        const error = Cause.failureOption(exit.cause)
        assert(error._tag === "Some", `flushEvery ${flushEvery}: a defect, not a typed error`)
        assert(error.value._tag === "TreeLogOptionsInvalid")
        expect(error.value.field).toBe("flushEvery")
        expect(error.value.value).toBe(String(flushEvery))
        expect(nodeFs.existsSync(path)).toBe(false)
        expect(nodeFs.existsSync(`${path}.tlog`)).toBe(false)
        const memory = yield* Effect.exit(Effect.scoped(TreeLog.makeMemory({ key, flushEvery })))
        assert(memory._tag === "Failure" && Cause.failureOption(memory.cause)._tag === "Some")
      }
    }).pipe(Effect.provide(NodeContext.layer)))
})

describe("TreeLog attack: aliasing", () => {
  it.scoped("a caller scribbling on a head's root or a proof's hashes changes nothing the log keeps", () =>
    Effect.gen(function*() {
      const path = yield* tempLog
      const reference = yield* Effect.scoped(Effect.gen(function*() {
        const log = yield* TreeLog.makeFile(`${path}.ref`, { key })
        for (let i = 0; i < 300; i++) yield* log.append(record(i))
        return {
          root: Buffer.from((yield* log.head).root).toString("hex"),
          proof: (yield* log.inclusionProof(5n, 300n)).map((h) => Buffer.from(h).toString("hex"))
        }
      }))
      const log = yield* TreeLog.makeFile(path, { key })
      for (let i = 0; i < 300; i++) yield* log.append(record(i))
      ;(yield* log.head).root.fill(0)
      for (const hash of yield* log.inclusionProof(5n, 300n)) hash.fill(0)
      for (const hash of yield* log.consistencyProof(7n, 300n)) hash.fill(0)
      ;(yield* log.rootAt(300n)).fill(0)
      ;(yield* log.rootAt(256n)).fill(0)
      expect(Buffer.from((yield* log.head).root).toString("hex")).toBe(reference.root)
      expect((yield* log.inclusionProof(5n, 300n)).map((h) => Buffer.from(h).toString("hex"))).toEqual(
        reference.proof
      )
      yield* log.flush
      const head = nodeFs.readFileSync(`${path}.tlog/${TreeLog.HEAD_FILE}`, "utf8")
      expect(head).toBe(headText(300, reference.root, key))
    }).pipe(Effect.provide(NodeContext.layer)))
})

describe("TreeLog attack: the leaves at the WAL reader's chunk boundary", () => {
  it.scoped("CRLF lines and non-ASCII data across the 1 MiB read chunks: the tree is the lines without CR LF", () =>
    Effect.gen(function*() {
      const path = yield* tempLog
      yield* Effect.scoped(Effect.gen(function*() {
        const wal = yield* Wal.makeFile(path, { key, durability: "never" })
        for (let i = 0; i < 1100; i++) yield* wal.append(`${i} ${"é☃".repeat(150)} ${"x".repeat(i % 97)}`)
      }))
      const lines = nodeFs.readFileSync(path).toString("latin1").split("\n").slice(0, -1)
      expect(/[\x80-\xff]/.test(lines[0] as string)).toBe(true)
      const CHUNK = 1 << 20
      // the CR of the line ending nearest below the chunk boundary lands on its last byte
      let at = 0
      let crAt = 0
      for (const line of lines) {
        if (at + line.length < CHUNK - 1) crAt = at + line.length
        at += line.length + 2
      }
      const pad = CHUNK - 1 - crAt - 1
      const crlf = " ".repeat(pad) + "\n" + lines.map((l) => l + "\r\n").join("")
      expect(crlf.charCodeAt(CHUNK - 1)).toBe(0x0d)
      nodeFs.writeFileSync(path, Buffer.from(crlf, "latin1"))
      const leaves = lines.map((l) => Merkle.hashLeaf(Buffer.from(l, "latin1")))
      const log = yield* TreeLog.makeFile(path, { key })
      const head = yield* log.head
      expect(head.size).toBe(1100n)
      expect(Buffer.from(head.root).toString("hex")).toBe(Buffer.from(Merkle.referenceRoot(leaves)).toString("hex"))
    }).pipe(Effect.provide(NodeContext.layer)))
})

describe("TreeLog attack: a full verification's reopen", () => {
  it.scoped("rootAt and proofs at every size, below and above the persisted one, after verifyTree full", () =>
    Effect.gen(function*() {
      const path = yield* tempLog
      yield* Effect.scoped(Effect.gen(function*() {
        const log = yield* TreeLog.makeFile(path, { key, flushEvery: 64, durability: "never" })
        for (let i = 0; i < 650; i++) yield* log.append(record(i))
      }))
      // entries beyond the persisted tiles (written without the tree): caught up at the next open
      yield* Effect.scoped(Effect.gen(function*() {
        const wal = yield* Wal.makeFile(path, { key })
        for (let i = 650; i < 700; i++) yield* wal.append(record(i))
      }))
      const persisted = nodeFs.readFileSync(`${path}.tlog/${TreeLog.HEAD_FILE}`, "utf8").split("\n")[0]
      expect(Number(persisted)).toBeLessThan(700)
      const log = yield* TreeLog.makeFile(path, { key, verifyTree: "full", flushEvery: 64 })
      for (let i = 700; i < 720; i++) yield* log.append(record(i))
      const text = nodeFs.readFileSync(path)
      const leaves: Array<Uint8Array> = []
      let from = 0
      for (let i = 0; i < text.length; i++) {
        if (text[i] === 0x0a) {
          leaves.push(Merkle.hashLeaf(text.subarray(from, i)))
          from = i + 1
        }
      }
      expect(leaves.length).toBe(720)
      const hex = (b: Uint8Array) => Buffer.from(b).toString("hex")
      for (let n = 1; n <= 720; n++) {
        const root = Merkle.referenceRoot(leaves.slice(0, n))
        expect(hex(yield* log.rootAt(BigInt(n))), `rootAt ${n}`).toBe(hex(root))
        if (n % 37 === 0 || n === 720) {
          const index = BigInt((n * 7919) % n)
          const proof = yield* log.inclusionProof(index, BigInt(n))
          const ok = Merkle.verifyInclusion(leaves[Number(index)] as Uint8Array, index, BigInt(n), proof, root)
          expect(Either.isRight(ok), `inclusion ${index} in ${n}`).toBe(true)
        }
      }
    }).pipe(Effect.provide(NodeContext.layer)))
})
