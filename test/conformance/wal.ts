/**
 * wal/: for every sample and every check in its sidecar, our verdict equals the reference's
 * (except where the reference's lossy float parser breaks the chain of a log it wrote — a
 * writer-output sample holding a float, checked with the writer's own key: SPEC §8 says we verify
 * it; `float-lossy-*` is such a sample, found by its content, not its name); every writer-output sample is
 * rewritten from its sidecar and must come out byte for byte; float-roundtrip.json checks the
 * printer and the normative canonicalisations.
 */
import * as Decision from "@calybris/core/Decision"
import { Input } from "@calybris/core/Input"
import * as Json from "@calybris/core/Json"
import * as Policy from "@calybris/core/Policy"
import * as Audited from "@calybris/wal/Audited"
import * as Chain from "@calybris/wal/Chain"
import * as Reader from "@calybris/wal/Reader"
import * as Wal from "@calybris/wal/Wal"
import type { WalVerifyError } from "@calybris/wal/WalError"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Stream from "effect/Stream"
import * as fs from "node:fs"
import * as path from "node:path"
import { readsLossily } from "./lossyFloat.js"
import {
  asInteger,
  canonical,
  decode,
  expectSame,
  type FileResult,
  get,
  getArray,
  getString,
  readJson,
  Tally
} from "./vectors.js"

const hexToBytes = (hex: string): Uint8Array => Uint8Array.from(Buffer.from(hex, "hex"))

const chainFor = (keyHex: string | null | undefined): Chain.Chain =>
  Either.getOrThrow(
    Chain.make(
      keyHex === null || keyHex === undefined ? {} : { key: hexToBytes(keyHex), allowEmptyKey: true }
    )
  )

type Verdict = Json.Json

/** Our error as the reference's error object (variant + fields + display). */
const errorVerdict = (e: WalVerifyError | { readonly _tag: string }): Json.Json => {
  const m = new Map<string, Json.Json>()
  switch (e._tag) {
    case "WalReadError":
      m.set("variant", "Io")
      m.set("io_kind", (e as { io_kind: string }).io_kind)
      break
    case "WalTornTail":
    case "WalParseError": {
      const p = e as { category: string; column: number; reason: string }
      if (p.category === "Io") {
        m.set("variant", "Io")
        m.set("io_kind", "InvalidData")
      } else {
        m.set("variant", "Json")
        m.set("category", p.category)
        m.set("line", 1)
        m.set("column", p.column)
        m.set("message", p.reason)
      }
      break
    }
    case "WalSequenceError":
      m.set("variant", "DuplicateSequence")
      m.set("sequence", (e as { sequence: bigint }).sequence)
      m.set("display", (e as { message: string }).message)
      break
    case "WalChainBroken": {
      const c = e as { sequence: bigint; expected: string; found: string; message: string }
      m.set("variant", "ChainBroken")
      m.set("sequence", c.sequence)
      m.set("expected", c.expected)
      m.set("found", c.found)
      m.set("display", c.message)
      break
    }
    case "WalAuditFailed": {
      const a = e as unknown as { sequence: bigint; reason: string; message: string }
      m.set("variant", "AuditFailed")
      m.set("sequence", a.sequence)
      m.set("reason", a.reason)
      m.set("display", a.message)
      break
    }
    default:
      m.set("variant", e._tag)
  }
  return new Map([["err", m]])
}

/** The reference's error object, reduced to the members we compare. */
const expectedError = (err: Json.Json | undefined): Json.Json => {
  const variant = getString(err, "variant")
  const m = new Map<string, Json.Json>([["variant", variant ?? null]])
  const keep = (k: string) => {
    const v = get(err, k)
    if (v !== undefined) m.set(k, v)
  }
  switch (variant) {
    case "Io":
      keep("io_kind")
      break
    case "Json": {
      keep("category")
      keep("line")
      keep("column")
      // serde's message, as the reference displays it: "WAL JSON error: <message> at line L column C"
      const display = /^WAL JSON error: ([\s\S]*) at line \d+ column \d+$/.exec(getString(err, "display") ?? "")
      if (display !== null) m.set("message", display[1] ?? "")
      break
    }
    default:
      keep("sequence")
      keep("expected")
      keep("found")
      keep("reason")
      keep("display")
  }
  return new Map([["err", m]])
}

/**
 * Our message quotes at most an excerpt of user data (`…` where it was cut); the reference
 * quotes it whole. An excerpt that is a prefix of the reference's quote counts as the same.
 */
const excerpted = (actual: Json.Json, wanted: Json.Json): Json.Json => {
  const ours = getString(get(actual, "err"), "message")
  const theirs = getString(get(wanted, "err"), "message")
  if (ours === undefined || theirs === undefined || ours === theirs) return actual
  const cut = ours.indexOf("…")
  if (cut < 0 || !theirs.startsWith(ours.slice(0, cut))) return actual
  const err = new Map(get(actual, "err") as Json.JsonObject)
  err.set("message", theirs)
  return new Map([["err", err]])
}

const run = <A, E>(effect: Effect.Effect<A, E>): Either.Either<A, E> => {
  const exit = Effect.runSyncExit(effect)
  if (Exit.isSuccess(exit)) return Either.right(exit.value)
  const failure = exit.cause._tag === "Fail" ? exit.cause.error : undefined
  if (failure === undefined) throw new Error(`defect: ${String(exit.cause)}`)
  return Either.left(failure)
}

const bytesStream = (bytes: Uint8Array) => Stream.make(bytes)

/**
 * The reader's line limit for a sample: room for its longest line. The reference reads lines of
 * any length; our reader refuses one past `maxLineBytes` (64 MiB by default, a memory guard:
 * README, SECURITY.md) — a sample in memory already is read whole, as the reference reads it.
 */
const lineRoom = (bytes: Uint8Array): number => Math.max(Reader.DEFAULT_MAX_LINE_BYTES, bytes.length + 1)

const verdictJson = (v: Audited.Verdict): Json.Json =>
  new Map<string, Json.Json>([
    ["sequence", v.sequence],
    ["replay_valid", v.replay_valid],
    ["policy_digest_match", v.policy_digest_match],
    ["input_digest_match", v.input_digest_match],
    ["decision_digest_match", v.decision_digest_match]
  ])

/**
 * The replay of a writer-output sample's audited records as the writer appended them (the
 * sidecar's `records` and `entries`) against `policy`, in the reference's result format: the
 * verdicts (`{"ok": […]}`), or — at the first entry that fails — `AuditFailed` with the
 * reference's reason and display (README "Error object"). What a replay of its file must give
 * when its only difference from the reference's is the reference's lossy float parse.
 */
const writtenReplay = (writer: Json.Json, policy: Policy.Policy): Json.Json => {
  const entries = getArray(writer, "entries")
  const verdicts = getArray(writer, "records").map((record, i) => {
    const sequence = get(entries[i] ?? null, "sequence")
    if (typeof sequence !== "number" && typeof sequence !== "bigint") {
      throw new Error(`writer.entries[${i}].sequence: ${String(sequence)}`)
    }
    return Audited.audit(policy, BigInt(sequence), decode(Audited.AuditedJson, record, `writer.records[${i}]`))
  })
  const failing = verdicts.find((v) =>
    !(v.replay_valid && v.policy_digest_match && v.input_digest_match && v.decision_digest_match)
  )
  if (failing === undefined) return new Map([["ok", verdicts.map(verdictJson)]])
  const reason = `replay_valid=${failing.replay_valid} policy_match=${failing.policy_digest_match} ` +
    `input_match=${failing.input_digest_match} decision_match=${failing.decision_digest_match}`
  return new Map([[
    "err",
    new Map<string, Json.Json>([
      ["variant", "AuditFailed"],
      ["sequence", failing.sequence],
      ["reason", reason],
      ["display", `WAL audit failed at sequence ${failing.sequence}: ${reason}`]
    ])
  ]])
}

/**
 * SPEC §8: the reference's lossy float parser breaks the chain of a log it wrote, and its audited
 * replay validates the chain first; we read floats exactly. Where the reference reports a break
 * of a writer-output sample (`writer`) that its float parse explains — at the entry whose record
 * it reads as another value (`readsLossily`) —:
 * - checked with the writer's own key (or none, for an unkeyed writer): at the first such entry,
 *   with the file's hash there as `found`; we verify the log: the outcome is `written()`, what the
 *   writer appended;
 * - checked with another key (or none, for a keyed log): the chain breaks for us too, at the same
 *   entry with the same `found`, and when that entry's record is read lossily the `expected` hash
 *   (and the display naming it) is over the value the reference misread, ours over the exact one.
 * Any other expected result stands as it is. `noted` is told when the expected result was replaced.
 */
const lossyWanted = (
  writer: Json.Json | undefined,
  checkKey: string | null,
  wanted: Json.Json,
  actual: Json.Json,
  written: () => Json.Json,
  noted: () => void
): Json.Json => {
  const theirs = get(wanted, "err")
  if (writer === undefined || get(theirs, "variant") !== "ChainBroken") return wanted
  const texts = getArray(writer, "records_json")
  const lossyAt = (sequence: Json.Json | undefined): boolean => {
    const text = typeof sequence === "number" ? texts[sequence - 1] : undefined
    return typeof text === "string" && readsLossily(text)
  }
  const sequence = get(theirs, "sequence")
  if (checkKey === (getString(writer, "key_hex") ?? null)) {
    const first = texts.findIndex((text) => typeof text === "string" && readsLossily(text)) + 1
    const entry = getArray(writer, "entries")[first - 1]
    if (first === 0 || sequence !== first || get(theirs, "found") !== get(entry, "entry_hash")) return wanted
    noted()
    return written()
  }
  const ours = get(actual, "err")
  if (
    get(ours, "variant") === "ChainBroken" && get(ours, "sequence") === sequence &&
    get(ours, "found") === get(theirs, "found") && lossyAt(sequence)
  ) {
    noted()
    return actual
  }
  return wanted
}

const checkOne = (bytes: Uint8Array, check: Json.Json, writer: Json.Json | undefined, noted: () => void) => {
  const problems: Array<string> = []
  const fn = getString(check, "fn")
  const expected = get(check, "expected")
  let actual: Verdict
  let wanted: Verdict
  const okOrErr = <A>(r: Either.Either<A, { readonly _tag: string }>, ok: (a: A) => Json.Json): Json.Json =>
    Either.match(r, { onLeft: (e) => errorVerdict(e as WalVerifyError), onRight: (a) => new Map([["ok", ok(a)]]) })
  const expectedVerdict = (): Json.Json => {
    const err = get(expected, "err")
    return err !== undefined ? expectedError(err) : expected ?? null
  }
  switch (fn) {
    case "verify_wal":
    case "verify_wal_keyed": {
      const chain = chainFor(fn === "verify_wal" ? null : getString(check, "key_hex") ?? null)
      const r = run(Reader.verify(bytesStream(bytes), { chain, maxLineBytes: lineRoom(bytes) }))
      actual = okOrErr(r, (v) => new Map<string, Json.Json>([["count", v.count], ["last_hash", v.lastHash]]))
      const entries = getArray(writer, "entries")
      const last = entries[entries.length - 1]
      wanted = lossyWanted(
        writer,
        fn === "verify_wal" ? null : getString(check, "key_hex") ?? null,
        expectedVerdict(),
        actual,
        () =>
          new Map([[
            "ok",
            new Map<string, Json.Json>([["count", entries.length], ["last_hash", get(last, "entry_hash") ?? null]])
          ]]),
        noted
      )
      break
    }
    case "read_wal": {
      const r = run(Reader.verify(bytesStream(bytes), { chain: undefined, maxLineBytes: lineRoom(bytes) }))
      actual = okOrErr(r, (v) => new Map<string, Json.Json>([["count", v.count]]))
      wanted = expectedVerdict()
      break
    }
    case "replay_audited_wal_keyed": {
      const keyHex = get(check, "key_hex")
      const chain = chainFor(typeof keyHex === "string" ? keyHex : null)
      const policy = Policy.unsafeMake(decode(Policy.PolicySnapshot, get(check, "policy"), "policy"))
      const r = run(Audited.replayBytes(bytesStream(bytes), { chain, maxLineBytes: lineRoom(bytes) }, policy))
      actual = okOrErr(r, (verdicts) => verdicts.map(verdictJson))
      wanted = lossyWanted(
        writer,
        typeof keyHex === "string" ? keyHex : null,
        expectedVerdict(),
        actual,
        () => writtenReplay(writer ?? null, policy),
        noted
      )
      break
    }
    default:
      problems.push(`unknown check ${String(fn)}`)
      return problems
  }
  expectSame(problems, String(fn), canonical(excerpted(actual, wanted)), canonical(wanted))
  return problems
}

/** Rewrite a writer-output sample from its sidecar with our writer. */
const rewrite = (sidecar: Json.Json, expectedBytes: Uint8Array, refusesDepth: boolean): ReadonlyArray<string> => {
  const problems: Array<string> = []
  const writer = get(sidecar, "writer")
  const keyHex = get(writer, "key_hex")
  const room = lineRoom(expectedBytes)
  const options = typeof keyHex === "string"
    ? { key: hexToBytes(keyHex), allowEmptyKey: true, durability: "never" as const, maxLineBytes: room }
    : { durability: "never" as const, maxLineBytes: room }
  const appends = getArray(writer, "appends")
  const audited = get(writer, "method") !== undefined && appends.length > 0
  const program = Effect.gen(function*() {
    if (audited) {
      const policy = Policy.unsafeMake(decode(Policy.PolicySnapshot, get(writer, "policy"), "policy"))
      for (const a of appends) {
        yield* Audited.append(
          policy,
          decode(Input, get(a, "input"), "input"),
          decode(Decision.Decision, get(a, "decision"), "decision"),
          get(a, "metadata") ?? null
        )
      }
    } else {
      for (const record of getArray(writer, "records")) yield* Wal.append(record)
    }
    const wal = yield* Wal.Wal
    const chunks = yield* Stream.runCollect(wal.bytes)
    return Buffer.concat([...chunks])
  }).pipe(Effect.provide(Wal.layerMemory(options)))
  const result = run(program)
  if (refusesDepth) {
    if (Either.isRight(result) || result.left._tag !== "WalRecordTooDeep") {
      problems.push("expected the writer to refuse a record nested deeper than the reader's limit")
    }
    return problems
  }
  if (Either.isLeft(result)) {
    problems.push(`writer failed: ${result.left._tag}`)
    return problems
  }
  const written = result.right
  if (Buffer.compare(written, Buffer.from(expectedBytes)) !== 0) {
    let i = 0
    while (i < written.length && written[i] === expectedBytes[i]) i++
    problems.push(`bytes differ at offset ${i} (ours ${written.length} bytes, reference ${expectedBytes.length})`)
  }
  return problems
}

export const runWalSample = (dir: string, sidecarName: string): FileResult => {
  const tally = new Tally()
  const sidecar = readJson(path.join(dir, sidecarName))
  const file = getString(sidecar, "file") ?? sidecarName.replace(/\.json$/, ".jsonl")
  const bytes = Uint8Array.from(fs.readFileSync(path.join(dir, file)))
  const kind = getString(sidecar, "kind")
  // (the lossy-float exemption is for the writer's own output only: a tampered or reopened file's
  // breaks stand as the reference reports them)
  const writer = kind === "writer-output" ? get(sidecar, "writer") : undefined
  const checks = getArray(sidecar, "checks")
  const notes: Array<string> = []
  checks.forEach((check, i) => {
    const label = `check ${i} ${String(getString(check, "fn"))}`
    const noted = () =>
      notes.push(
        `${label}: the reference's chain break comes from its lossy float parse (SPEC §8): compared with what the writer appended instead`
      )
    tally.case(`${file} ${label}`, () => checkOne(bytes, check, writer, noted))
  })
  if (kind === "writer-output" && writer !== undefined) {
    const refusesDepth = checks.some((c) => /recursion limit/.test(canonical(get(c, "expected"))))
    tally.case(`${file} byte-identical rewrite`, () => rewrite(sidecar, bytes, refusesDepth))
  }
  // a reopen sample's `extra` (the reference's reopen results: a format the README does not give)
  // is not compared — its checks on the file are; said, never passed over
  const extra = get(sidecar, "extra")
  if (kind === "reopen" && extra instanceof Map && extra.size > 0) {
    notes.push(
      `extra (${[...extra.keys()].join(", ")}): the reopen's results, not compared (only the checks on the file are)`
    )
  }
  return { ...tally.result(), notes }
}

/** float-roundtrip.json: the printer's `written` text for every double, and the canonicalisations. */
export const runFloatRoundtrip = (file: string): FileResult => {
  const tally = new Tally()
  const table = readJson(file)
  for (const entry of getArray(table, "floats")) {
    const bits = getString(entry, "bits") ?? ""
    tally.case(`float ${bits}`, () => {
      const problems: Array<string> = []
      const view = new DataView(new ArrayBuffer(8))
      view.setBigUint64(0, BigInt(`0x${bits}`))
      const value = view.getFloat64(0)
      const written = getString(entry, "written") ?? ""
      expectSame(problems, "written", Json.printFloat(value), written)
      // our parser is correctly rounded: what we write reads back to the same double
      const back = Json.parse(written)
      const reread = Either.isRight(back) && back.right instanceof Json.JsonFloat ? back.right.value : NaN
      if (!Object.is(reread, value)) problems.push(`parse(${written}) = ${reread}, not the written double`)
      return problems
    })
  }
  for (const entry of getArray(table, "number_text_canonicalization")) {
    const text = getString(entry, "text") ?? ""
    tally.case(`number text ${text}`, () => {
      const problems: Array<string> = []
      const parsed = Json.parse(text)
      const canonicalText = getString(entry, "canonical")
      const integer = /^-?[0-9]+$/.test(text)
      if (canonicalText !== undefined) {
        const ours = Either.isRight(parsed) ? Json.print(parsed.right) : `error: ${parsed.left.message}`
        // normative: integers and anything whose reference value is the correctly rounded one
        if (integer || Number(canonicalText) === Number(text)) expectSame(problems, "canonical", ours, canonicalText)
      } else {
        const lossyOnly = Either.isRight(parsed) && !integer && Number.isFinite(Number(text))
        if (!lossyOnly) {
          const message = Either.isLeft(parsed)
            ? `${parsed.left.message} at line ${parsed.left.line} column ${parsed.left.column}`
            : "ok"
          expectSame(problems, "error", message, getString(entry, "error") ?? "")
          expectSame(
            problems,
            "category",
            Either.isLeft(parsed) ? parsed.left.category : "ok",
            getString(entry, "category") ?? ""
          )
        }
      }
      return problems
    })
  }
  void asInteger
  return tally.result()
}
