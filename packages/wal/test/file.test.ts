/**
 * The file layer: reopening, refusing broken files, torn tails and `repair`, the missing final
 * newline, the writer lock, and the three durabilities.
 */
import type * as Json from "@calybris/core/Json"
import * as Env from "@calybris/testing/Env"
import { failureTag } from "@calybris/testing/Exits"
import * as Chain from "@calybris/wal/Chain"
import * as Reader from "@calybris/wal/Reader"
import * as Wal from "@calybris/wal/Wal"
import { WalNotAFile } from "@calybris/wal/WalError"
import * as WalNode from "@calybris/wal/WalNode"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as FileSystem from "@effect/platform/FileSystem"
import { assert, it, layer } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { execFileSync } from "node:child_process"
import * as nodeFs from "node:fs"
import { hostname } from "node:os"
import * as nodePath from "node:path"
import { threadId } from "node:worker_threads"
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
          return yield* Wal.verify
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

  it.scoped("a log file removed under its writer fails the writer at the next round, with and without WalNode, under every durability, and stays failed (a hostile review: appends went on succeeding into the removed file)", () =>
    Effect.gen(function*() {
      // real time (the test's clock is a TestClock): the flusher writes meanwhile
      const pause = Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 20)))
      const { fs, dir } = yield* tempLog
      const cases = [
        ["always", false],
        ["always", true],
        ["batch", false],
        ["batch", true],
        ["never", false],
        ["never", true]
      ] as const
      for (const [durability, node] of cases) {
        const path = `${dir}/removed-${durability}-${node}.jsonl`
        const layer = node
          ? Wal.layerFile(path, { durability }).pipe(Layer.provide(WalNode.layer))
          : Wal.layerFile(path, { durability })
        yield* Effect.scoped(Effect.gen(function*() {
          const context = yield* Layer.build(layer)
          const append = (i: number) => Effect.either(Effect.provide(Wal.append(record(i)), context))
          assert.isTrue(Either.isRight(yield* append(1)))
          // under "never" an append is acknowledged when sealed: let the first round be written
          yield* pause
          yield* fs.remove(path)
          const outcomes: Array<Either.Either<unknown, { readonly _tag: string; readonly message: string }>> = []
          for (let i = 2; i <= 4; i++) {
            outcomes.push(yield* append(i))
            yield* pause
          }
          const what = `${durability}${node ? ", WalNode" : ""}`
          // under "always" and "batch" the first append after the removal fails itself; under
          // "never" (acknowledged when sealed) a later one
          if (durability !== "never") assert.isTrue(Either.isLeft(outcomes[0] as Either.Either<unknown, unknown>), what)
          const failed = outcomes.find(Either.isLeft)
          assert.isDefined(failed, what)
          if (failed !== undefined && Either.isLeft(failed)) {
            assert.include(failed.left.message, "no directory entry names it any more", what)
          }
          // and the writer stays failed
          assert.isTrue(Either.isLeft(yield* append(5)), what)
        }))
      }
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("maxLineBytes out of range is refused before the file is touched: no file made, an existing one unchanged, no lock, repair refuses too", () =>
    Effect.gen(function*() {
      const { fs, path } = yield* tempLog
      const refused = yield* Effect.flip(withWal(path, Wal.head, { maxLineBytes: Number.NaN }))
      assert.strictEqual(refused._tag, "WalOptionsInvalid")
      assert.isFalse(yield* fs.exists(path))
      assert.isFalse(yield* fs.exists(`${path}.lock`))
      yield* withWal(path, appendRange(1, 2))
      const before = yield* fs.readFile(path)
      for (const bad of [0, 2.5]) {
        const error = yield* Effect.flip(withWal(path, Wal.append(new Map([["i", 3]])), { maxLineBytes: bad }))
        assert.strictEqual(error._tag, "WalOptionsInvalid")
        assert.strictEqual(
          error.message,
          `invalid WAL option maxLineBytes = ${bad}: not a positive integer (1 to 2^53 - 1 bytes)`
        )
        const repair = yield* Effect.flip(Wal.repair(path, { maxLineBytes: bad }))
        assert.strictEqual(repair._tag, "WalOptionsInvalid")
        assert.isTrue(bytesEqual(yield* fs.readFile(path), before))
        assert.isFalse(yield* fs.exists(`${path}.lock`))
      }
    }))

  it.scoped("a durability none of the three (a misspelt one) is refused before the file is touched, in both layers (a helper's hostile review: it was taken as batch)", () =>
    Effect.gen(function*() {
      const { fs, path } = yield* tempLog
      for (const bad of ["Never", "", "fsync", 1, null]) {
        const options = { durability: bad as unknown as Wal.Durability }
        const error = yield* Effect.flip(withWal(path, Wal.head, options))
        assert.strictEqual(error._tag, "WalOptionsInvalid")
        assert.include(error.message, "durability")
        assert.isFalse(yield* fs.exists(path))
        assert.isFalse(yield* fs.exists(`${path}.lock`))
        const memory = yield* Effect.flip(Effect.scoped(Wal.makeMemory(options)))
        assert.strictEqual(memory._tag, "WalOptionsInvalid")
      }
      for (const good of ["always", "batch", "never", undefined] as const) {
        yield* withWal(path, Wal.head, good === undefined ? {} : { durability: good })
      }
    }))

  it.scoped("a torn tail fails open with WalTornTail; repair saves and truncates exactly it; the log then opens", () =>
    Effect.gen(function*() {
      const { fs, path } = yield* tempLog
      const head = yield* withWal(path, Effect.zipRight(appendRange(1, 3), Wal.head))
      const intact = yield* fs.readFile(path)
      // as a crash cuts entry 4: its sequence and the hash before it as the writer spells them
      const nextLine = encoder.encode(
        `{"sequence":4,"previous_hash":"${head.lastHash}","entry_hash":"${"7".repeat(64)}","data":{"label":"é"}}`
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
            return yield* Wal.verify
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

  it.scoped("an incomplete final line that is not the start of the next entry (another sequence, another previous hash, not an entry) is not repaired: no crash leaves it (a hostile review)", () =>
    Effect.gen(function*() {
      const { fs, path } = yield* tempLog
      const head = yield* withWal(path, Effect.zipRight(appendRange(1, 2), Wal.head))
      const intact = yield* fs.readFile(path)
      const prev = head.lastHash
      for (
        const junk of [
          `{"sequence":3,"previous_hash":"genesis","entry_hash":"00","data":{"audit":{"policy_digest_hex":"evil"`,
          `{"sequence":7,"previous_hash":"${prev}","entry_hash":"`,
          `{"previous_hash":"${prev}","sequence":3,"entry_hash":"`,
          ` {"sequence":3`,
          `{"data":{"x":1`,
          // the right sequence and previous hash, then no entry hash a writer writes (64
          // lowercase hex digits, then the data): junk still (a review of the fix)
          `{"sequence":3,"previous_hash":"${prev}","entry_hash":"NOT A HASH, an operator note: tenant acme owes 5000","comment":{"x":`,
          `{"sequence":3,"previous_hash":"${prev}","entry_hash":"${"A".repeat(64)}","data":1`,
          `{"sequence":3,"previous_hash":"${prev}","entry_hash":"${"a".repeat(64)}","comment":{`
        ]
      ) {
        const bytes = Buffer.concat([intact, encoder.encode(junk)])
        yield* fs.writeFile(path, bytes)
        const refused = yield* Effect.flip(Wal.repair(path))
        assert.strictEqual(refused._tag, "WalNotRepairable", junk)
        assert.include(refused.message, "is not the start of entry 3", junk)
        assert.deepStrictEqual(yield* fs.readFile(path), new Uint8Array(bytes), junk)
      }
      // every prefix of the real next line is a crash's, and is repaired
      const line = `{"sequence":3,"previous_hash":"${prev}","entry_hash":"${"0a".repeat(32)}","data":{"x":[1,`
      for (const cut of [1, 12, 30, 140, 160, line.length - 1, line.length]) {
        yield* fs.writeFile(path, Buffer.concat([intact, encoder.encode(line.slice(0, cut))]))
        const report = yield* Wal.repair(path)
        assert.strictEqual(report._tag, "RepairTruncated", String(cut))
        if (report._tag === "RepairTruncated") yield* fs.remove(report.savedTo)
      }
    }))

  it.scoped("repair saves the torn tail readable by no one the log is not, and leaves no copy when saving it fails (a helper's hostile review)", () =>
    Effect.gen(function*() {
      const { fs, path } = yield* tempLog
      const head = yield* withWal(path, Effect.zipRight(appendRange(1, 2), Wal.head))
      const intact = yield* fs.readFile(path)
      const torn = encoder.encode(
        `{"sequence":3,"previous_hash":"${head.lastHash}","entry_hash":"${"e".repeat(64)}","data":"secret-partial`
      )
      for (const mode of [0o600, 0o640]) {
        yield* fs.writeFile(path, Buffer.concat([intact, torn]))
        nodeFs.chmodSync(path, mode)
        const report = yield* Wal.repair(path)
        if (report._tag !== "RepairTruncated") return assert.fail(report._tag)
        assert.strictEqual(nodeFs.statSync(report.savedTo).mode & 0o777, mode)
        yield* fs.remove(report.savedTo)
      }
      // the copy's write fails (a full disk): the repair fails, truncates nothing, and leaves no
      // empty "saved tail" behind (the next repair would save beside it, as <offset>-2)
      yield* fs.writeFile(path, Buffer.concat([intact, torn]))
      const failingCopies = Layer.effect(
        FileSystem.FileSystem,
        Effect.map(FileSystem.FileSystem, (real) => Probe.failingWrites(real, (_, options) => options?.flag === "wx"))
      ).pipe(Layer.provide(NodeContext.layer))
      const failed = yield* Effect.flip(Wal.repair(path).pipe(Effect.provide(failingCopies)))
      assert.strictEqual(failed._tag, "WalIoError")
      assert.isFalse(yield* fs.exists(`${path}.torn-${intact.length}`))
      assert.isTrue(bytesEqual(yield* fs.readFile(path), Buffer.concat([intact, torn])))
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
          const verified = yield* Wal.verify
          assert.isTrue(verified.missingNewline)
          yield* appendRange(3, 4)
          return yield* Wal.verify
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

  it.scoped("a blank last line without its newline (white space to the reader, JSON's or not): the next append writes the newline first, file and memory (a hostile review)", () =>
    Effect.gen(function*() {
      const { fs, path } = yield* tempLog
      for (const tail of ["\u00a0", "\u000b", "\f", "\u2028", "\u3000", "  ", "\t", "\r"]) {
        yield* fs.remove(path, { force: true })
        yield* withWal(path, appendRange(1, 1))
        const one = yield* fs.readFile(path)
        const planted = Buffer.concat([one, Buffer.from(tail, "utf8")])
        yield* fs.writeFile(path, planted)
        const verified = yield* withWal(
          path,
          Effect.gen(function*() {
            const before = yield* Wal.verify
            assert.deepStrictEqual([before.count, before.missingNewline, before.unterminated], [1n, false, true])
            yield* appendRange(2, 3)
            return yield* Wal.verify
          })
        )
        assert.strictEqual(verified.count, 3n, JSON.stringify(tail))
        assert.isFalse(verified.unterminated)
        // reopened: the appended entries are read back (on a line of their own)
        assert.strictEqual((yield* verifyOnDisk(path)).count, 3n)
        assert.strictEqual((yield* withWal(path, Wal.head)).sequence, 3n)
        // the memory layer over the same bytes alike
        const memory = yield* Effect.provide(
          Effect.zipRight(appendRange(2, 3), Wal.verify),
          Wal.layerMemory({}, planted)
        )
        assert.strictEqual(memory.count, 3n)
      }
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

  it.scoped("a last line no crash leaves (a complete entry with a byte changed or one added, garbage) is corruption: repair refuses it and removes nothing; every start of an entry, cut, is torn and repaired (a hostile review)", () =>
    Effect.gen(function*() {
      const { fs, dir, path } = yield* tempLog
      yield* withWal(path, appendRange(1, 3))
      const whole = yield* fs.readFile(path)
      const text = decoder.decode(whole)
      const head = text.slice(0, text.lastIndexOf("\n", text.length - 2) + 1)
      const last = text.slice(head.length, -1)
      const corrupt = [
        encoder.encode(head + last + "}"),
        encoder.encode(head + last.replace("\"sequence\":3", "\"sequence\":3x")),
        encoder.encode(head + last.replace("\"sequence\":3", "\"sequence\":\"3\"")),
        Buffer.concat([encoder.encode(head + last.slice(0, 20)), Uint8Array.of(0xff), encoder.encode(last.slice(21))]),
        encoder.encode(head + "{\"a\":1}x"),
        encoder.encode(head + "garbage")
      ]
      for (const bytes of corrupt) {
        yield* fs.writeFile(path, bytes)
        const error = yield* Effect.flip(Wal.repair(path))
        assert.strictEqual(error._tag, "WalNotRepairable", decoder.decode(bytes.subarray(head.length)))
        assert.isTrue(bytesEqual(yield* fs.readFile(path), bytes))
        assert.deepStrictEqual((yield* fs.readDirectory(dir)).sort(), ["log.jsonl"])
      }
      // every proper start of the last entry (a crash's cut) is torn: repaired down to the two
      // entries before it (a cut inside a character: reader.test.ts)
      const lastBytes = encoder.encode(last)
      for (let cut = 1; cut < lastBytes.length; cut += 7) {
        const bytes = Buffer.concat([encoder.encode(head), lastBytes.subarray(0, cut)])
        yield* fs.writeFile(path, bytes)
        const report = yield* Wal.repair(path)
        assert.strictEqual(report._tag, "RepairTruncated", `cut at ${cut}`)
        assert.strictEqual(decoder.decode(yield* fs.readFile(path)), head)
        for (const name of yield* fs.readDirectory(dir)) if (name !== "log.jsonl") yield* fs.remove(`${dir}/${name}`)
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

  it.scoped("Wal.settled of a wrapper made with withAppend waits for the log's writes, and its appends go through the wrapper (appendWith too)", () =>
    Effect.gen(function*() {
      const { path } = yield* tempLog
      const wal = yield* Wal.makeFile(path, { durability: "never" })
      let through = 0
      const wrapper = Wal.withAppend(wal, (data) => {
        through++
        return wal.append(data)
      })
      for (let i = 1; i <= 500; i++) yield* wrapper.append(record(i))
      yield* Wal.appendWith(wrapper, record(501), (sealed) => sealed.sequence)
      assert.strictEqual(through, 501)
      // durability "never" acknowledges before the write: the wrapper's settled waits for it
      yield* Wal.settled(wrapper)
      const text = nodeFs.readFileSync(path, "utf8")
      assert.strictEqual(text.split("\n").length - 1, 501)
    }))

  it.scoped("one writer per file in a process, whatever name reaches it: a hard link, a symlink, a dir/../file path get WalLocked", () =>
    Effect.gen(function*() {
      const { dir, fs, path } = yield* tempLog
      const other = yield* fs.makeTempDirectoryScoped({ prefix: "calybris-wal-other-" })
      yield* fs.makeDirectory(`${dir}/sub`)
      const names = [
        `${dir}/hard.jsonl`, // a hard link in the same directory
        `${other}/hard.jsonl`, // a hard link in another directory
        `${other}/alias.jsonl`, // a symlink from another directory
        `${dir}/sub/../log.jsonl` // `..`
      ]
      yield* withWal(
        path,
        Effect.gen(function*() {
          yield* Wal.append(record(1))
          yield* fs.link(path, `${dir}/hard.jsonl`)
          yield* fs.link(path, `${other}/hard.jsonl`)
          yield* fs.symlink(`${other}/hard.jsonl`, `${other}/alias.jsonl`)
          for (const name of names) {
            assert.strictEqual(yield* failureTag(withWal(name, Wal.append(record(99)))), "WalLocked", name)
            assert.strictEqual(yield* failureTag(Wal.repair(name)), "WalLocked", name)
            assert.strictEqual(yield* failureTag(Effect.scoped(Wal.holdWriterLocks(name))), "WalLocked", name)
          }
          // the holder still works, and nothing else was appended
          yield* Wal.append(record(2))
        })
      )
      assert.strictEqual((yield* verifyOnDisk(path)).count, 2n)
      // closed: a writer through any of the names gets in, one at a time
      for (const name of names) yield* withWal(name, Wal.append(record(3)))
      assert.strictEqual((yield* verifyOnDisk(path)).count, 6n)
      // while one name holds it, the original is refused too
      yield* withWal(
        `${other}/hard.jsonl`,
        Effect.gen(function*() {
          assert.strictEqual(yield* failureTag(withWal(path, Wal.head)), "WalLocked")
        })
      )
      // held by holdWriterLocks (a tool replacing the file whole), no writer opens it by any name
      yield* Effect.scoped(Effect.gen(function*() {
        yield* Wal.holdWriterLocks(`${other}/alias.jsonl`)
        for (const name of names) {
          assert.strictEqual(yield* failureTag(withWal(name, Wal.head)), "WalLocked", name)
        }
      }))
      yield* withWal(path, Wal.append(record(4)))
    }))

  it.scoped(
    "a path that is a FIFO, a directory or behind a non-directory is refused at once with WalNotAFile (layer and repair), creating nothing",
    () =>
      Effect.gen(function*() {
        const { dir, fs } = yield* tempLog
        const fifo = `${dir}/fifo.jsonl`
        execFileSync("mkfifo", [fifo])
        yield* fs.makeDirectory(`${dir}/folder.jsonl`)
        yield* fs.writeFileString(`${dir}/plain`, "")
        const cases = [
          [fifo, "it is a named pipe (FIFO)"],
          [`${dir}/folder.jsonl`, "it is a directory"],
          [`${dir}/plain/log.jsonl`, "a component of the path is not a directory"]
        ] as const
        for (const [path, reason] of cases) {
          const attempts = [
            Effect.exit(withWal(path, Wal.append(record(1)))),
            Effect.exit(Wal.repair(path))
          ] as const
          for (const attempt of attempts) {
            const exit: Exit.Exit<unknown, { readonly _tag: string }> = yield* attempt
            const error = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()
            assert.isTrue(Option.isSome(error) && error.value instanceof WalNotAFile, path)
            if (Option.isSome(error) && error.value instanceof WalNotAFile) {
              assert.strictEqual(error.value.reason, reason)
              assert.strictEqual(error.value.message, `WAL ${path} is not a log file: ${reason}`)
            }
          }
        }
        assert.deepStrictEqual((yield* fs.readDirectory(dir)).sort(), ["fifo.jsonl", "folder.jsonl", "plain"])
      }),
    20_000
  )

  it.scoped("the identity lock directory must be private: one others can write, or a symlink, is refused and named", () =>
    Effect.gen(function*() {
      const { dir, fs, path } = yield* tempLog
      const tmp = yield* fs.makeTempDirectoryScoped({ prefix: "calybris-tmpdir-" })
      // the identity locks live in /tmp whatever TMPDIR says: the lock module's test seam points
      // them at a folder of ours for this test
      const base = Symbol.for("@calybris/wal/lock/base-for-tests")
      yield* Effect.acquireRelease(
        Effect.sync(() => {
          ;(globalThis as Record<symbol, unknown>)[base] = tmp
        }),
        () =>
          Effect.sync(() => {
            delete (globalThis as Record<symbol, unknown>)[base]
          })
      )
      const locks = `${tmp}/calybris-locks${typeof process.getuid === "function" ? `-${process.getuid()}` : ""}`
      // created private on first use
      yield* withWal(path, Wal.append(record(1)))
      assert.strictEqual(((yield* fs.stat(locks)).mode & 0o777).toString(8), "700")
      yield* fs.chmod(locks, 0o777)
      const open = yield* Effect.flip(withWal(path, Wal.head))
      assert.strictEqual(open._tag, "WalIoError")
      assert.include(open.message, `${locks} can be written by other users (mode 777)`)
      yield* fs.remove(locks, { recursive: true })
      yield* fs.makeDirectory(`${dir}/elsewhere`, { mode: 0o700 })
      yield* fs.symlink(`${dir}/elsewhere`, locks)
      const repair = yield* Effect.flip(Wal.repair(path))
      assert.strictEqual(repair._tag, "WalIoError")
      assert.include(repair.message, `${locks} is a symbolic link`)
      yield* fs.remove(locks)
      // removed: the next writer creates it again
      assert.strictEqual((yield* withWal(path, Effect.zipRight(Wal.append(record(2)), Wal.head))).sequence, 2n)
    }))

  it.scoped("the identity locks go to CALYBRIS_LOCK_DIR when it is set (else /tmp, whatever TMPDIR says)", () =>
    Effect.gen(function*() {
      const { fs, path } = yield* tempLog
      const chosen = yield* fs.makeTempDirectoryScoped({ prefix: "calybris-lockdir-" })
      yield* Env.scoped("CALYBRIS_LOCK_DIR", chosen)
      const locks = `${chosen}/calybris-locks${typeof process.getuid === "function" ? `-${process.getuid()}` : ""}`
      const held = yield* withWal(path, Effect.zipRight(Wal.append(record(1)), fs.readDirectory(locks)))
      assert.strictEqual(held.length, 1)
      assert.match(held[0] ?? "", /^\d+-\d+\.lock$/)
      // released with the log
      assert.deepStrictEqual(yield* fs.readDirectory(locks), [])
    }))

  it.scoped("a relative CALYBRIS_LOCK_DIR is refused (WalIoError naming it): from two working directories it named two folders, and two writers got in (a hostile review)", () =>
    Effect.gen(function*() {
      const { fs, path } = yield* tempLog
      yield* Env.scoped("CALYBRIS_LOCK_DIR", "locks")
      const opens: ReadonlyArray<
        Effect.Effect<unknown, { readonly _tag: string; readonly message: string }, FileSystem.FileSystem>
      > = [
        withWal(path, Wal.head),
        // (a log that exists: repair has nothing to do without one)
        Effect.zipRight(fs.writeFileString(path, ""), Wal.repair(path)),
        // a log that existed, even empty, stays as it was
        withWal(path, Wal.head)
      ]
      for (const [i, open] of opens.entries()) {
        const error = yield* Effect.flip(open)
        assert.strictEqual(error._tag, "WalIoError")
        assert.include(error.message, "CALYBRIS_LOCK_DIR=\"locks\" is not an absolute path")
        // the log the first open created is gone again (a failed `budget init` left it, empty: a
        // hostile review)
        assert.strictEqual(yield* fs.exists(path), i > 0)
      }
      assert.strictEqual(yield* fs.readFileString(path), "")
      assert.isFalse(yield* fs.exists("locks"))
      // a symbolic link that names the log stays a link (the review of the fix: it removed the link)
      const link = `${path}.link`
      yield* fs.symlink(`${path}.target`, link)
      assert.strictEqual((yield* Effect.flip(withWal(link, Wal.head)))._tag, "WalIoError")
      assert.strictEqual(yield* fs.readLink(link), `${path}.target`)
      assert.isFalse(yield* fs.exists(`${path}.target`))
    }))

  it.scoped("the lock file names its holder and is deleted when the layer's scope closes", () =>
    Effect.gen(function*() {
      const { fs, path } = yield* tempLog
      const text = yield* withWal(path, fs.readFileString(`${path}.lock`))
      // the token: random, then the thread and this process's start (Linux: k<starttime>)
      assert.match(
        text,
        new RegExp(`^pid=${process.pid} host=${hostname()} started=\\S+ token=[0-9a-z]+\\.${threadId}\\.k\\d+\\n$`)
      )
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
        if (error._tag === "WalLocked") {
          assert.include(error.holder, `pid=`)
          // the lock file named: one of a live process that is not the writer is removed by hand
          assert.include(error.holder, `${nodeFs.realpathSync(nodePath.dirname(path))}/${nodePath.basename(path)}.lock`)
        }
        assert.strictEqual(yield* fs.readFileString(`${path}.lock`), holder)
      }
    }))

  it.scoped("a lock of our pid naming another thread of this very process is live; of a previous process with our pid, stale", () =>
    Effect.gen(function*() {
      const { dir, fs, path } = yield* tempLog
      // this process's start as the lock writes it (Linux: /proc/self/stat's starttime)
      const stat = nodeFs.readFileSync("/proc/self/stat", "latin1")
      const ours = `k${stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]}`
      const live = `pid=${process.pid} host=${hostname()} started=2020-01-01T00:00:00.000Z token=abc.${
        threadId + 7
      }.${ours}\n`
      yield* fs.writeFileString(`${path}.lock`, live)
      const error = yield* Effect.flip(withWal(path, Wal.head))
      assert.strictEqual(error._tag, "WalLocked")
      if (error._tag === "WalLocked") {
        assert.include(error.holder, `thread ${threadId + 7} of this process`)
        assert.include(
          error.holder,
          `lock file ${nodeFs.realpathSync(nodePath.dirname(path))}/${nodePath.basename(path)}.lock`
        )
      }
      assert.strictEqual(yield* fs.readFileString(`${path}.lock`), live)
      // the same thread id of a process started at another time (our pid reused): stale
      yield* fs.writeFileString(`${path}.lock`, live.replace(`.${ours}\n`, ".k1\n"))
      assert.strictEqual((yield* withWal(path, Effect.zipRight(Wal.append(record(1)), Wal.head))).sequence, 1n)
      assert.deepStrictEqual(yield* fs.readDirectory(dir), ["log.jsonl"])
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

it.live("a file by the lock's name that is no lock (a log named X.lock, a live writer's or not; a complete line that is no holder; a large file) keeps X locked and is never touched, however old (a hostile review: the open of X deleted it)", () =>
  Effect.gen(function*() {
    const { dir, fs, path } = yield* tempLog
    const old = new Date((yield* Clock.currentTimeMillis) - 60_000)
    // a log named log.jsonl.lock, open with acknowledged entries and idle (its file old)
    const other = `${path}.lock`
    yield* Effect.scoped(Effect.gen(function*() {
      const ctx = yield* Layer.build(Wal.layerFile(other, { durability: "always" }))
      yield* Effect.provide(appendRange(1, 3), ctx)
      const before = yield* fs.readFile(other)
      yield* fs.utimes(other, old, old)
      const error = yield* Effect.flip(withWal(path, Wal.head))
      assert.strictEqual(error._tag, "WalLocked")
      assert.include(error.message, `${other} is not a lock file (`)
      assert.include(error.message, `beginning "{\\"sequence\\":1,`)
      assert.deepStrictEqual(yield* fs.readFile(other), before)
      // its writer serves on
      assert.strictEqual((yield* Effect.provide(appendRange(4, 4), ctx))[0]?.sequence, 4n)
    }))
    assert.strictEqual((yield* verifyOnDisk(other)).count, 4n)
    // an empty log named c.jsonl.lock, its writer open (its identity held; in another process, its
    // identity lock names a live pid): no crashed writer's empty lock (the review of this fix: it was removed under its writer)
    const emptyLog = `${dir}/c.jsonl.lock`
    yield* Effect.scoped(Effect.gen(function*() {
      const ctx = yield* Layer.build(Wal.layerFile(emptyLog))
      yield* fs.utimes(emptyLog, old, old)
      const error = yield* Effect.flip(withWal(`${dir}/c.jsonl`, Wal.head))
      assert.strictEqual(error._tag, "WalLocked")
      assert.include(
        error.message,
        `${emptyLog} is not a lock file (a log another writer holds, empty: this process writes it (pid ${process.pid}))`
      )
      assert.strictEqual((yield* Effect.provide(appendRange(1, 1), ctx))[0]?.sequence, 1n)
    }))
    // an empty log whose writer keeps its identity locks elsewhere (another user, another
    // CALYBRIS_LOCK_DIR): found by its own name lock beside it, a live pid's (the review of this check)
    const elsewhere = `${dir}/d.jsonl.lock`
    yield* fs.writeFileString(elsewhere, "")
    yield* fs.writeFileString(`${elsewhere}.lock`, `pid=1 host=${hostname()} started=2026-01-01T00:00:00.000Z\n`)
    yield* fs.utimes(elsewhere, old, old)
    const held = yield* Effect.flip(withWal(`${dir}/d.jsonl`, Wal.head))
    assert.strictEqual(held._tag, "WalLocked")
    assert.include(
      held.message,
      `${elsewhere} is not a lock file (a log another writer holds, empty: its own lock ${elsewhere}.lock names a writer: pid=1 `
    )
    assert.isTrue(yield* fs.exists(elsewhere))
    // that name lock empty and old (its writer crashed while starting): the empty file is a crashed
    // writer's lock again, taken over (the review of this check: it kept X locked for ever)
    yield* fs.writeFileString(`${elsewhere}.lock`, "")
    yield* fs.utimes(`${elsewhere}.lock`, old, old)
    assert.strictEqual((yield* withWal(`${dir}/d.jsonl`, Wal.head)).sequence, 0n)
    assert.isFalse(yield* fs.exists(elsewhere))
    // a crashed writer's empty lock, old, is still taken over
    yield* fs.remove(emptyLog)
    yield* fs.writeFileString(emptyLog, "")
    yield* fs.utimes(emptyLog, old, old)
    assert.strictEqual((yield* withWal(`${dir}/c.jsonl`, Wal.head)).sequence, 0n)
    assert.isFalse(yield* fs.exists(emptyLog))
    // a complete line that is no holder, and a file too large to be a lock, old: refused, kept
    for (const text of ["pid=abc host=h started=1\n", `pid=${"1".repeat(2000)}`]) {
      const lock = `${dir}/b.jsonl.lock`
      yield* fs.writeFileString(lock, text)
      yield* fs.utimes(lock, old, old)
      const error = yield* Effect.flip(withWal(`${dir}/b.jsonl`, Wal.head))
      assert.strictEqual(error._tag, "WalLocked")
      assert.include(error.message, `${lock} is not a lock file (${Buffer.byteLength(text)} bytes`)
      assert.strictEqual(yield* fs.readFileString(lock), text)
      assert.deepStrictEqual(
        yield* fs.readDirectory(dir).pipe(Effect.map((names) => names.filter((n) => n.includes("stale")))),
        []
      )
    }
  }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)))

it.effect("a writer renamed away reads its own file or none: another file put at its path is never read as its log, by bytes, verify or readVerified, with and without WalNode; appends go on to its file (a hostile review: it verified the other file)", () =>
  Effect.gen(function*() {
    for (const node of [false, true]) {
      const { dir, fs, path } = yield* tempLog
      // another log, put in place of the writer's file
      const other = `${dir}/other.jsonl`
      yield* withWal(other, appendRange(100, 104))
      const otherBytes = yield* fs.readFile(other)
      yield* Effect.scoped(Effect.gen(function*() {
        const layer = Wal.layerFile(path, { durability: "always" })
        const ctx = yield* Layer.build(node ? Layer.provide(layer, WalNode.layer) : layer)
        yield* Effect.provide(appendRange(1, 2), ctx)
        nodeFs.renameSync(path, `${path}.moved`)
        nodeFs.copyFileSync(other, path)
        yield* Effect.provide(appendRange(3, 3), ctx)
        for (
          const read of [
            Wal.verify,
            Stream.runCollect(Wal.readVerified),
            Stream.runCollect(Effect.flatMap(Wal.Wal, (w) => Effect.succeed(w.bytes)).pipe(Stream.unwrap))
          ] as ReadonlyArray<Effect.Effect<unknown, unknown, Wal.Wal>>
        ) {
          const error = yield* Effect.flip(Effect.provide(read, ctx))
          assert.strictEqual((error as { _tag: string })._tag, "WalIoError", String(error))
          assert.include(String(error), "names another file than the one this writer holds")
        }
        // the path names the writer's file again: read
        nodeFs.renameSync(`${path}.moved`, path)
        assert.strictEqual((yield* Effect.provide(Wal.verify, ctx)).count, 3n)
      }))
      assert.deepStrictEqual(yield* fs.readFile(other), otherBytes)
      assert.strictEqual((yield* verifyOnDisk(path)).count, 3n)
    }
  }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)))

/** A log over the probing FileSystem. */
const probed = (path: string, durability: Wal.Durability) => {
  const probe = new Probe.Probe()
  return { probe, log: Wal.layerFile(path, { durability }).pipe(Layer.provide(Probe.layer(probe))) }
}

it.live("durability \"never\": appends are acknowledged before their write; reading and closing write what is pending", () =>
  Effect.gen(function*() {
    const { path } = yield* tempLog
    const { log, probe } = probed(path, "never")
    const open = yield* Deferred.make<void>()
    probe.gate = { at: 1, open }
    yield* Effect.provide(
      Effect.gen(function*() {
        const sealed = yield* appendRange(1, 5)
        assert.deepStrictEqual(sealed.map((s) => s.sequence), [1n, 2n, 3n, 4n, 5n])
        // acknowledged, none written yet: the head names the last acknowledged entry
        assert.strictEqual(probe.writtenLines, 0)
        assert.deepStrictEqual(yield* Wal.head, { sequence: 5n, lastHash: sealed[4]?.entry_hash ?? "" })
        // `bytes` first writes everything pending
        const reading = yield* Effect.fork(Wal.verify)
        yield* Effect.sleep("20 millis")
        assert.isTrue(Option.isNone(yield* Fiber.poll(reading)))
        yield* Deferred.succeed(open, undefined)
        const verified = yield* Fiber.join(reading)
        assert.strictEqual(verified.count, 5n)
        assert.strictEqual(verified.lastHash, sealed[4]?.entry_hash)
        assert.strictEqual(probe.writtenLines, 5)
        // acknowledged and never read: closing the log writes them
        yield* appendRange(6, 8)
      }),
      log
    )
    assert.strictEqual(probe.syncCalls, 0)
    assert.strictEqual((yield* verifyOnDisk(path)).count, 8n)
  }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)))

it.live("durability \"never\": with 1 MiB pending, an append waits for the write in flight", () =>
  Effect.gen(function*() {
    const { path } = yield* tempLog
    const { log, probe } = probed(path, "never")
    const open = yield* Deferred.make<void>()
    probe.gate = { at: 1, open }
    const big = (i: number): Json.Json => new Map<string, Json.Json>([["i", i], ["pad", "x".repeat(100_000)]])
    const n = 30
    yield* Effect.provide(
      Effect.gen(function*() {
        let acknowledged = 0
        const appending = yield* Effect.fork(Effect.forEach(
          Array.from({ length: n }, (_, i) => i),
          (i) => Effect.map(Wal.append(big(i)), () => acknowledged++)
        ))
        yield* Effect.sleep("100 millis")
        // ~100 KB lines: at most ~1 MiB pending, plus ~1 MiB held in the write at the gate
        assert.strictEqual(probe.writtenLines, 0)
        assert.isAtLeast(acknowledged, 1)
        assert.isAtMost(acknowledged, 22)
        assert.isTrue(Option.isNone(yield* Fiber.poll(appending)))
        yield* Deferred.succeed(open, undefined)
        yield* Fiber.join(appending)
        assert.strictEqual(acknowledged, n)
        assert.strictEqual((yield* Wal.verify).count, BigInt(n))
      }),
      log
    )
  }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)))

it.live("durability \"batch\": with 1 MiB pending, an append waits for the write in flight (no round grows past it)", () =>
  Effect.gen(function*() {
    const { path } = yield* tempLog
    const { log, probe } = probed(path, "batch")
    const open = yield* Deferred.make<void>()
    probe.gate = { at: 1, open }
    const big = (i: number): Json.Json => new Map<string, Json.Json>([["i", i], ["pad", "x".repeat(100_000)]])
    const n = 30
    yield* Effect.provide(
      Effect.gen(function*() {
        // the first round is held at its write; 30 concurrent ~100 KB appends arrive meanwhile
        const first = yield* Effect.fork(Wal.append(big(0)))
        yield* Effect.sleep("20 millis")
        const rest = yield* Effect.fork(
          Effect.forEach(Array.from({ length: n }, (_, i) => i + 1), (i) => Wal.append(big(i)), {
            concurrency: "unbounded"
          })
        )
        yield* Effect.sleep("100 millis")
        assert.strictEqual(probe.writtenLines, 0)
        yield* Deferred.succeed(open, undefined)
        yield* Fiber.join(first)
        const sealed = yield* Fiber.join(rest)
        assert.strictEqual(sealed.length, n)
        assert.strictEqual((yield* Wal.verify).count, BigInt(n + 1))
        // without the bound the ~3 MB would be one round; with it, no write holds much more than 1 MiB
        assert.isAtMost(probe.largestWrite, 1_048_576 + 200_000)
        assert.isAtLeast(probe.writeCalls, 4)
        assert.strictEqual(probe.syncs, probe.writeCalls)
      }),
      log
    )
  }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)))

it.live("durability \"batch\": the head names the last acknowledged entry; appends sealed during a round wait for the next", () =>
  Effect.gen(function*() {
    const { path } = yield* tempLog
    const { log, probe } = probed(path, "batch")
    yield* Effect.provide(
      Effect.gen(function*() {
        const first = yield* Wal.append(record(1))
        const open = yield* Deferred.make<void>()
        probe.gate = { at: probe.writeCalls + 1, open }
        const a = yield* Effect.fork(Wal.append(record(2)))
        yield* Effect.sleep("20 millis")
        // round {2} is held at its write; these are sealed meanwhile, in call order
        const rest = yield* Effect.forEach([3, 4, 5], (i) => Effect.fork(Wal.append(record(i))))
        yield* Effect.sleep("20 millis")
        assert.deepStrictEqual(yield* Wal.head, { sequence: 1n, lastHash: first.entry_hash })
        assert.strictEqual(probe.syncs, 1)
        assert.isTrue(Option.isNone(yield* Fiber.poll(a)))
        yield* Deferred.succeed(open, undefined)
        const second = yield* Fiber.join(a)
        const others = yield* Effect.forEach(rest, Fiber.join)
        assert.strictEqual(second.sequence, 2n)
        assert.deepStrictEqual(others.map((s) => s.sequence), [3n, 4n, 5n])
        // round {2}, then round {3, 4, 5}: one write and one fsync each, each before its acknowledgements
        assert.strictEqual(probe.writeCalls, 3)
        assert.strictEqual(probe.syncs, 3)
        assert.strictEqual(probe.syncedLines, 5)
        assert.deepStrictEqual(yield* Wal.head, { sequence: 5n, lastHash: others[2]?.entry_hash ?? "" })
      }),
      log
    )
  }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)))

it.live("closing a \"batch\" log writes, fsyncs and acknowledges the appends still waiting; later appends are interrupted", () =>
  Effect.gen(function*() {
    const { path } = yield* tempLog
    const { log, probe } = probed(path, "batch")
    const open = yield* Deferred.make<void>()
    const { wal, waiting } = yield* Effect.provide(
      Effect.gen(function*() {
        yield* Wal.append(record(1))
        probe.gate = { at: probe.writeCalls + 1, open }
        const waiting = yield* Effect.forEach([2, 3, 4, 5, 6], (i) => Effect.forkDaemon(Wal.append(record(i))))
        yield* Effect.sleep("20 millis")
        // the log closes while the write is held; it opens a little later
        yield* Effect.forkDaemon(Effect.zipRight(Effect.sleep("50 millis"), Deferred.succeed(open, undefined)))
        return { wal: yield* Wal.Wal, waiting }
      }),
      log
    )
    const sealed = yield* Effect.forEach(waiting, Fiber.join)
    assert.deepStrictEqual(sealed.map((s) => s.sequence).sort(), [2n, 3n, 4n, 5n, 6n])
    assert.strictEqual(probe.syncedLines, 6)
    assert.strictEqual((yield* verifyOnDisk(path)).count, 6n)
    const after = yield* Effect.exit(wal.append(record(7)))
    assert.isTrue(Exit.isFailure(after) && Cause.isInterruptedOnly(after.cause))
    assert.strictEqual((yield* verifyOnDisk(path)).count, 6n)
  }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)))

it.live("the file holds exactly the bytes the memory log holds for the same appends (every durability, keyed)", () =>
  Effect.gen(function*() {
    const key = new TextEncoder().encode("byte-identity key")
    const records: Array<Json.Json> = [
      record(1),
      new Map<string, Json.Json>([["text", "é€😀 \"quoted\" \\ \u0001"], ["n", -1]]),
      [1, [2, [3, null, true]], "x".repeat(5000)],
      "a bare string",
      new Map<string, Json.Json>([["u64", 18446744073709551615n], ["big", "é".repeat(40_000)]])
    ]
    const collectBytes = Effect.flatMap(
      Wal.Wal,
      (wal) => Effect.map(Stream.runCollect(wal.bytes), (chunks) => Buffer.concat([...chunks]))
    )
    const expected = yield* Effect.provide(
      Effect.zipRight(Effect.forEach(records, Wal.append), collectBytes),
      Wal.layerMemory({ key })
    )
    for (const durability of ["always", "batch", "never"] as const) {
      const { fs, path } = yield* tempLog
      yield* Effect.provide(
        Effect.forEach(records, Wal.append),
        Wal.layerFile(path, { key, durability })
      )
      assert.isTrue(bytesEqual(yield* fs.readFile(path), expected), durability)
    }
  }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)))

it.live("settled waits until what the log sealed is written: the entries of appends interrupted while they waited are then in the head", () =>
  Effect.gen(function*() {
    const { path } = yield* tempLog
    const probe = new Probe.Probe()
    const gate = yield* Deferred.make<void>()
    yield* Effect.scoped(Effect.gen(function*() {
      const wal = yield* Wal.makeFile(path, { durability: "batch" })
      yield* wal.append(record(1))
      probe.beforeSync = Deferred.await(gate)
      const waiting = yield* Effect.forEach([2, 3, 4], (i) => Effect.fork(wal.append(record(i))))
      yield* Effect.sleep("20 millis")
      for (const fiber of waiting) assert.isTrue(Exit.isInterrupted(yield* Fiber.interrupt(fiber)))
      assert.strictEqual((yield* wal.head).sequence, 1n)
      const settling = yield* Effect.fork(Wal.settled(wal))
      yield* Effect.sleep("20 millis")
      // the fsync is held: still waiting
      assert.isNull(settling.unsafePoll())
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(settling)
      assert.strictEqual((yield* wal.head).sequence, 4n)
      // a wrapper over the log has none of its own: at once
      yield* Wal.settled({ ...wal, append: wal.append })
    })).pipe(Effect.provide(Probe.layer(probe)))
    assert.strictEqual((yield* verifyOnDisk(path)).count, 4n)
    // "never": every append acknowledged as it is sealed; settled, they are in the file
    const { path: unsynced } = yield* tempLog
    yield* Effect.scoped(Effect.gen(function*() {
      const wal = yield* Wal.makeFile(unsynced, { durability: "never" })
      for (let i = 1; i <= 3; i++) yield* wal.append(record(i))
      // read at once (no other fiber ran): not written yet
      assert.strictEqual(nodeFs.readFileSync(unsynced).length, 0)
      yield* Wal.settled(wal)
      assert.strictEqual(nodeFs.readFileSync(unsynced, "utf8").split("\n").length - 1, 3)
    }))
    // a log in memory: at once
    yield* Effect.provide(Effect.flatMap(Wal.Wal, Wal.settled), Wal.layerMemory())
  }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)))
