/**
 * A final line longer than the reader's line limit: when it cannot be an entry (a write torn by
 * a crash, however long) it is a torn tail that `repair` removes; when it may be a complete
 * entry it is only too long (`WalLineTooLong`: read it with a larger limit) and never removed.
 */
import type * as Json from "@calybris/core/Json"
import * as Chain from "@calybris/wal/Chain"
import * as Entry from "@calybris/wal/Entry"
import * as Reader from "@calybris/wal/Reader"
import * as Wal from "@calybris/wal/Wal"
import type { WalVerifyError } from "@calybris/wal/WalError"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as FileSystem from "@effect/platform/FileSystem"
import { assert, describe, it, layer } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as fc from "effect/FastCheck"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"

const LIMIT = 4096
const record = (i: number, size: number): Json.Json =>
  new Map<string, Json.Json>([["i", i], ["payload", "x".repeat(size)]])

/** A log of three small entries and a fourth of ~10 KB (written with the default limit). */
const longLog = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const dir = yield* fs.makeTempDirectoryScoped({ prefix: "calybris-longline-" })
  const path = `${dir}/log.jsonl`
  yield* Effect.forEach([1, 2, 3, 4], (i) => Wal.append(record(i, i === 4 ? 10_000 : 10))).pipe(
    Effect.provide(Wal.layerFile(path))
  )
  const bytes = yield* fs.readFile(path)
  // where the fourth line starts
  let offset = 0
  for (let k = 0; k < 3; k++) offset = bytes.indexOf(0x0a, offset) + 1
  return { fs, dir, path, bytes, offset }
})

/** The typed failure of an effect (a test fails on success). */
const failure = <A, E>(effect: Effect.Effect<A, E, FileSystem.FileSystem>) =>
  Effect.map(Effect.exit(effect), (exit) => {
    const error = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()
    if (Option.isNone(error)) {
      throw new Error(`expected a failure, got ${Exit.isSuccess(exit) ? "success" : "a defect"}`)
    }
    return error.value
  })

const verifyChunked = (bytes: Uint8Array, chunk: number) =>
  Reader.verify(
    Stream.fromIterable(
      Array.from({ length: Math.ceil(bytes.length / chunk) }, (_, k) => bytes.subarray(k * chunk, (k + 1) * chunk))
    ),
    { chain: Either.getOrThrow(Chain.make({})), maxLineBytes: LIMIT }
  )

layer(NodeContext.layer)("a final line longer than the line limit", (it) => {
  it.scoped("torn: reported as a torn tail (any chunking), and repair saves and removes exactly it", () =>
    Effect.gen(function*() {
      const { bytes, fs, offset, path } = yield* longLog
      const cut = offset + 6_000
      const torn = bytes.subarray(0, cut)
      yield* fs.writeFile(path, torn)
      for (const chunk of [1 << 20, 1000, 4097, 7]) {
        const error = yield* failure(verifyChunked(torn, chunk))
        assert.strictEqual(error._tag, "WalTornTail", `chunks of ${chunk}`)
        if (error._tag === "WalTornTail") {
          assert.deepStrictEqual(
            [error.line, error.offset, error.length, error.category, error.reason, error.column],
            [4, offset, 6_000, "Eof", "EOF while parsing a string", 6_000]
          )
        }
      }
      const opened = yield* failure(Effect.provide(Wal.head, Wal.layerFile(path, { maxLineBytes: LIMIT })))
      assert.strictEqual(opened._tag, "WalTornTail")
      const report = yield* Wal.repair(path, { maxLineBytes: LIMIT })
      assert.strictEqual(report._tag, "RepairTruncated")
      if (report._tag === "RepairTruncated") {
        assert.strictEqual(report.truncatedAt, offset)
        assert.strictEqual(report.removedBytes, 6_000)
        assert.strictEqual(report.count, 3n)
        assert.isTrue(Buffer.from(yield* fs.readFile(report.savedTo)).equals(Buffer.from(torn.subarray(offset))))
      }
      assert.isTrue(Buffer.from(yield* fs.readFile(path)).equals(Buffer.from(bytes.subarray(0, offset))))
      const head = yield* Effect.provide(Wal.head, Wal.layerFile(path, { maxLineBytes: LIMIT }))
      assert.strictEqual(head.sequence, 3n)
    }))

  it.scoped("the reasons of cut lines (serde's EOF: a torn tail only when it is the writer's next line, cut), and of garbage (a parse error: no crash leaves it), as the parser gives them", () =>
    Effect.gen(function*() {
      const pad = "x".repeat(LIMIT)
      // the first entry's line as a writer starts it: cut anywhere after this, it is torn
      const start = `{"sequence":1,"previous_hash":"${Chain.GENESIS}","entry_hash":"${"0".repeat(64)}"`
      const cases: ReadonlyArray<readonly [string, string, string]> = [
        [`${start},"data":{"a":"${pad}`, "Eof", "EOF while parsing a string"],
        [`${start},"data":["${pad}",1.`, "Eof", "EOF while parsing a value"],
        // serde's EOF, but not a writer's line (the data before the hashes): corruption ("EofParse")
        [`{"sequence":1,"data":{"a":"${pad}`, "EofParse", "EOF while parsing a string"],
        [`{"sequence":4,"data":{"a":"${pad}`, "Eof", "EOF while parsing a string"],
        [`{"sequence":4,"data":{"a":"${pad}",`, "Eof", "EOF while parsing a value"],
        // (the former scanner called this and the four marked below torn or other errors than the
        // parser's: a review found it judged strings and brackets only; these are the parser's)
        [`{"sequence":4,"data":{"a":"${pad}":`, "Syntax", "expected `,` or `}`"],
        [`{"sequence":4,"data":["${pad}"`, "Eof", "EOF while parsing a list"],
        [`{"sequence":4,"data":{"a":"${pad}"}`, "Eof", "EOF while parsing an object"],
        [`{"sequence":4,"data":{"a":"${pad}\\"}}`, "Eof", "EOF while parsing a string"],
        [`{"a":"${pad}"}}`, "Data", "missing field `sequence`"],
        [`{"a":"${pad}"] `, "Syntax", "expected `,` or `}`"],
        [`["${pad}"`, "Data", "invalid type: string, expected u64"],
        ["[".repeat(LIMIT + 1), "Data", "invalid type: sequence, expected u64"],
        [`{"data":${"[".repeat(LIMIT)}`, "Syntax", "recursion limit exceeded"],
        [`{"sequence":4,"data":"${pad}","data":1}`, "Data", "duplicate field `data`"],
        [`{"sequence":-4,"data":"${pad}`, "Data", "invalid value: integer `-4`, expected u64"],
        [`{"sequence":4,"previous_hash":7,"data":"${pad}`, "Data", "invalid type: number, expected a string"],
        [`{"sequence":4,"data":[1,01,"${pad}"]`, "Syntax", "invalid number"],
        [`{"sequence":4,"data":["${pad}",tru\r`, "Syntax", "expected ident"],
        [`{"sequence":4,"data":["${pad}",1.\r`, "Syntax", "invalid number"],
        [`{"sequence":4,"data":["${pad}",1.`, "Eof", "EOF while parsing a value"],
        [`{"sequence":4,"data":["${pad}\\ud800x"]}`, "Syntax", "unexpected end of hex escape"],
        // a member serde ignores nests without its limit: not judged here (the parser says torn)
        [`{"a":${"[".repeat(LIMIT)}`, "TooLong", ""],
        // (a review of the judge) a number cut in a member serde ignores is its "invalid number"
        [`{"p":"${pad}","x":-`, "Syntax", "invalid number"],
        [`{"p":"${pad}","x":[1,2.`, "Syntax", "invalid number"],
        [`{"p":"${pad}","data":[1,2.`, "Eof", "EOF while parsing a value"],
        // after a `,` in an object it ignores, serde wants a key: "an object"
        [`{"p":"${pad}","x":{"a":1,`, "Eof", "EOF while parsing an object"],
        // a number's range is serde's first check wherever it is not ignored: near f64's end, not judged
        [`{"p":"${pad}","data":[1${"0".repeat(400)}e-0000001,`, "TooLong", ""],
        [`{"p":"${pad}","sequence":1e400,`, "TooLong", ""],
        // a number's own checks hold though a character is cut after it (`C2`)
        [`{"p":"${pad}","sequence":1.5\u00c2`, "Io", "stream did not contain valid UTF-8"],
        // (a second review) white space with VT and FF only: a blank line, not judged
        [`  \u000b ${" ".repeat(LIMIT)}\u000c`, "TooLong", ""]
      ]
      for (const [line, category, reason] of cases) {
        // (`\u00c2` stands for the lone byte C2: a character cut at the end)
        const bytes = line.endsWith("\u00c2")
          ? Uint8Array.from([...new TextEncoder().encode(line.slice(0, -1)), 0xc2])
          : new TextEncoder().encode(line)
        const error = yield* failure(verifyChunked(bytes, 1000))
        // (the lines below that are no writer's spelling: serde's EOF there is corruption too)
        const torn = category === "Eof" && line.startsWith(start)
        assert.strictEqual(
          error._tag,
          torn
            ? "WalTornTail"
            : category === "TooLong"
            ? "WalLineTooLong"
            : category === "Io"
            ? "WalReadError"
            : "WalParseError",
          line.slice(0, 40)
        )
        if (error._tag === "WalTornTail") {
          assert.deepStrictEqual([error.category, error.reason, error.length], [category, reason, bytes.length])
        }
        if (error._tag === "WalParseError") {
          const eof = category === "Eof" || category === "EofParse"
          assert.deepStrictEqual([error.category, error.reason], [eof ? "Eof" : category, reason], line.slice(0, 40))
          if (eof) assert.include(error.message, "not the start of entry 1", line.slice(0, 40))
        }
      }
    }))

  it.effect("a final line that grew past a small line limit before its judged start was all read is judged on all of it (any chunking): junk is a parse error, the writer's next line cut is torn (the review of the torn-tail check)", () =>
    Effect.gen(function*() {
      const chain = Either.getOrThrow(Chain.make({}))
      const junk =
        `{"sequence":1,"previous_hash":"${Chain.GENESIS}","entry_hash":"NOT A HASH an operator note","comment":{"x":1`
      const cut = `{"sequence":1,"previous_hash":"${Chain.GENESIS}","entry_hash":"${"ab".repeat(32)}","data":{"x":[1,2`
      for (const maxLineBytes of [8, 30, 100]) {
        for (const size of [1, 7, 10, 40, 1 << 20]) {
          const verdict = (line: string) => {
            const bytes = new TextEncoder().encode(line)
            const chunks = Array.from(
              { length: Math.ceil(bytes.length / size) },
              (_, k) => bytes.subarray(k * size, (k + 1) * size)
            )
            return Effect.map(
              Effect.flip(Reader.verify(Stream.fromIterable(chunks), { chain, maxLineBytes })),
              (e) => e._tag
            )
          }
          assert.strictEqual(yield* verdict(junk), "WalParseError", `junk, limit ${maxLineBytes}, chunks of ${size}`)
          assert.strictEqual(yield* verdict(cut), "WalTornTail", `cut, limit ${maxLineBytes}, chunks of ${size}`)
        }
      }
    }))

  it.scoped("a complete entry without its newline, or only white space, is only too long: repair refuses and changes nothing", () =>
    Effect.gen(function*() {
      const { bytes, fs, path } = yield* longLog
      for (
        const content of [bytes.subarray(0, bytes.length - 1), Buffer.concat([bytes, Buffer.alloc(LIMIT + 1, 0x20)])]
      ) {
        yield* fs.writeFile(path, content)
        const error = yield* failure(Wal.repair(path, { maxLineBytes: LIMIT }))
        assert.strictEqual(error._tag, "WalNotRepairable")
        assert.include(error.message, "WalLineTooLong")
        assert.isTrue(Buffer.from(yield* fs.readFile(path)).equals(Buffer.from(content)))
        // a larger limit reads it
        const head = yield* Effect.provide(Wal.head, Wal.layerFile(path))
        assert.strictEqual(head.sequence, 4n)
      }
    }))

  it.scoped("a line longer than the limit followed by a newline is too long (not a torn tail), at its line and offset", () =>
    Effect.gen(function*() {
      const { bytes, offset } = yield* longLog
      for (const chunk of [1 << 20, 1000, 7]) {
        const error = yield* failure(verifyChunked(bytes, chunk))
        assert.strictEqual(error._tag, "WalLineTooLong", `chunks of ${chunk}`)
        if (error._tag === "WalLineTooLong") assert.deepStrictEqual([error.line, error.offset], [4, offset])
      }
    }))
})

/**
 * The verdict on a log does not depend on where its chunks end: lines of the limit's length and
 * one byte either side, ending in LF or CRLF, split anywhere (a chunk ending between a line's CR
 * and LF counted the CR against the limit: the WAL review).
 */
describe("a line's length against the limit, whatever the chunking", () => {
  const chain = Either.getOrThrow(Chain.make({}))
  /** A log whose lines are `lengths` bytes long (CR not counted), each ending in LF or CRLF. */
  const logOf = (lines: ReadonlyArray<readonly [number, boolean]>): Uint8Array => {
    let previous = Chain.GENESIS
    const parts: Array<string> = []
    lines.forEach(([length, crlf], i) => {
      const bare = Entry.seal(chain, BigInt(i + 1), previous, "\"\"").line.length - 1
      const sealed = Entry.seal(chain, BigInt(i + 1), previous, JSON.stringify("x".repeat(length - bare)))
      previous = sealed.sealed.entry_hash
      assert.strictEqual(sealed.line.length - 1, length)
      parts.push(crlf ? sealed.line.slice(0, -1) + "\r\n" : sealed.line)
    })
    return new TextEncoder().encode(parts.join(""))
  }
  const verdict = (r: Either.Either<Reader.Verified, WalVerifyError>) =>
    Either.isRight(r) ? `ok ${r.right.count}` : `${r.left._tag} ${JSON.stringify(r.left)}`

  it("the same verdict for every split of the bytes", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: LIMIT - 1, max: LIMIT + 1 }), fc.boolean()), {
          minLength: 1,
          maxLength: 3
        }),
        fc.array(fc.nat(), { maxLength: 4 }),
        fc.boolean(),
        (lines, cuts, atCr) => {
          const bytes = logOf(lines)
          const whole = verdict(Reader.verifyBytes(bytes, { chain, maxLineBytes: LIMIT }))
          // the cuts: random ones, and (when asked) one just after each CR
          const at = cuts.map((c) => c % (bytes.length + 1))
          if (atCr) bytes.forEach((b, i) => b === 0x0d && at.push(i + 1))
          const ends = [...new Set([...at, bytes.length])].sort((a, b) => a - b)
          const reader = new Reader.LineReader({ chain, maxLineBytes: LIMIT }, false)
          let start = 0
          let result: Either.Either<unknown, WalVerifyError> = Either.right(undefined)
          for (const end of ends) {
            result = reader.push(bytes.subarray(start, end))
            start = end
            if (Either.isLeft(result)) break
          }
          const split = verdict(Either.flatMap(result, () => Either.map(reader.end(), (r) => r.verified)))
          assert.strictEqual(split, whole, `cut at ${ends.join(",")}`)
        }
      )
    )
  })
})
