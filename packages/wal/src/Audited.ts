/**
 * Audited records (SPEC §5): `{"audit": bundle, "input": Input, "decision": Decision,
 * "metadata": M}`, and the fail-closed audited replay that checks every one of them against
 * a policy.
 */
import * as Codec from "@calybris/core/Codec"
import * as Decision from "@calybris/core/Decision"
import * as Digest from "@calybris/core/Digest"
import * as Input from "@calybris/core/Input"
import type * as Json from "@calybris/core/Json"
import * as JsonSchema from "@calybris/core/JsonSchema"
import { jsonObject, JsonValue } from "@calybris/core/JsonSchema"
import type { Policy } from "@calybris/core/Policy"
import * as Verify from "@calybris/core/Verify"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import type { Entry, Sealed } from "./Entry.js"
import * as AuditedBytes from "./internal/auditedBytes.js"
import * as Typed from "./internal/typed.js"
import * as Reader from "./Reader.js"
import { Wal } from "./Wal.js"
import {
  type WalAppendError,
  WalAuditFailed,
  type WalIoError,
  WalParseError,
  type WalReadError,
  WalRecordError,
  type WalVerifyError
} from "./WalError.js"

/** An audited record with metadata of any Json-encoded Schema. */
export const AuditedRecord = <M, I extends Json.Json>(metadata: Schema.Schema<M, I>) =>
  jsonObject({
    audit: Verify.AuditBundle,
    input: Input.Input,
    decision: Decision.Decision,
    metadata
  }, "AuditedRecord")

/** An audited record with free-form Json metadata (what the reference's tools use). */
export const AuditedJson = AuditedRecord(JsonValue)
export type AuditedJson = typeof AuditedJson.Type

// the compiled codec gives exactly the Schema's output, or gives up and the Schema decides
const encodeAudited = Codec.encodeEither(AuditedJson)
const decodeAudited = Codec.decodeUnknownEither(AuditedJson)
const decodeAuditedFast = Codec.compileDecoder(AuditedJson)

/** The reference's typed view of a line: `WalEntry<AuditedRecord<serde_json::Value>>`. */
const decodeTyped = Typed.recordDecoder(JsonSchema.shapeOf(AuditedJson))

/**
 * The audited record of a verified entry, decoded as the reference decodes it: typed, from the
 * line (`serde_json::from_str::<WalEntry<AuditedRecord<Value>>>`), so that a record that does
 * not decode fails with serde's message, category and column — a repeated member of the record
 * included, which the untyped `data` (last value wins) would hide. A canonical line (what
 * writers write: no repeated member) whose `data` the fast path decodes needs no second look.
 */
const decodeEntry = (entry: Entry): Either.Either<AuditedJson, WalParseError> => {
  if (entry.canonical && decodeAuditedFast !== undefined) {
    const fast = decodeAuditedFast(entry.data)
    if (fast !== Codec.FAIL && fast !== Codec.DEFER) return Either.right(fast)
  }
  const at = { line: entry.line, offset: entry.offset }
  let data: Json.Json = entry.data
  if (decodeTyped !== undefined) {
    const typed = decodeTyped(entry)
    if (Either.isLeft(typed)) {
      const e = typed.left
      return Either.left(new WalParseError({ ...at, category: e.category, reason: e.message, column: e.column }))
    }
    data = typed.right
  }
  return Either.mapLeft(
    decodeAudited(data),
    (e) => new WalParseError({ ...at, category: "Data", reason: JsonSchema.formatError(e), column: 0 })
  )
}

/**
 * The audited record for a decision: its audit bundle (`Verify.auditBundle`: the kernel replays
 * the decision for `replay_valid`), input, decision and metadata, as Json.
 */
export const record = (
  policy: Policy,
  input: Input.Input,
  decision: Decision.Decision,
  metadata: Json.Json
): Either.Either<Json.Json, WalRecordError> =>
  encodeRecord(Verify.auditBundle(policy, input, decision), input, decision, metadata)

/**
 * `record` of a decision the caller has just computed as `Kernel.prescribe(policy, input)`
 * from this very policy and input: the bundle is `Verify.auditBundleOfPrescribed` (`replay_valid`
 * true by construction, no second run of the kernel). Equal to `record` for such a
 * decision; for a decision from anywhere else, use `record`.
 */
export const recordOfPrescribed = (
  policy: Policy,
  input: Input.Input,
  decision: Decision.Decision,
  metadata: Json.Json
): Either.Either<Json.Json, WalRecordError> =>
  encodeRecord(Verify.auditBundleOfPrescribed(policy, input, decision), input, decision, metadata)

const encodeRecord = (
  audit: Verify.AuditBundle,
  input: Input.Input,
  decision: Decision.Decision,
  metadata: Json.Json
): Either.Either<Json.Json, WalRecordError> => {
  return Either.mapLeft(
    encodeAudited({ audit, input, decision, metadata }),
    (e) => new WalRecordError({ sequence: 0n, reason: JsonSchema.formatError(e) })
  )
}

/** Append the audited record of a decision. */
export const append = (
  policy: Policy,
  input: Input.Input,
  decision: Decision.Decision,
  metadata: Json.Json
): Effect.Effect<Sealed, WalAppendError, Wal> =>
  Effect.flatMap(Wal, (wal) => Effect.flatMap(record(policy, input, decision, metadata), wal.append))

/** One entry's audit verdict. */
export interface Verdict {
  readonly sequence: bigint
  readonly replay_valid: boolean
  readonly policy_digest_match: boolean
  readonly input_digest_match: boolean
  readonly decision_digest_match: boolean
}

/** The audit verdict of one record against a policy (the bundle's own `replay_valid` is not trusted). */
export const audit = (policy: Policy, sequence: bigint, record: AuditedJson): Verdict => ({
  sequence,
  replay_valid: Either.isRight(Verify.checkDecision(policy, record.input, record.decision)),
  policy_digest_match: record.audit.policy_digest_hex === Digest.policyDigest(policy),
  input_digest_match: record.audit.input_digest_hex === Digest.inputDigest(record.input),
  decision_digest_match: record.audit.decision_digest_hex === Digest.decisionDigest(record.decision)
})

/**
 * The reader's fast path tries this on a line's data before its own scanner: a record in the
 * writers' form is read once, as the reader checks that the data is canonical (what
 * `AuditedBytes.decodeAt` accepts is: property-tested), and kept for `takeBytes` of the same
 * line (`takeDecoded`: the reader calls `takeBytes` right after the line's hash checked out,
 * within the same synchronous `push`).
 */
const scanRecord = (bytes: Uint8Array, start: number, limit: number): number =>
  AuditedBytes.decodeAt(bytes, start, limit)

const passed = (v: Verdict) =>
  v.replay_valid && v.policy_digest_match && v.input_digest_match && v.decision_digest_match

export type ReplayError = WalVerifyError | WalReadError | WalIoError | WalAuditFailed

/**
 * Audited replay over raw log bytes, failing closed: first the whole chain must verify; then
 * every entry's data must decode as an audited record (the first that does not fails with a
 * parse error); then every entry must pass its audit, in file order (the first that does not
 * fails with `WalAuditFailed`). The verdicts are returned only when all pass.
 *
 * One pass over the bytes gives exactly that order: each entry is verified as it is read, and
 * a record that does not decode or fails its audit is only noted (the first of each), while
 * the reading goes on to the end — so a broken chain anywhere still wins over both, and a
 * decode failure anywhere over every audit failure. (Reading once also means that the chain
 * verified is the one audited: no second read that could see other bytes.)
 */
export const replayBytes = <E, R>(
  bytes: Stream.Stream<Uint8Array, E, R>,
  reader: Reader.ReaderOptions,
  policy: Policy
): Effect.Effect<Array<Verdict>, E | ReplayError, R> =>
  Effect.suspend(() => {
    // the reader's state machine is driven directly, one Effect per chunk of bytes: a Stream of
    // entries would cost an Effect per entry (measured: more than decoding and auditing it)
    const verdicts: Array<Verdict> = []
    let firstFailure: Verdict | undefined
    let undecodable: WalParseError | undefined
    const note = (verdict: Verdict): void => {
      if (firstFailure === undefined && !passed(verdict)) firstFailure = verdict
      verdicts.push(verdict)
    }
    // each entry is decoded and audited as soon as it is read (and then dropped: see LineReader)
    const take = (entry: Entry): void => {
      // after a record that does not decode, only the chain is checked (the error is fixed)
      if (undecodable !== undefined) return
      const decoded = decodeEntry(entry)
      if (Either.isLeft(decoded)) {
        undecodable = decoded.left
        return
      }
      note(audit(policy, entry.sequence, decoded.right))
    }
    // a line the reader's fast path verified comes as its canonical data bytes: a record in the
    // writers' form is decoded from them (internal/auditedBytes.ts) — by the fast path's own
    // scan of the line (`scanRecord`: the record read once, no second scan of its bytes), or
    // here —; any other is declined, and the reader hands it over as an Entry to `take` (the
    // exact path, with its errors)
    const takeBytes = (sequence: bigint, data: Uint8Array): boolean => {
      const decoded = AuditedBytes.takeDecoded() ?? AuditedBytes.decode(data)
      if (undecodable !== undefined) return true
      if (decoded === undefined) return false
      note(audit(policy, sequence, decoded))
      return true
    }
    const lines = new Reader.LineReader(reader, true, take, takeBytes, scanRecord)
    // a broken chain (or unreadable line) wins over everything noted before it
    const step = (result: Either.Either<unknown, WalVerifyError>): Effect.Effect<void, WalVerifyError> =>
      Either.isLeft(result) ? Effect.fail(result.left) : Effect.void
    return bytes.pipe(
      Stream.runForEach((chunk) => step(lines.push(chunk))),
      Effect.zipRight(Effect.suspend(() => step(lines.end()))),
      Effect.flatMap((): Effect.Effect<Array<Verdict>, WalParseError | WalAuditFailed> => {
        if (undecodable !== undefined) return Effect.fail(undecodable)
        const failure = firstFailure
        if (failure !== undefined) {
          return Effect.fail(
            new WalAuditFailed({
              sequence: failure.sequence,
              replay_valid: failure.replay_valid,
              policy_match: failure.policy_digest_match,
              input_match: failure.input_digest_match,
              decision_match: failure.decision_digest_match
            })
          )
        }
        return Effect.succeed(verdicts)
      })
    )
  }).pipe(Effect.withSpan("Audited.replay"))

/** Audited replay of the service's log against a policy (see `replayBytes`). */
export const replay = (policy: Policy): Effect.Effect<Array<Verdict>, ReplayError, Wal> =>
  Effect.flatMap(Wal, (wal) => replayBytes(wal.bytes, wal.reader, policy))
