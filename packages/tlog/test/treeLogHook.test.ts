/**
 * The WAL's `onLine` hook (what the tree log's leaves are): every entry's line bytes, without
 * the newline, exactly as the log holds them, in sequence order — for entries sealed by appends
 * (memory and file layers, every durability, both flushers) and for the existing entries the
 * open's verifying pass reads (the reader's fast path, and its exact path: non-canonical data,
 * non-ASCII, a CR before the LF, blank lines, a last line without its newline).
 */
import type * as Json from "@calybris/core/Json"
import * as JsonValue from "@calybris/core/Json"
import * as Arbitraries from "@calybris/testing/Arbitraries"
import * as TreeLog from "@calybris/tlog/TreeLog"
import * as Wal from "@calybris/wal/Wal"
import * as WalNode from "@calybris/wal/WalNode"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as FileSystem from "@effect/platform/FileSystem"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as fc from "effect/FastCheck"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as nodeFs from "node:fs"
import { linesOf } from "./treeLogSupport.js"

const encoder = new TextEncoder()
const key = new Uint8Array(32).fill(7)
const jsonArb = Arbitraries.jsonOf({ loneSurrogates: true })
const recordsArb = fc.array(jsonArb, { minLength: 1, maxLength: 12 })

const concat = (chunks: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0))
  let at = 0
  for (const c of chunks) {
    out.set(c, at)
    at += c.length
  }
  return out
}

/**
 * A hook that records copies of what it is handed (the array is only valid during the call), and
 * the entries it was told are not in their canonical form.
 */
const recorder = () => {
  const seen: Array<{ readonly sequence: bigint; readonly line: Uint8Array }> = []
  const notCanonical: Array<bigint> = []
  const onLine = (line: Uint8Array, sequence: bigint, canonical: boolean) => {
    seen.push({ sequence, line: line.slice() })
    if (!canonical) notCanonical.push(sequence)
  }
  return { seen, notCanonical, onLine }
}

const expectHanded = (
  seen: ReadonlyArray<{ readonly sequence: bigint; readonly line: Uint8Array }>,
  lines: ReadonlyArray<Uint8Array>,
  first = 1n
) => {
  expect(seen.map((s) => s.sequence)).toEqual(lines.map((_, i) => first + BigInt(i)))
  expect(seen.map((s) => Buffer.from(s.line).toString("hex"))).toEqual(
    lines.map((l) => Buffer.from(l).toString("hex"))
  )
}

/**
 * 1 for an accepted append, 0 for a refused one, which must be a lone surrogate's refusal (the
 * records hold them: a line that could not be read back is never written, nor handed).
 */
const expectAcceptedOrRefused = (outcome: Either.Either<unknown, { readonly _tag: string }>): number => {
  if (Either.isRight(outcome)) return 1
  expect(outcome.left._tag).toBe("WalRecordLoneSurrogate")
  return 0
}

const numRuns = (n: number) => ({ numRuns: fc.readConfigureGlobal().numRuns ?? n })

const flushers = [["FileSystem", Layer.empty], ["WalNode", WalNode.layer]] as const

/**
 * A file-log property, one test per durability and flusher: run in a fresh temporary directory
 * (`newPath`: a new log's path there, each case its own), its cases run with the flusher's layer `io`.
 */
const perFileLog = (
  title: (durability: Wal.Durability, flusher: string) => string,
  property: (
    durability: Wal.Durability,
    newPath: () => string,
    io: (typeof flushers)[number][1]
  ) => Promise<void>
) => {
  for (const durability of ["always", "batch", "never"] as const) {
    for (const [flusher, io] of flushers) {
      it.effect(title(durability, flusher), () =>
        Effect.gen(function*() {
          const fs = yield* FileSystem.FileSystem
          const dir = yield* fs.makeTempDirectoryScoped()
          let run = 0
          yield* Effect.promise(() => property(durability, () => `${dir}/log-${run++}.jsonl`, io))
        }).pipe(Effect.provide(NodeContext.layer), Effect.scoped))
    }
  }
}

describe("Wal onLine", () => {
  it("memory: each appended line, exactly as stored, in order; and again when the bytes are reopened", () =>
    fc.assert(
      fc.property(recordsArb, fc.boolean(), (records, keyed) => {
        const { notCanonical, onLine, seen } = recorder()
        const options = keyed ? { key, onLine } : { allowEmptyKey: true, onLine }
        let accepted = 0
        const bytes = Effect.runSync(Effect.gen(function*() {
          const wal = yield* Wal.makeMemory(options)
          for (const r of records) accepted += expectAcceptedOrRefused(yield* Effect.either(wal.append(r)))
          return concat(yield* Stream.runCollect(wal.bytes).pipe(Effect.map((c) => [...c])))
        }))
        const lines = linesOf(bytes)
        expect(lines.length).toBe(accepted)
        expectHanded(seen, lines)
        const again = recorder()
        Effect.runSync(
          Wal.makeMemory(keyed ? { key, onLine: again.onLine } : { allowEmptyKey: true, onLine: again.onLine }, bytes)
        )
        expectHanded(again.seen, lines)
        // what a writer writes is canonical, appended or read back (fast path or exact)
        expect([...notCanonical, ...again.notCanonical]).toEqual([])
      }),
      numRuns(100)
    ))

  perFileLog(
    (durability, flusher) =>
      `file (${durability}, ${flusher}): the lines handed are the file's lines; the open hands them again`,
    (durability, newPath, io) =>
      fc.assert(
        fc.asyncProperty(recordsArb, fc.boolean(), fc.boolean(), (records, keyed, concurrent) =>
          Effect.runPromise(
            Effect.gen(function*() {
              const fs = yield* FileSystem.FileSystem
              const path = newPath()
              const { notCanonical, onLine, seen } = recorder()
              let accepted = 0
              const chain = keyed ? { key } : { allowEmptyKey: true }
              yield* Effect.scoped(Effect.gen(function*() {
                const wal = yield* Wal.makeFile(path, { ...chain, durability, onLine })
                const outcomes = yield* Effect.forEach(records, (r) => Effect.either(wal.append(r)), {
                  concurrency: concurrent ? "unbounded" : 1
                })
                accepted = outcomes.reduce((n, o) => n + expectAcceptedOrRefused(o), 0)
              }))
              const lines = linesOf(yield* fs.readFile(path))
              expect(lines.length).toBe(accepted)
              expectHanded(seen, lines)
              const again = recorder()
              yield* Effect.scoped(Wal.makeFile(path, { ...chain, durability, onLine: again.onLine }))
              expectHanded(again.seen, lines)
              expect([...notCanonical, ...again.notCanonical]).toEqual([])
            }).pipe(Effect.provide(Layer.merge(NodeContext.layer, io)))
          )),
        numRuns(12)
      )
  )

  it.effect("open, exact path: non-canonical data, non-ASCII, CRLF, blank lines and a last line without LF", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped()
      const path = `${dir}/log.jsonl`
      const records: Array<Json.Json> = [
        new Map([["a", 1]]),
        "é ☃ 𝄞",
        new Map([["b", [1, 2]]]),
        null,
        7
      ]
      yield* Effect.scoped(Effect.gen(function*() {
        const wal = yield* Wal.makeFile(path, { key })
        for (const r of records) yield* wal.append(r)
      }))
      const text = new TextDecoder().decode(yield* fs.readFile(path))
      const stored = text.split("\n").slice(0, -1)
      // entry 1: data re-spaced (not canonical: only the exact path reads it); entry 3 likewise;
      // entry 2 ends in CR LF; a blank line before entry 4; entry 5 without its newline
      const edited = [
        (stored[0] as string).replace(`"data":{"a":1}`, `"data": { "a" : 1 }`),
        (stored[1] as string) + "\r",
        (stored[2] as string).replace(`"data":{"b":[1,2]}`, `"data":{"b":[1, 2] }`),
        "  \t",
        stored[3] as string,
        stored[4] as string
      ]
      expect(edited[0]).not.toBe(stored[0])
      expect(edited[2]).not.toBe(stored[2])
      yield* fs.writeFileString(path, edited.join("\n"))
      const { notCanonical, onLine, seen } = recorder()
      yield* Effect.scoped(Wal.makeFile(path, { key, onLine }))
      // the leaf is the line without its LF and without a CR before it; blank lines are no entry
      const leaves = [edited[0], stored[1], edited[2], stored[3], stored[4]].map((l) => encoder.encode(l as string))
      expectHanded(seen, leaves)
      // the re-spaced entries verify (the chain hashes canonical data) but are told apart; a CR is not the line's
      expect(notCanonical).toEqual([1n, 3n])
      // then the next append hands its own line, after the newline the open added
      const more = recorder()
      yield* Effect.scoped(Effect.gen(function*() {
        const wal = yield* Wal.makeFile(path, { key, onLine: more.onLine })
        yield* wal.append("next")
      }))
      const lines = linesOf(yield* fs.readFile(path))
      expect(more.seen.length).toBe(6)
      expectHanded(more.seen.slice(5), lines.slice(6), 6n)
    }).pipe(Effect.provide(NodeContext.layer), Effect.scoped))
})

/** A line's entry hash (the writer's lines: `"entry_hash":"<hex>"`). */
const entryHashOf = (line: Uint8Array): string | undefined =>
  /"entry_hash":"([0-9a-f]{64})"/.exec(new TextDecoder().decode(line))?.[1]

describe("Wal onWritten", () => {
  perFileLog(
    (durability, flusher) =>
      `file (${durability}, ${flusher}): each write reported in order, its bytes the lines of its entries; onLine's views unchanged until then`,
    (durability, newPath, io) =>
      fc.assert(
        fc.asyncProperty(
          recordsArb,
          fc.boolean(),
          fc.boolean(),
          fc.boolean(),
          (records, keyed, concurrent, withoutLf) =>
            Effect.runPromise(
              Effect.gen(function*() {
                const fs = yield* FileSystem.FileSystem
                const path = newPath()
                const chain = keyed ? { key } : { allowEmptyKey: true }
                // an existing entry, its LF dropped or not (the first write then starts with one)
                yield* Effect.scoped(Effect.flatMap(Wal.makeFile(path, chain), (wal) => wal.append("first")))
                const before = yield* fs.readFile(path)
                if (withoutLf) yield* fs.writeFile(path, before.subarray(0, before.length - 1))
                const start0 = withoutLf ? before.length - 1 : before.length
                const views: Array<{ sequence: bigint; view: Uint8Array; copy: Uint8Array }> = []
                const writes: Array<
                  { start: number; end: number; sequence: bigint; hash: string; bytes: string }
                > = []
                const problems: Array<string> = []
                const onLine = (line: Uint8Array, sequence: bigint) => {
                  if (sequence > 1n) views.push({ sequence, view: line, copy: line.slice() })
                }
                const onWritten = (
                  start: number,
                  end: number,
                  sequence: bigint,
                  hash: string,
                  bytes: Uint8Array
                ) => {
                  const last = writes[writes.length - 1]
                  // every view of an entry written so far is still the line it was
                  for (const v of views) {
                    if (v.sequence <= sequence && Buffer.compare(v.view, v.copy) !== 0) {
                      problems.push(`entry ${v.sequence}'s view changed before its write was reported`)
                    }
                  }
                  views.splice(0, views.filter((v) => v.sequence <= sequence).length)
                  writes.push({ start, end, sequence, hash, bytes: Buffer.from(bytes).toString("hex") })
                  if (bytes.length !== end - start) {
                    problems.push(`write ${writes.length}: ${bytes.length} bytes, ${end - start} reported`)
                  }
                  if (last !== undefined && (start !== last.end || sequence <= last.sequence)) {
                    problems.push(`write ${writes.length} not after the one before`)
                  }
                }
                let accepted = 0
                yield* Effect.scoped(Effect.gen(function*() {
                  const wal = yield* Wal.makeFile(path, { ...chain, durability, onLine, onWritten })
                  const outcomes = yield* Effect.forEach(records, (r) => Effect.either(wal.append(r)), {
                    concurrency: concurrent ? "unbounded" : 1
                  })
                  accepted = outcomes.reduce((n, o) => n + expectAcceptedOrRefused(o), 0)
                }))
                expect(problems).toEqual([])
                const bytes = yield* fs.readFile(path)
                const lines = linesOf(bytes)
                expect(lines.length).toBe(1 + accepted)
                if (accepted === 0) {
                  expect(writes).toEqual([])
                  return
                }
                expect(writes[0]?.start).toBe(start0)
                expect(writes[writes.length - 1]?.end).toBe(bytes.length)
                expect(writes[writes.length - 1]?.sequence).toBe(BigInt(1 + accepted))
                let previous = 1n
                for (const [i, w] of writes.entries()) {
                  // the write's bytes: its entries' lines, each with its LF (the first write: an LF before, when the last line had none)
                  const expected = lines.slice(Number(previous), Number(w.sequence))
                    .map((l) => Buffer.concat([l, Buffer.from("\n")]))
                  const lf = i === 0 && withoutLf ? [Buffer.from("\n")] : []
                  expect(Buffer.from(bytes.subarray(w.start, w.end)).toString("hex"))
                    .toBe(Buffer.concat([...lf, ...expected]).toString("hex"))
                  // and the bytes handed over are those
                  expect(w.bytes).toBe(Buffer.concat([...lf, ...expected]).toString("hex"))
                  expect(w.hash).toBe(entryHashOf(lines[Number(w.sequence) - 1] as Uint8Array))
                  previous = w.sequence
                }
              }).pipe(Effect.provide(Layer.merge(NodeContext.layer, io)))
            )
        ),
        numRuns(12)
      )
  )

  it.effect("a memory log never reports a write", () =>
    Effect.gen(function*() {
      let reported = 0
      const wal = yield* Wal.makeMemory({ key, onWritten: () => reported++ })
      for (let i = 0; i < 5; i++) yield* wal.append(i)
      expect(reported).toBe(0)
    }))
})

describe("Wal.appendWith", () => {
  for (const layer of ["memory", "file"] as const) {
    it.effect(`${layer}: the append's sealed entry mapped, once, after its acknowledgement; the log as with append`, () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const dir = yield* fs.makeTempDirectoryScoped()
        for (const durability of ["always", "batch", "never"] as const) {
          const path = `${dir}/log-${durability}.jsonl`
          const seen: Array<bigint> = []
          const results = yield* Effect.scoped(Effect.gen(function*() {
            const wal = layer === "memory"
              ? yield* Wal.makeMemory({ key, durability })
              : yield* Wal.makeFile(path, { key, durability })
            const out: Array<unknown> = []
            for (let i = 0; i < 6; i++) {
              out.push(
                yield* Wal.appendWith(wal, i, (sealed) => {
                  seen.push(sealed.sequence)
                  return { sequence: sealed.sequence, hash: sealed.entry_hash }
                })
              )
              // acknowledged: the head has it when f is called
              expect((yield* wal.head).sequence).toBe(BigInt(i + 1))
            }
            const lines = linesOf(concat([...(yield* Stream.runCollect(wal.bytes))]))
            return { out, lines }
          }))
          expect(seen).toEqual([1n, 2n, 3n, 4n, 5n, 6n])
          expect(results.out).toEqual(results.lines.map((l, i) => ({
            sequence: BigInt(i + 1),
            hash: entryHashOf(l)
          })))
        }
      }).pipe(Effect.provide(Layer.merge(NodeContext.layer, WalNode.layer)), Effect.scoped))
  }

  it.effect("a wrapper spread over a file log (its own append) does not carry the log's appendWith along", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped()
      const wal = yield* Wal.makeFile(`${dir}/log.jsonl`, { key, durability: "never" })
      let wrapped = 0
      const wrapper: Wal.Wal["Type"] = {
        ...wal,
        append: (data) => Effect.tap(wal.append(data), () => Effect.sync(() => wrapped++))
      }
      const sequence = yield* Wal.appendWith(wrapper, "x", (sealed) => sealed.sequence)
      expect(sequence).toBe(1n)
      expect(wrapped).toBe(1)
    }).pipe(Effect.provide(Layer.merge(NodeContext.layer, WalNode.layer)), Effect.scoped))
})

describe("the reference writer's lines are canonical", () => {
  // shared/conformance/wal: logs the Rust crate wrote (kind "writer-output"), keyed and unkeyed,
  // generic and audited records, floats. The tree log refuses a line that is not its entry's
  // canonical form (a re-spelt line): it must take every line a writer wrote.
  const dir = new URL("../../../../shared/conformance/wal/", import.meta.url)
  const field = (value: Json.Json | undefined, name: string): Json.Json | undefined =>
    value instanceof Map ? value.get(name) : undefined
  const sidecars = nodeFs.readdirSync(dir).filter((f) => f.endsWith(".json") && f !== "float-roundtrip.json")
    .map((f) => Either.getOrThrow(JsonValue.parse(nodeFs.readFileSync(new URL(f, dir), "utf8"))))
    .filter((s) => field(s, "kind") === "writer-output" && typeof field(s, "file") === "string")
    .map((s) => {
      const keyHex = field(field(s, "writer"), "key_hex")
      return { file: field(s, "file") as string, keyHex: typeof keyHex === "string" ? keyHex : undefined }
    })

  it.effect(`every line of the ${sidecars.length} logs it wrote is handed as canonical, and TreeLog opens them`, () =>
    Effect.gen(function*() {
      expect(sidecars.length).toBeGreaterThan(0)
      for (const sidecar of sidecars) {
        const bytes = Uint8Array.from(nodeFs.readFileSync(new URL(sidecar.file, dir)))
        const keyHex = sidecar.keyHex
        const chain = keyHex === undefined
          ? { allowEmptyKey: true }
          : { key: Uint8Array.from(Buffer.from(keyHex, "hex")) }
        const { notCanonical, onLine, seen } = recorder()
        yield* Effect.scoped(Wal.makeMemory({ ...chain, onLine }, bytes))
        expect(seen.length, sidecar.file).toBe(linesOf(bytes).length)
        expect(notCanonical, sidecar.file).toEqual([])
        const head = yield* Effect.scoped(Effect.flatMap(TreeLog.makeMemory(chain, bytes), (log) => log.head))
        expect(head.size, sidecar.file).toBe(BigInt(seen.length))
      }
    }))
})
