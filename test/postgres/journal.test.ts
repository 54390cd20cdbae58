/**
 * The per-tenant journal of the PostgreSQL ledger, verified offline by the CLI: a tenant's chain
 * written to a file (`PgJournal.writeTenant`) is a WAL that `calybris wal verify` accepts as it
 * is (unkeyed; keyed with `--key-file` only), and one edited byte in it fails the verification
 * at that entry's sequence.
 */
import * as PgJournal from "@calybris/budget-pg/PgJournal"
import * as PgOperations from "@calybris/budget-pg/PgOperations"
import * as PgSchema from "@calybris/budget-pg/PgSchema"
import { Microcents, TenantId } from "@calybris/budget/Arguments"
import * as Command from "@calybris/budget/Command"
import * as Postgres from "@calybris/testing/Postgres"
import * as WalNode from "@calybris/wal/WalNode"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { SystemError } from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import * as PgClient from "@effect/sql-pg/PgClient"
import type * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as fs from "node:fs"
import * as path from "node:path"
import { calybris, tempDir, write } from "../e2e/support/cli.js"

const dir = tempDir("pg-journal")
const key = Uint8Array.from({ length: 32 }, (_, i) => (i * 29 + 3) & 0xff)
const keyFile = write(dir, "journal.key", `hex:${Buffer.from(key).toString("hex")}\n`)

/** Some history on two tenants (one whose id the JSON writer escapes), a refusal under an id included. */
const history = Effect.gen(function*() {
  yield* PgSchema.migrate
  for (const name of ["fleet", "q\"\\é\u0001"]) {
    const t = TenantId.make(name)
    yield* PgOperations.ensureTenant(Command.ensureTenant(t, Microcents.make(100n)))
    yield* PgOperations.setExposureCap(Command.setExposureCap(t, Microcents.make(60n)))
    const a = yield* PgOperations.reserve(Command.reserve(t, Microcents.make(40n), { operation_id: `${name}-a` }))
    const b = yield* PgOperations.reserve(Command.reserve(t, Microcents.make(30n), { operation_id: `${name}-b` }))
    assert.strictEqual(b._tag, "ExposureLimitExceeded")
    if (a._tag === "Reserved") yield* PgOperations.commit(Command.commit(a.reservation_id, Microcents.make(45n)))
    yield* PgOperations.topUp(Command.topUp(t, Microcents.make(5n), { operation_id: `${name}-top` }))
  }
})

/** A fresh database of this test, migrated, with `history` in it, and a client on it. */
const database = (journalKey?: Uint8Array) =>
  Effect.gen(function*() {
    const db = yield* Postgres.makeDatabase
    const client = PgClient.layer({ url: Redacted.make(db.url), maxConnections: 2 })
    const layer: Layer.Layer<SqlClient.SqlClient, unknown> = journalKey === undefined
      ? client
      : Layer.merge(client, PgJournal.layerKey(journalKey))
    return layer
  })

const exportBoth = (file: string) =>
  Effect.gen(function*() {
    yield* history
    yield* PgJournal.writeTenant("fleet", path.join(dir, `${file}.jsonl`))
    yield* PgJournal.writeTenant("q\"\\é\u0001", path.join(dir, `${file}-escaped.jsonl`))
  })

describe.runIf(!Postgres.skip())("a tenant's journal verified by `calybris wal verify`", () => {
  it.live("an unkeyed export verifies as is; one edited amount fails at its sequence", () =>
    Effect.gen(function*() {
      const layer = yield* database()
      yield* exportBoth("plain").pipe(Effect.provide(Layer.merge(layer, NodeContext.layer)))
      const file = path.join(dir, "plain.jsonl")
      const ok = yield* Effect.promise(() => calybris(["wal", "verify", file]))
      assert.strictEqual(ok.code, 0, ok.stderr)
      assert.match(ok.stdout, /^ok: 6 entries verified \(SHA-256\), last hash [0-9a-f]{64}, /)
      const escaped = yield* Effect.promise(() => calybris(["wal", "verify", path.join(dir, "plain-escaped.jsonl")]))
      assert.strictEqual(escaped.code, 0, escaped.stderr)

      const text = fs.readFileSync(file, "utf8")
      assert.include(text, `"actual":45}`)
      const tampered = write(dir, "plain-tampered.jsonl", text.replace(`"actual":45}`, `"actual":4}`))
      const broken = yield* Effect.promise(() => calybris(["wal", "verify", tampered]))
      assert.strictEqual(broken.code, 1)
      assert.match(broken.stderr, /^WalChainBroken: WAL chain broken at sequence 5: /)
    }).pipe(Effect.scoped))

  it.live("a keyed export verifies with --key-file, and not without it", () =>
    Effect.gen(function*() {
      const layer = yield* database(key)
      yield* exportBoth("keyed").pipe(Effect.provide(Layer.merge(layer, NodeContext.layer)))
      const file = path.join(dir, "keyed.jsonl")
      const ok = yield* Effect.promise(() => calybris(["wal", "verify", file, "--key-file", keyFile]))
      assert.strictEqual(ok.code, 0, ok.stderr)
      assert.match(ok.stdout, /^ok: 6 entries verified \(HMAC-SHA256\), /)
      const unkeyed = yield* Effect.promise(() => calybris(["wal", "verify", file]))
      assert.strictEqual(unkeyed.code, 1)
      assert.match(unkeyed.stderr, /WalChainBroken: WAL chain broken at sequence 1: /)
    }).pipe(Effect.scoped))
})

describe.skipIf(!Postgres.skip())("a tenant's journal verified by `calybris wal verify`", () => {
  it.skip("PostgreSQL tests skipped: no server", () => {})
})

describe.runIf(!Postgres.skip())("PgJournal.writeTenant replaces its file atomically", () => {
  /** The node file system, its `rename` failing (after the temporary file was written and synced). */
  const failingRename = Layer.effect(
    FileSystem.FileSystem,
    Effect.map(FileSystem.FileSystem, (real) => ({
      ...real,
      rename: (from: string, _to: string) =>
        Effect.fail(
          new SystemError({ module: "FileSystem", method: "rename", reason: "Unknown", pathOrDescriptor: from })
        )
    }))
  ).pipe(Layer.provide(NodeContext.layer))

  it.live("a failed replacement leaves the old file as it was and no temporary file beside it", () =>
    Effect.gen(function*() {
      const layer = yield* database()
      const folder = fs.mkdtempSync(path.join(dir, "atomic-"))
      yield* history.pipe(Effect.provide(layer))
      // an earlier export of the chain (its first entry): what an export replaces
      const chain = Buffer.from(yield* PgJournal.exportTenant("fleet").pipe(Effect.provide(layer)))
      const previous = chain.subarray(0, chain.indexOf(0x0a) + 1).toString("utf8")
      const file = write(folder, "fleet.jsonl", previous)
      const failed = yield* PgJournal.writeTenant("fleet", file).pipe(
        Effect.flip,
        Effect.provide(Layer.merge(layer, failingRename))
      )
      assert.strictEqual(failed._tag, "JournalWriteError")
      assert.strictEqual(failed._tag === "JournalWriteError" ? failed.path : "", file)
      assert.strictEqual(fs.readFileSync(file, "utf8"), previous)
      assert.deepStrictEqual(fs.readdirSync(folder), ["fleet.jsonl"])

      const written = yield* PgJournal.writeTenant("fleet", file).pipe(
        Effect.provide(Layer.merge(layer, NodeContext.layer))
      )
      assert.deepStrictEqual(written, { entries: 6, bytes: fs.statSync(file).size })
      assert.deepStrictEqual(fs.readdirSync(folder), ["fleet.jsonl"])
      const ok = yield* Effect.promise(() => calybris(["wal", "verify", file]))
      assert.strictEqual(ok.code, 0, ok.stderr)
    }).pipe(Effect.scoped))

  it.live("with WalNode.layer (as the CLI runs it) the directory is fsynced once the file is in place; a failed fsync is a JournalWriteError", () =>
    Effect.gen(function*() {
      const layer = yield* database()
      const folder = fs.mkdtempSync(path.join(dir, "dirsync-"))
      const file = path.join(folder, "fleet.jsonl")
      yield* history.pipe(Effect.provide(layer))
      const synced: Array<[string, number]> = []
      const recording = WalNode.layerWith({
        ...WalNode.io,
        syncDirectoryOf: (at) => {
          synced.push([at, fs.existsSync(at) ? fs.statSync(at).size : -1])
          WalNode.io.syncDirectoryOf?.(at)
        }
      })
      const written = yield* PgJournal.writeTenant("fleet", file).pipe(
        Effect.provide(Layer.mergeAll(layer, NodeContext.layer, recording))
      )
      assert.deepStrictEqual(synced, [[file, written.bytes]])
      const failing = WalNode.layerWith({
        ...WalNode.io,
        syncDirectoryOf: () => {
          throw new Error("EIO: i/o error, fsync")
        }
      })
      const failed = yield* PgJournal.writeTenant("fleet", file).pipe(
        Effect.flip,
        Effect.provide(Layer.mergeAll(layer, NodeContext.layer, failing))
      )
      assert.strictEqual(failed._tag, "JournalWriteError")
      assert.include(failed.message, "fsync of its directory: EIO")
    }).pipe(Effect.scoped))
})
