/**
 * The journal stays private: `Ledger.layerJournalFile` opens and owns its log (it takes no `Wal`
 * from the environment and puts none in it), so an application's own `Wal` — appending to
 * another file — cannot interleave a foreign record into the ledger's journal. The audit of a
 * journal file needs no `Wal` layer either (`JournalAudit.auditFile`).
 *
 * Work done once: opening a journal file verifies its chain and recovers the ledger in one pass
 * (each entry hashed once, counted through the chain's hash functions), and an audit reads the
 * journal's bytes once (counted through the byte stream it is given) — no timing.
 */
import { Microcents, TenantId } from "@calybris/budget/Arguments"
import * as JournalAudit from "@calybris/budget/JournalAudit"
import * as Ledger from "@calybris/budget/Ledger"
import { type InvalidArgument, LedgerRecoveryError } from "@calybris/budget/LedgerError"
import * as Hash from "@calybris/core/Hash"
import type * as Json from "@calybris/core/Json"
import * as Chain from "@calybris/wal/Chain"
import * as Wal from "@calybris/wal/Wal"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { SystemError } from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { input, policy } from "./support/fixtures.js"

const key = new Uint8Array(32).fill(11)

/** Hash functions that count every hash computed (a chain link is one HMAC under a key). */
const counting = () => {
  const counter = { hashes: 0 }
  const base = Hash.defaultHash
  const hash: Hash.HashFunctions = {
    ...base,
    hmacSha256: (k, data) => {
      counter.hashes++
      return base.hmacSha256(k, data)
    },
    sha256: (data) => {
      counter.hashes++
      return base.sha256(data)
    },
    hmacFor: (k) => {
      const mac = base.hmacFor(k)
      return (data) => {
        counter.hashes++
        return mac(data)
      }
    }
  }
  return { counter, hash }
}

/** Some ledger traffic: a tenant, holds, commits, releases and admits (each its own entry). */
const traffic = (n: number) =>
  Effect.gen(function*() {
    yield* Ledger.ensureTenant(TenantId.make("acme"), Microcents.make(1_000_000_000n))
    for (let i = 1; i <= n; i++) {
      const outcome = yield* Ledger.admit(policy, TenantId.make("acme"), input(i), { operationId: `req-${i}` })
      if (outcome._tag === "Admitted") yield* Ledger.commit(outcome.reservation_id, Microcents.make(1n))
      const hold = yield* Ledger.reserve(TenantId.make("acme"), Microcents.make(10n))
      if (hold._tag === "Reserved" && i % 2 === 0) yield* Ledger.release(hold.reservation_id)
    }
  })

const tempDir = Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped({ prefix: "calybris-jf-" }))

const bytesOf = (path: string) => Effect.flatMap(FileSystem.FileSystem, (fs) => fs.readFile(path))

/** The bytes of the log in the environment. */
const walBytes = Effect.flatMap(
  Wal.Wal,
  (wal) =>
    Effect.map(Stream.runCollect(wal.bytes), (chunks) => Uint8Array.from(Buffer.concat(Chunk.toReadonlyArray(chunks))))
)

/** A ledger journal over a shared in-memory Wal, with a foreign record appended after the first command. */
const foreignJournal = Effect.gen(function*() {
  yield* Ledger.ensureTenant(TenantId.make("acme"), Microcents.make(1_000n))
  yield* Wal.append(new Map([["app", "foreign"]]))
  yield* Ledger.reserve(TenantId.make("acme"), Microcents.make(10n))
  yield* Ledger.reserve(TenantId.make("acme"), Microcents.make(20n))
  return yield* walBytes
}).pipe(Effect.provide(Ledger.layerJournal({ checkpointEvery: 0 }).pipe(Layer.provideMerge(Wal.layerMemory({ key })))))

/** What the wrapped FileSystem saw, and the fault it injects. */
interface Probe {
  /** `fs.stream` calls per path */
  readonly streams: Map<string, number>
  /** the `failSyncAt`-th fsync of a file opened for append fails (EIO) */
  failSyncAt: number | undefined
  syncs: number
}

/**
 * The real FileSystem, every member delegated (the file's methods live on a prototype: each is
 * delegated explicitly), counting streams by path and failing one fsync of the log on demand.
 */
const probing = (probe: Probe) =>
  Layer.effect(
    FileSystem.FileSystem,
    Effect.map(FileSystem.FileSystem, (real) => {
      const wrap = (file: FileSystem.File): FileSystem.File => ({
        [FileSystem.FileTypeId]: FileSystem.FileTypeId,
        fd: file.fd,
        get stat() {
          return file.stat
        },
        seek: (offset, from) => file.seek(offset, from),
        sync: Effect.suspend(() =>
          ++probe.syncs === probe.failSyncAt
            ? Effect.fail(
              new SystemError({
                reason: "Unknown",
                module: "FileSystem",
                method: "sync",
                pathOrDescriptor: file.fd,
                description: "EIO: i/o error, fsync"
              })
            )
            : file.sync
        ),
        read: (buffer) => file.read(buffer),
        readAlloc: (size) => file.readAlloc(size),
        truncate: (length) => file.truncate(length),
        write: (buffer) => file.write(buffer),
        writeAll: (buffer) => file.writeAll(buffer)
      })
      return FileSystem.FileSystem.of({
        ...real,
        open: (path, options) => {
          // a reading of the journal: through a descriptor checked to be the writer's file (its
          // verification at the open, a read of the log's bytes), or a stream (an audit by path)
          // (a lock file's reading is not the journal's)
          if (options?.flag === "r" && !path.endsWith(".lock")) {
            probe.streams.set(path, (probe.streams.get(path) ?? 0) + 1)
          }
          return options?.flag === "a" ? Effect.map(real.open(path, options), wrap) : real.open(path, options)
        },
        stream: (path, options) => {
          probe.streams.set(path, (probe.streams.get(path) ?? 0) + 1)
          return real.stream(path, options)
        }
      })
    })
  ).pipe(Layer.provide(NodeContext.layer))

describe("Ledger.layerJournalFile: the journal stays private", () => {
  it.live("an application appending to its own Wal (another file) leaves the ledger's journal intact", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const journal = `${dir}/ledger.jsonl`
      const appLog = `${dir}/app.jsonl`
      const ledger = Ledger.layerJournalFile(journal, { key, checkpointEvery: 3 })
      // the application's own log is in the environment: the ledger neither uses nor replaces it
      const app = Wal.layerFile(appLog, { key })
      const before = yield* Effect.gen(function*() {
        yield* Ledger.ensureTenant(TenantId.make("acme"), Microcents.make(1_000_000n))
        for (let i = 1; i <= 10; i++) {
          const hold = yield* Ledger.reserve(TenantId.make("acme"), Microcents.make(100n), { operationId: `op-${i}` })
          yield* Wal.append(new Map<string, Json.Json>([["app", "not a ledger record"], ["n", i]]))
          if (hold._tag === "Reserved" && i % 3 === 0) yield* Ledger.commit(hold.reservation_id, Microcents.make(40n))
        }
        return yield* Ledger.balances
      }).pipe(Effect.provide(Layer.merge(ledger, app)))
      // recovery from the ledger's own file: every command, no foreign record
      const after = yield* Ledger.balances.pipe(Effect.provide(ledger))
      assert.deepStrictEqual(after, before)
      assert.strictEqual(after.tenants[0]?.reserved_microcents, 700n)
      // the application's records are in its own log, all ten of them
      const appVerified = yield* Wal.verify.pipe(Effect.provide(app))
      assert.strictEqual(appVerified.count, 10n)
      // and a retry after the reopen is still recognised (the operation ids were recovered)
      const retried = yield* Ledger.reserve(TenantId.make("acme"), Microcents.make(100n), { operationId: "op-10" })
        .pipe(Effect.provide(ledger))
      assert.strictEqual(retried._tag, "Reserved")
      assert.deepStrictEqual(yield* Ledger.balances.pipe(Effect.provide(ledger)), before)
    }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)))

  it.live("the ledger ignores a Wal in the environment: an application's Wal on the ledger's own path is locked out", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const journal = `${dir}/ledger.jsonl`
      // an application that (wrongly) opens the ledger's file as its own Wal cannot write into it
      // while the ledger holds it: the ledger's log is opened (and locked) by the ledger itself
      const exit = yield* Effect.gen(function*() {
        yield* Ledger.ensureTenant(TenantId.make("acme"), Microcents.make(1_000n))
        return yield* Effect.exit(
          Wal.append(new Map([["app", "foreign"]])).pipe(Effect.provide(Wal.layerFile(journal, { key })))
        )
      }).pipe(Effect.provide(Ledger.layerJournalFile(journal, { key, checkpointEvery: 0 })))
      assert.isTrue(exit._tag === "Failure" && String(exit.cause).includes("WalLocked"), String(exit))
      const balances = yield* Ledger.balances.pipe(Effect.provide(Ledger.layerJournalFile(journal, { key })))
      assert.strictEqual(balances.tenants[0]?.initial_microcents, 1_000n)
    }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)))

  it.effect("layerJournal over a shared Wal: a foreign append fails the next recovery closed (why its log must be the ledger's alone)", () =>
    Effect.gen(function*() {
      const bytes = yield* foreignJournal
      const error = yield* Effect.flip(
        Ledger.balances.pipe(Effect.provide(Ledger.layerJournalMemory({ key, checkpointEvery: 0 }, bytes)))
      )
      assert.instanceOf(error, LedgerRecoveryError)
      assert.include((error as LedgerRecoveryError).reason, "journal entry 2 is not a ledger record")
    }))
})

describe("Ledger.layerJournalFile fails closed as the WAL's open did", () => {
  it.live("a broken chain after a foreign record: the chain's failure wins, as when the WAL verified before recovery", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* tempDir
      const journal = `${dir}/ledger.jsonl`
      const bytes = yield* foreignJournal
      yield* fs.writeFile(journal, bytes)
      const foreign = yield* Effect.flip(
        Ledger.balances.pipe(Effect.provide(Ledger.layerJournalFile(journal, { key })))
      )
      assert.instanceOf(foreign, LedgerRecoveryError)
      // the last entry's amount altered: its MAC no longer matches
      const text = new TextDecoder().decode(bytes)
      const tampered = text.replace(/"amount":20\}/, `"amount":21}`)
      assert.notStrictEqual(tampered, text)
      yield* fs.writeFileString(journal, tampered)
      const broken = yield* Effect.flip(Ledger.balances.pipe(Effect.provide(Ledger.layerJournalFile(journal, { key }))))
      assert.strictEqual(broken._tag, "WalChainBroken")
      assert.strictEqual((broken as { readonly line: number }).line, 4)
      // a torn final line: WalTornTail, and nothing is written (the file is unchanged)
      yield* fs.writeFile(journal, bytes.subarray(0, bytes.length - 7))
      const torn = yield* Effect.flip(Ledger.balances.pipe(Effect.provide(Ledger.layerJournalFile(journal, { key }))))
      assert.strictEqual(torn._tag, "WalTornTail")
      assert.deepStrictEqual(yield* bytesOf(journal), bytes.subarray(0, bytes.length - 7))
      // the wrong key: the first line's MAC
      yield* fs.writeFile(journal, bytes)
      const wrongKey = yield* Effect.flip(
        Ledger.balances.pipe(Effect.provide(Ledger.layerJournalFile(journal, { key: new Uint8Array(32) })))
      )
      assert.strictEqual(wrongKey._tag, "WalChainBroken")
      assert.strictEqual((wrongKey as { readonly line: number }).line, 1)
    }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)))
})

describe("JournalAudit.auditFile: an audit without a Wal layer", () => {
  it.live("audits every admit of a journal file, given only a FileSystem", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const journal = `${dir}/ledger.jsonl`
      yield* traffic(6).pipe(Effect.provide(Ledger.layerJournalFile(journal, { key, checkpointEvery: 4 })))
      const verdicts = yield* JournalAudit.auditFile(journal, [policy], { key })
      assert.strictEqual(verdicts.length, 6)
      assert.isTrue(verdicts.every((v) => v.replay_valid && v.policy_digest_match && v.decision_digest_match))
      // under another key the chain does not verify: refused before any audit
      const wrong = yield* Effect.flip(JournalAudit.auditFile(journal, [policy], { key: new Uint8Array(32).fill(1) }))
      assert.strictEqual(wrong._tag, "WalChainBroken")
      // a missing file is an I/O error naming it, not an empty journal
      const missing = yield* Effect.flip(JournalAudit.auditFile(`${dir}/none.jsonl`, [policy], { key }))
      assert.strictEqual(missing._tag, "WalIoError")
    }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)))
})

describe("work done once", () => {
  it.live("opening a journal file hashes each entry of its chain once (verification and recovery in one pass)", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const journal = `${dir}/ledger.jsonl`
      const { counter, hash } = counting()
      const layer = Ledger.layerJournalFile(journal, { key, hash, checkpointEvery: 5 })
      yield* traffic(8).pipe(Effect.provide(layer))
      const entries = (yield* Wal.verify.pipe(Effect.provide(Wal.layerFile(journal, { key })))).count
      assert.isTrue(entries > 20n)
      counter.hashes = 0
      const recovered = yield* Ledger.balances.pipe(Effect.provide(layer))
      assert.strictEqual(recovered.tenants.length, 1)
      assert.strictEqual(BigInt(counter.hashes), entries, "one chain link per entry")
    }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)))

  it.live("opening a journal file streams it once (a FileSystem that counts reads)", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const journal = `${dir}/ledger.jsonl`
      const probe: Probe = { streams: new Map(), failSyncAt: undefined, syncs: 0 }
      const layer = Ledger.layerJournalFile(journal, { key, checkpointEvery: 5 }).pipe(Layer.provide(probing(probe)))
      yield* traffic(3).pipe(Effect.provide(layer))
      probe.streams.clear()
      yield* Ledger.balances.pipe(Effect.provide(layer))
      assert.deepStrictEqual([...probe.streams], [[journal, 1]])
      probe.streams.clear()
      yield* JournalAudit.auditFile(journal, [policy], { key }).pipe(Effect.provide(probing(probe)))
      assert.deepStrictEqual([...probe.streams], [[journal, 1]])
    }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)))

  it.live("a failed fsync fails the ledger closed; the journal then recovers what was acknowledged", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const journal = `${dir}/ledger.jsonl`
      const probe: Probe = { streams: new Map(), failSyncAt: 3, syncs: 0 }
      const layer = Ledger.layerJournalFile(journal, { key, checkpointEvery: 0 }).pipe(Layer.provide(probing(probe)))
      const seen = yield* Effect.gen(function*() {
        yield* Ledger.ensureTenant(TenantId.make("t"), Microcents.make(1_000n))
        yield* Ledger.reserve(TenantId.make("t"), Microcents.make(100n))
        const failed = yield* Effect.flip(Ledger.reserve(TenantId.make("t"), Microcents.make(200n)))
        const after = yield* Effect.flip(Ledger.ensureTenant(TenantId.make("u"), Microcents.make(1n)))
        return { failed: failed._tag, after: after._tag }
      }).pipe(Effect.provide(layer))
      assert.deepStrictEqual(seen, { failed: "LedgerStoreError", after: "LedgerStoreError" })
      // the unacknowledged reserve may be in the file (written, its fsync failed): the journal
      // holds the acknowledged commands, and at most that one more
      const reserved = (yield* Ledger.balances.pipe(Effect.provide(Ledger.layerJournalFile(journal, { key }))))
        .tenants[0]?.reserved_microcents
      assert.include([100n, 300n], reserved)
    }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)))

  it.effect("the memory journal also recovers in the pass that verifies its bytes", () =>
    Effect.gen(function*() {
      const { counter, hash } = counting()
      const bytes = yield* Effect.zipRight(traffic(5), walBytes).pipe(
        Effect.provide(Ledger.layerJournal({ checkpointEvery: 4 }).pipe(Layer.provideMerge(Wal.layerMemory({ key }))))
      )
      const entries = (yield* Wal.verify.pipe(Effect.provide(Wal.layerMemory({ key }, bytes)))).count
      counter.hashes = 0
      yield* Ledger.balances.pipe(Effect.provide(Ledger.layerJournalMemory({ key, hash }, bytes)))
      assert.strictEqual(BigInt(counter.hashes), entries)
    }))

  it.live("an audit reads the journal's bytes once", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const journal = `${dir}/ledger.jsonl`
      yield* traffic(4).pipe(Effect.provide(Ledger.layerJournalFile(journal, { key, checkpointEvery: 3 })))
      const bytes = yield* bytesOf(journal)
      let reads = 0
      const stream = Stream.suspend(() => {
        reads++
        return Stream.make(bytes)
      })
      const chain = Either.getOrThrow(Chain.make({ key }))
      const verdicts = yield* JournalAudit.auditBytes(stream, { chain }, [policy])
      assert.strictEqual(verdicts.length, 4)
      assert.strictEqual(reads, 1, "the bytes are read once")
    }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)))
})

describe("Ledger.layerJournalFile: lines the log's reader could not read back", () => {
  it.live("a group of commands that fit one by one but not on one line is journaled on several lines: every command answered, nothing lost, the journal reopens alike", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const journal = `${dir}/ledger.jsonl`
      // each reserve's record fits in 1,500 bytes with a 200-byte operation id; eight do not
      const options = { key, checkpointEvery: 0, maxLineBytes: 1500 }
      const tenant = TenantId.make("acme")
      const id = (i: number) => `${String(i).padStart(3, "0")}-${"r".repeat(196)}`
      const first = yield* Effect.gen(function*() {
        yield* Ledger.ensureTenant(tenant, Microcents.make(100n))
        // 16 at once (one group): the last 6 refused (Insufficient) under their ids, remembered too
        const results = yield* Effect.all(
          Array.from({ length: 16 }, (_, i) => Ledger.reserve(tenant, Microcents.make(10n), { operationId: id(i) })),
          { concurrency: "unbounded" }
        )
        // the ledger goes on serving
        const after = yield* Ledger.topUp(tenant, Microcents.make(5n), { operationId: "after" })
        return { results, after, balances: yield* Ledger.balances }
      }).pipe(Effect.provide(Ledger.layerJournalFile(journal, options)))
      assert.deepStrictEqual(first.results.map((r) => r._tag), [
        ...Array.from({ length: 10 }, () => "Reserved"),
        ...Array.from({ length: 6 }, () => "Insufficient")
      ])
      assert.strictEqual(first.after._tag, "ToppedUp")
      const text = new TextDecoder().decode(yield* (yield* FileSystem.FileSystem).readFile(journal))
      const lines = text.split("\n").slice(0, -1)
      assert.isTrue(lines.every((line) => new TextEncoder().encode(line).length <= 1500))
      // the ensure, the 16 records on more than one line, the top-up
      assert.isAbove(lines.length, 3)
      assert.strictEqual(lines.filter((line) => line.includes("-rrrr")).length, lines.length - 2)
      // reopened: the same state, and every operation id remembered with its result
      const again = yield* Effect.gen(function*() {
        const retried = yield* Effect.forEach(
          Array.from({ length: 16 }, (_, i) => i),
          (i) => Ledger.reserve(tenant, Microcents.make(10n), { operationId: id(i) })
        )
        return { retried, balances: yield* Ledger.balances }
      }).pipe(Effect.provide(Ledger.layerJournalFile(journal, { ...options, verifyCheckpoints: true })))
      assert.deepStrictEqual(again.retried, first.results)
      assert.deepStrictEqual(again.balances, first.balances)
      // and the journal audits
      assert.deepStrictEqual(yield* JournalAudit.auditFile(journal, [policy], { key, maxLineBytes: 1500 }), [])
    }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)))

  it.live("a group holding one command whose record could not fit a line alone: that command is refused (InvalidArgument) before anything changes, the others are applied and journaled, the ledger serves on (a helper's hostile review: applied, then refused by the log, it failed the ledger closed for every caller)", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const journal = `${dir}/ledger.jsonl`
      const options = { key, checkpointEvery: 0, maxLineBytes: 1200 }
      const tenant = TenantId.make("acme")
      const id = (i: number) => `${String(i).padStart(3, "0")}-${"r".repeat(196)}`
      yield* Ledger.ensureTenant(tenant, Microcents.make(100n)).pipe(
        Effect.provide(Ledger.layerJournalFile(journal, options))
      )
      // one group: reserves that fit, and an ensure whose 1,024-byte tenant id does not fit alone
      const group: ReadonlyArray<Effect.Effect<unknown, { readonly _tag: string }, Ledger.Ledger>> = [
        Ledger.reserve(tenant, Microcents.make(10n), { operationId: id(0) }),
        Ledger.reserve(tenant, Microcents.make(10n), { operationId: id(1) }),
        Ledger.ensureTenant(TenantId.make("t".repeat(1024)), Microcents.make(1n)),
        Ledger.reserve(tenant, Microcents.make(10n), { operationId: id(2) })
      ]
      const results = yield* Effect.all(
        group.map((command) => Effect.either(command)),
        { concurrency: "unbounded" }
      ).pipe(Effect.provide(Ledger.layerJournalFile(journal, options)))
      assert.deepStrictEqual(
        results.map((r) => Either.isLeft(r) ? r.left._tag : (r.right as { readonly _tag: string })._tag),
        ["Reserved", "Reserved", "InvalidArgument", "Reserved"]
      )
      const refused = results[2]
      if (refused !== undefined && Either.isLeft(refused)) {
        assert.strictEqual((refused.left as InvalidArgument).field, "command")
        assert.include((refused.left as InvalidArgument).message, "line limit (maxLineBytes) of 1200")
      }
      // reopened: the three reserves, not the ensure
      const after = yield* Ledger.balances.pipe(Effect.provide(Ledger.layerJournalFile(journal, options)))
      assert.strictEqual(after.tenants.length, 1)
      assert.strictEqual(after.active_reservations, 3n)
    }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)))

  it.live("a group of admits whose metadata fit one by one but not together: every admit answered and journaled with its decision", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const journal = `${dir}/ledger.jsonl`
      const options = { key, checkpointEvery: 0, maxLineBytes: 40_000 }
      const tenant = TenantId.make("acme")
      const admits = yield* Effect.gen(function*() {
        yield* Ledger.ensureTenant(tenant, Microcents.make(1_000_000_000n))
        return yield* Effect.all(
          Array.from({ length: 24 }, (_, i) =>
            Ledger.admit(policy, tenant, input(i + 1), {
              operationId: `admit-${i}`,
              metadata: new Map<string, Json.Json>([["note", "m".repeat(6_000)], ["i", BigInt(i)]])
            })),
          { concurrency: "unbounded" }
        )
      }).pipe(Effect.provide(Ledger.layerJournalFile(journal, options)))
      assert.isTrue(admits.every((a) => a._tag === "Admitted"), JSON.stringify(admits.map((a) => a._tag)))
      const text = new TextDecoder().decode(yield* (yield* FileSystem.FileSystem).readFile(journal))
      const lines = text.split("\n").slice(0, -1)
      assert.isTrue(lines.every((line) => new TextEncoder().encode(line).length <= 40_000))
      assert.strictEqual((text.match(/"m{6000}"/g) ?? []).length, 24)
      const retried = yield* Effect.forEach(
        Array.from({ length: 24 }, (_, i) => i),
        (i) =>
          Ledger.admit(policy, tenant, input(i + 1), {
            operationId: `admit-${i}`,
            metadata: new Map<string, Json.Json>([["note", "m".repeat(6_000)], ["i", BigInt(i)]])
          })
      ).pipe(
        Effect.provide(Ledger.layerJournalFile(journal, options))
      )
      assert.deepStrictEqual(retried, admits)
      // every admit audits against its decision
      const audit = yield* JournalAudit.auditFile(journal, [policy], { key, maxLineBytes: 40_000 })
      assert.strictEqual(audit.length, 24)
    }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)))

  it.live("a checkpoint longer than maxLineBytes is skipped (nothing written; the ledger goes on); a command too long for a line is refused before anything changes and the ledger serves on; the journal reopens with the same options", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const journal = `${dir}/ledger.jsonl`
      // commands fit in 600 bytes; a checkpoint of 12 tenants does not
      const options = { key, checkpointEvery: 4, maxLineBytes: 600 }
      const before = yield* Effect.gen(function*() {
        for (let t = 0; t < 12; t++) {
          yield* Ledger.ensureTenant(TenantId.make(`tenant-${String(t).padStart(2, "0")}`), Microcents.make(1_000_000n))
        }
        for (let i = 1; i <= 6; i++) {
          yield* Ledger.reserve(TenantId.make("tenant-03"), Microcents.make(10n), { operationId: `op-${i}` })
        }
        return yield* Ledger.balances
      }).pipe(Effect.provide(Ledger.layerJournalFile(journal, options)))
      assert.strictEqual(before.tenants.length, 12)
      const text = new TextDecoder().decode(yield* (yield* FileSystem.FileSystem).readFile(journal))
      const lines = text.split("\n").slice(0, -1)
      // every command journaled (12 + 6), no checkpoint (each was past the limit), no line too long
      assert.strictEqual(lines.length, 18)
      assert.isTrue(lines.every((line) => new TextEncoder().encode(line).length <= 600))
      assert.isFalse(lines.some((line) => line.includes(`"checkpoint"`)))
      // reopened under the same options: every command replayed
      const after = yield* Ledger.balances.pipe(Effect.provide(Ledger.layerJournalFile(journal, options)))
      assert.deepStrictEqual(after, before)
      // a command whose journal line would be too long is refused before anything changes, and
      // writes nothing; the ledger serves on (before, it failed closed)
      const size = text.length
      const refused = yield* Effect.either(
        Ledger.ensureTenant(TenantId.make("x".repeat(256)), Microcents.make(1n)).pipe(
          Effect.provide(Ledger.layerJournalFile(journal, { ...options, maxLineBytes: 400 }))
        )
      )
      assert.isTrue(Either.isLeft(refused) && refused.left._tag === "InvalidArgument", String(refused))
      if (Either.isLeft(refused) && refused.left._tag === "InvalidArgument") {
        assert.include(refused.left.message, "line limit (maxLineBytes) of 400")
      }
      assert.strictEqual((yield* (yield* FileSystem.FileSystem).readFile(journal)).length, size)
      const served = yield* Effect.gen(function*() {
        yield* Effect.flip(Ledger.ensureTenant(TenantId.make("x".repeat(256)), Microcents.make(1n)))
        yield* Ledger.ensureTenant(TenantId.make("y"), Microcents.make(1n))
        return yield* Ledger.balances
      }).pipe(Effect.provide(Ledger.layerJournalFile(journal, { ...options, maxLineBytes: 400 })))
      assert.strictEqual(served.tenants.length, 13)
      assert.deepStrictEqual(
        yield* Ledger.balances.pipe(Effect.provide(Ledger.layerJournalFile(journal, options))),
        served
      )
    }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)))
})

describe("closing a journaled ledger's scope answers every caller (a hostile review: they hung forever)", () => {
  const closing = (name: string, layer: (journal: string) => Layer.Layer<Ledger.Ledger, unknown>) =>
    it.live(`${name}: commands queued, waiting for room or being written are answered; each one answered with a result is journaled, each refused as closed is not; a command after it fails at once`, () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const journal = `${dir}/closing.jsonl`
        const scope = yield* Scope.make()
        const context = yield* Layer.buildWithScope(layer(journal), scope)
        const run = <A, E>(effect: Effect.Effect<A, E, Ledger.Ledger>) => Effect.provide(effect, context)
        yield* run(Ledger.ensureTenant(TenantId.make("t"), Microcents.make(1_000_000n)))
        const fibers = yield* Effect.forEach(
          Array.from({ length: 200 }, (_, i) => i),
          (i) => Effect.fork(run(Ledger.reserve(TenantId.make("t"), Microcents.make(1n), { operationId: `r${i}` })))
        )
        yield* Effect.sleep("2 millis")
        yield* Scope.close(scope, Exit.void)
        const outcomes = yield* Effect.forEach(
          fibers,
          (fiber) =>
            Fiber.await(fiber).pipe(Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => "hung" as const }))
        )
        let answered = 0
        for (const outcome of outcomes) {
          if (Exit.isSuccess(outcome)) {
            answered++
            continue
          }
          const error = Cause.failureOption(outcome.cause)
          assert.isTrue(Option.isSome(error), Cause.pretty(outcome.cause))
          if (Option.isSome(error)) assert.include((error.value as { message: string }).message, "scope is closed")
        }
        const after = yield* Effect.either(
          run(Ledger.topUp(TenantId.make("t"), Microcents.make(1n))).pipe(
            Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => "hung" as const })
          )
        )
        assert.isTrue(Either.isLeft(after) && typeof after.left === "object" && after.left._tag === "LedgerStoreError")
        // reopened: exactly the answered reserves are held
        const reopened = yield* Ledger.balance(TenantId.make("t")).pipe(
          Effect.provide(Ledger.layerJournalFile(journal, { key })),
          Effect.scoped
        )
        assert.strictEqual(Option.getOrThrow(reopened).reserved_microcents, BigInt(answered))
      }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)))
  closing(
    "layerJournalFile (always)",
    (journal) =>
      Ledger.layerJournalFile(journal, { key, durability: "always", maxPending: 16 }).pipe(
        Layer.provide(NodeContext.layer)
      )
  )
  closing(
    "layerJournalFile (batch)",
    (journal) =>
      Ledger.layerJournalFile(journal, { key, durability: "batch", maxPending: 16 }).pipe(
        Layer.provide(NodeContext.layer)
      )
  )
})
