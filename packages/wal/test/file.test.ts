/**
 * The file layer: reopening, refusing broken files, torn tails and `repair`, the missing final
 * newline, the writer lock, and the three durabilities.
 */
import type * as Json from "@calybris/core/Json"
import * as Chain from "@calybris/wal/Chain"
import * as Reader from "@calybris/wal/Reader"
import * as Wal from "@calybris/wal/Wal"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as FileSystem from "@effect/platform/FileSystem"
import { assert, it, layer } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import { hostname } from "node:os"
import * as Probe from "./support/ProbeFileSystem.js"

const encoder = new TextEncoder()
const decoder = new TextDecoder()

const record = (i: number): Json.Json => new Map<string, Json.Json>([["i", i], ["label", `entry ${i} é`]])

const tempLog = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const dir = yield* fs.makeTempDirectoryScoped({ prefix: "calybris-wal-" })
  return { fs, dir, path: `${dir}/log.jsonl` }
})

/** Run `body` with the file log at `path` open; it is closed (and unlocked) afterwards. */
const withWal = <A, E, R>(path: string, body: Effect.Effect<A, E, R>, options?: Wal.WalOptions) =>
  Effect.provide(body, Wal.layerFile(path, options))

const appendRange = (from: number, to: number) =>
  Effect.forEach(Array.from({ length: to - from + 1 }, (_, k) => from + k), (i) => Wal.append(record(i)))

/** Verify the file's bytes as stored, with the real FileSystem. */
const verifyOnDisk = (path: string) =>
  Effect.flatMap(
    FileSystem.FileSystem,
    (fs) => Reader.verify(fs.stream(path), { chain: Either.getOrThrow(Chain.make({})) })
  )

const lines = (bytes: Uint8Array): Array<string> => decoder.decode(bytes).split("\n")

const bytesEqual = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(Buffer.from(b))

layer(NodeContext.layer)("file layer", (it) => {
  it.scoped("reopening continues the chain", () =>
    Effect.gen(function*() {
      const { path } = yield* tempLog
      const first = yield* withWal(path, Effect.zipRight(appendRange(1, 3), Wal.head))
      assert.strictEqual(first.sequence, 3n)
      const second = yield* withWal(
        path,
        Effect.gen(function*() {
          const head = yield* Wal.head
          assert.deepStrictEqual(head, first)
          const next = yield* Wal.append(record(4))
          assert.strictEqual(next.sequence, 4n)
          assert.strictEqual(next.previous_hash, first.lastHash)
          yield* appendRange(5, 6)
          return yield* Wal.verifyWal
        })
      )
      assert.strictEqual(second.count, 6n)
      const onDisk = yield* verifyOnDisk(path)
      assert.strictEqual(onDisk.count, 6n)
      assert.strictEqual(onDisk.lastHash, second.lastHash)
    }))

  it.scoped("reopening a tampered file is refused with the typed error, and the file is left alone", () =>
    Effect.gen(function*() {
      const { fs, path } = yield* tempLog
      yield* withWal(path, appendRange(1, 3))
      const original = yield* fs.readFile(path)
      const text = decoder.decode(original)
      const cases: Array<[string, Uint8Array]> = [
        ["WalChainBroken", encoder.encode(text.replace(`"i":2,`, `"i":7,`))],
        ["WalSequenceError", encoder.encode(text.replace(`"sequence":2,`, `"sequence":5,`))],
        ["WalParseError", encoder.encode(text.replace(/\n[^\n]*\n/, "\nnot an entry\n"))],
        [
          "WalReadError",
          Buffer.concat([
            encoder.encode(text.split("\n")[0] + "\n"),
            Buffer.from([0xff, 0xfe, 0x0a]),
            encoder.encode(text)
          ])
        ]
      ]
      for (const [tag, bytes] of cases) {
        yield* fs.writeFile(path, bytes)
        const error = yield* Effect.flip(withWal(path, Wal.head))
        assert.strictEqual(error._tag, tag)
        if (error._tag === "WalChainBroken") {
          assert.strictEqual(error.sequence, 2n)
          assert.strictEqual(error.line, 2)
        }
        if (error._tag === "WalSequenceError") assert.strictEqual(error.sequence, 5n)
        if (error._tag === "WalParseError" || error._tag === "WalReadError") assert.strictEqual(error.line, 2)
        assert.isTrue(bytesEqual(yield* fs.readFile(path), bytes))
        assert.isFalse(yield* fs.exists(`${path}.lock`))
      }
    }))

  it.scoped("a torn tail fails open with WalTornTail; repair saves and truncates exactly it; the log then opens", () =>
    Effect.gen(function*() {
      const { fs, path } = yield* tempLog
      yield* withWal(path, appendRange(1, 3))
      const intact = yield* fs.readFile(path)
      const nextLine = encoder.encode(
        `{"sequence":4,"previous_hash":"x","entry_hash":"y","data":{"label":"é"}}`
      )
      const eAcute = nextLine.indexOf(0xc3)
      const partials = [
        nextLine.subarray(0, 40), // a line cut short: Eof
        nextLine.subarray(0, eAcute + 1) // cut inside a UTF-8 sequence: not UTF-8
      ]
      for (const partial of partials) {
        yield* fs.writeFile(path, Buffer.concat([intact, partial]))
        const error = yield* Effect.flip(withWal(path, Wal.head))
        assert.strictEqual(error._tag, "WalTornTail")
        if (error._tag !== "WalTornTail") continue
        assert.strictEqual(error.offset, intact.length)
        assert.strictEqual(error.length, partial.length)
        assert.strictEqual(error.line, 4)

        const report = yield* Wal.repair(path)
        assert.strictEqual(report._tag, "RepairTruncated")
        if (report._tag !== "RepairTruncated") continue
        assert.strictEqual(report.truncatedAt, intact.length)
        assert.strictEqual(report.removedBytes, partial.length)
        assert.strictEqual(report.savedTo, `${path}.torn-${intact.length}`)
        assert.strictEqual(report.count, 3n)
        assert.isTrue(bytesEqual(yield* fs.readFile(report.savedTo), partial))
        assert.isTrue(bytesEqual(yield* fs.readFile(path), intact))
        assert.isFalse(yield* fs.exists(`${path}.lock`))

        const after = yield* withWal(
          path,
          Effect.gen(function*() {
            assert.strictEqual((yield* Wal.head).sequence, 3n)
            yield* Wal.append(record(4))
            return yield* Wal.verifyWal
          })
        )
        assert.strictEqual(after.count, 4n)
        assert.strictEqual((yield* verifyOnDisk(path)).count, 4n)
        // a clean log: repair does nothing
        const before = yield* fs.readFile(path)
        const clean = yield* Wal.repair(path)
        assert.strictEqual(clean._tag, "RepairClean")
        assert.isTrue(bytesEqual(yield* fs.readFile(path), before))
        yield* fs.remove(report.savedTo)
        yield* fs.writeFile(path, intact)
      }
    }))

  it.scoped("a complete last entry missing its newline: the next append writes the newline first", () =>
    Effect.gen(function*() {
      const { fs, path } = yield* tempLog
      yield* withWal(path, appendRange(1, 2))
      const size = (yield* fs.stat(path)).size
      yield* fs.truncate(path, size - 1n)
      const reopened = yield* withWal(
        path,
        Effect.gen(function*() {
          assert.strictEqual((yield* Wal.head).sequence, 2n)
          const verified = yield* Wal.verifyWal
          assert.isTrue(verified.missingNewline)
          yield* appendRange(3, 4)
          return yield* Wal.verifyWal
        })
      )
      assert.strictEqual(reopened.count, 4n)
      assert.isFalse(reopened.missingNewline)
      const bytes = yield* fs.readFile(path)
      assert.strictEqual(bytes[bytes.length - 1], 0x0a)
      const all = lines(bytes)
      assert.strictEqual(all.length, 5) // four lines, then the empty rest after the final LF
      assert.strictEqual(all[4], "")
      all.slice(0, 4).forEach((line, k) => assert.isTrue(line.startsWith(`{"sequence":${k + 1},`)))
      assert.strictEqual((yield* verifyOnDisk(path)).count, 4n)
    }))

  it.scoped("corruption in the middle: repair refuses with WalNotRepairable and leaves the file byte-identical", () =>
    Effect.gen(function*() {
      const { fs, dir, path } = yield* tempLog
      yield* withWal(path, appendRange(1, 3))
      const text = decoder.decode(yield* fs.readFile(path))
      const broken = [
        encoder.encode(text.replace(`"i":2,`, `"i":7,`)),
        // corruption in the middle AND a torn tail: still not a torn-tail-only log
        encoder.encode(text.replace(`"i":2,`, `"i":7,`) + `{"sequence":4,"prev`),
        encoder.encode(text.replace(/\n[^\n]*\n/, "\n{\"sequence\":2\n"))
      ]
      for (const bytes of broken) {
        yield* fs.writeFile(path, bytes)
        const error = yield* Effect.flip(Wal.repair(path))
        assert.strictEqual(error._tag, "WalNotRepairable")
        assert.isTrue(bytesEqual(yield* fs.readFile(path), bytes))
        assert.deepStrictEqual((yield* fs.readDirectory(dir)).sort(), ["log.jsonl"])
      }
    }))

  it.scoped("repair of a missing log does nothing", () =>
    Effect.gen(function*() {
      const { fs, path } = yield* tempLog
      const report = yield* Wal.repair(path)
      assert.strictEqual(report._tag, "RepairClean")
      assert.isFalse(yield* fs.exists(path))
    }))

  it.scoped("one writer per file in a process: a second layer (any spelling of the path) and repair get WalLocked", () =>
    Effect.gen(function*() {
      const { dir, fs, path } = yield* tempLog
      yield* fs.symlink(path, `${dir}/alias.jsonl`).pipe(Effect.ignore)
      yield* withWal(
        path,
        Effect.gen(function*() {
          yield* Wal.append(record(1))
          for (const other of [path, `${dir}/./log.jsonl`, `${dir}/alias.jsonl`]) {
            const error = yield* Effect.flip(withWal(other, Wal.head))
            assert.strictEqual(error._tag, "WalLocked")
          }
          const refused = yield* Effect.flip(Wal.repair(path))
          assert.strictEqual(refused._tag, "WalLocked")
          // the holder still works
          yield* Wal.append(record(2))
        })
      )
      // closed: the next writer gets in
      assert.strictEqual((yield* withWal(path, Wal.head)).sequence, 2n)
    }))

  it.scoped("the lock file names its holder and is deleted when the layer's scope closes", () =>
    Effect.gen(function*() {
      const { fs, path } = yield* tempLog
      const text = yield* withWal(path, fs.readFileString(`${path}.lock`))
      assert.match(text, new RegExp(`^pid=${process.pid} host=${hostname()} started=\\S+ token=\\S+\\n$`))
      assert.isFalse(yield* fs.exists(`${path}.lock`))
    }))

  it.scoped("a live holder in another process locks the log out; its lock file is left alone", () =>
    Effect.gen(function*() {
      const { fs, path } = yield* tempLog
      const holders = [
        `pid=${process.ppid} host=${hostname()} started=2026-01-01T00:00:00.000Z token=abc\n`,
        `pid=${process.ppid} host=another-host.example started=2026-01-01T00:00:00.000Z\n`,
        // another host: even a pid that is dead here may be alive there
        `pid=2147483646 host=another-host.example started=2026-01-01T00:00:00.000Z\n`
      ]
      for (const holder of holders) {
        yield* fs.writeFileString(`${path}.lock`, holder)
        const error = yield* Effect.flip(withWal(path, Wal.head))
        assert.strictEqual(error._tag, "WalLocked")
        if (error._tag === "WalLocked") assert.include(error.holder, `pid=`)
        assert.strictEqual(yield* fs.readFileString(`${path}.lock`), holder)
      }
    }))

  it.scoped("a stale lock (dead pid, or our own pid not held by this process) is taken over", () =>
    Effect.gen(function*() {
      const { dir, fs, path } = yield* tempLog
      for (const pid of [2147483646, process.pid]) {
        yield* fs.writeFileString(`${path}.lock`, `pid=${pid} host=${hostname()} started=2020-01-01T00:00:00.000Z\n`)
        const head = yield* withWal(
          path,
          Effect.gen(function*() {
            const text = yield* fs.readFileString(`${path}.lock`)
            assert.isTrue(text.startsWith(`pid=${process.pid} `))
            yield* Wal.append(record(1))
            return yield* Wal.head
          })
        )
        assert.isTrue(head.sequence > 0n)
        assert.isFalse(yield* fs.exists(`${path}.lock`))
        assert.deepStrictEqual(yield* fs.readDirectory(dir), ["log.jsonl"])
      }
    }))

  /** Appends through the probing FileSystem; each acknowledgement records whether an fsync covered it. */
  const durabilityRun = (durability: Wal.Durability, n: number) =>
    Effect.gen(function*() {
      const { path } = yield* tempLog
      const probe = new Probe.Probe()
      const log = Wal.layerFile(path, { durability }).pipe(Layer.provide(Probe.layer(probe)))
      const covered: Array<boolean> = []
      const sealed = yield* Effect.provide(
        Effect.forEach(
          Array.from({ length: n }, (_, i) => i),
          (i) =>
            Effect.tap(Wal.append(record(i)), (s) =>
              Effect.sync(() => covered.push(probe.syncedLines >= Number(s.sequence)))),
          { concurrency: "unbounded" }
        ),
        log
      )
      const sequences = sealed.map((s) =>
        Number(s.sequence)
      ).sort((a, b) => a - b)
      assert.deepStrictEqual(sequences, Array.from({ length: n }, (_, i) => i + 1))
      assert.strictEqual((yield* verifyOnDisk(path)).count, BigInt(n))
      return { probe, covered }
    })

  it.scoped("durability \"always\": one write and one fsync per append, each before its acknowledgement", () =>
    Effect.gen(function*() {
      const { covered, probe } = yield* durabilityRun("always", 50)
      assert.strictEqual(probe.writeCalls, 50)
      assert.strictEqual(probe.syncs, 50)
      assert.isTrue(covered.every((c) => c))
    }))

  it.scoped("durability \"batch\": 100 concurrent appenders share group commits, each acknowledged after its fsync", () =>
    Effect.gen(function*() {
      const { covered, probe } = yield* durabilityRun("batch", 100)
      assert.strictEqual(covered.length, 100)
      assert.isTrue(covered.every((c) => c))
      // one buffer and one fsync per group, and fewer groups than appends
      assert.strictEqual(probe.writeCalls, probe.syncs)
      assert.isAtLeast(probe.syncs, 1)
      assert.isBelow(probe.syncs, 100)
    }))

  it.scoped("durability \"never\": no fsync at all", () =>
    Effect.gen(function*() {
      const { covered, probe } = yield* durabilityRun("never", 100)
      assert.strictEqual(covered.length, 100)
      assert.strictEqual(probe.syncCalls, 0)
      assert.isAtLeast(probe.writeCalls, 1)
    }))
})

// live: staleness compares the lock file's mtime with the real clock (`layer` offers no `it.live`)
it.live("an incomplete lock file blocks while fresh and is stale once old", () =>
  Effect.gen(function*() {
    const { fs, path } = yield* tempLog
    yield* fs.writeFileString(`${path}.lock`, "pid=12")
    const error = yield* Effect.flip(withWal(path, Wal.head))
    assert.strictEqual(error._tag, "WalLocked")
    const old = new Date((yield* Clock.currentTimeMillis) - 60_000)
    yield* fs.utimes(`${path}.lock`, old, old)
    assert.strictEqual((yield* withWal(path, Wal.head)).sequence, 0n)
    assert.isFalse(yield* fs.exists(`${path}.lock`))
  }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)))
