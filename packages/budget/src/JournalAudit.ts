/**
 * Audited replay of a ledger journal: every `admit` entry carries its audited decision, so an
 * auditor can check — without trusting the operator — that each hold was taken for a decision
 * that replays bit for bit under a known policy, with digests binding it to its input.
 * Fails closed: the chain first, then every record must decode and the journal must hold
 * together — every command replays from genesis as it applied when it was journaled and every
 * checkpoint passes the recovery checks and equals the replayed state (`LedgerJournalInconsistent`
 * naming the entry: the audit trusts no checkpoint) — then every audit must pass.
 */
import * as Digest from "@calybris/core/Digest"
import * as Json from "@calybris/core/Json"
import * as JsonSchema from "@calybris/core/JsonSchema"
import type { Policy } from "@calybris/core/Policy"
import * as Audited from "@calybris/wal/Audited"
import * as Chain from "@calybris/wal/Chain"
import * as Reader from "@calybris/wal/Reader"
import { Wal, type WalOptions } from "@calybris/wal/Wal"
import { WalAuditFailed, WalIoError, WalNotAFile, WalParseError } from "@calybris/wal/WalError"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { Replay } from "./internal/consistency.js"
import * as Journal from "./Journal.js"
import type { LedgerJournalInconsistent } from "./LedgerError.js"

const decodeAudited = Schema.decodeUnknownEither(Audited.AuditedJson)

/** The members of an audited decision record (`Audited.AuditedJson`), which no journal record has. */
const AUDITED_MEMBERS = ["audit", "input", "decision"] as const

/**
 * Audit every admit of the journal against the policies it may have used (matched by policy
 * digest; a decision under an unknown policy fails with `policy_match=false`).
 *
 * One pass over the bytes (`Reader.verifyEach`), failing in the order of the module's doc: each
 * entry is verified as it is read and audited at once; the first record that does not decode or
 * does not hold together ends the audit of records but not the verification, so a broken chain
 * anywhere still wins over it, and it wins over every failed audit. (Reading once also means
 * that the chain verified is the one audited: no second read that could see other bytes.)
 */
export const auditBytes = <E, R>(
  bytes: Stream.Stream<Uint8Array, E, R>,
  reader: Reader.ReaderOptions,
  policies: ReadonlyArray<Policy>
) =>
  Effect.gen(function*() {
    const byDigest = new Map(policies.map((p) => [Digest.policyDigest(p), p] as const))
    const fallback = policies[0]
    const verdicts: Array<Audited.Verdict> = []
    let firstFailure: Audited.Verdict | undefined
    const replay = new Replay(true)
    yield* Reader.verifyEach(
      bytes,
      reader,
      (entry): Either.Either<void, WalParseError | LedgerJournalInconsistent> => {
        const bad = (reason: string) =>
          Either.left(
            new WalParseError({ line: entry.line, offset: entry.offset, category: "Data", reason, column: 0 })
          )
        // an audited decision's members on a journal record (an audited log dressed as a journal):
        // named as such first (the journal's decoder refuses any member it does not know, too)
        const data = entry.data
        const foreign = Json.isObject(data) && data.has("v")
          ? AUDITED_MEMBERS.filter((member) => data.has(member))
          : []
        if (foreign.length > 0) {
          return bad(
            `a ledger journal record that also carries an audited decision's ${
              foreign.join(", ")
            }: which it is cannot be told, so neither is trusted`
          )
        }
        const decoded = Journal.decode(data)
        if (Either.isLeft(decoded)) return bad(`not a ledger journal record: ${JsonSchema.formatError(decoded.left)}`)
        const record = decoded.right
        const inconsistent = replay.entry(entry.sequence, Journal.replayableOf(record))
        if (inconsistent !== undefined) return Either.left(inconsistent)
        if (!("commands" in record)) return Either.void
        for (const journaled of record.commands) {
          // a refused admit (remembered under its id) carries its audited decision too
          const command = journaled._tag === "Refused" ? journaled.command : journaled
          if (command._tag !== "Admit") continue
          const audited = decodeAudited(command.audited)
          if (Either.isLeft(audited)) {
            return bad(`admit without a valid audited decision: ${JsonSchema.formatError(audited.left)}`)
          }
          const policy = byDigest.get(audited.right.audit.policy_digest_hex) ?? fallback
          if (policy === undefined) return bad("no policy to audit against")
          const verdict = Audited.audit(policy, entry.sequence, audited.right)
          const holdMatches =
            (command.amount as bigint) === (audited.right.decision.estimated_cost_microunits as bigint)
          const checked = holdMatches ? verdict : { ...verdict, decision_digest_match: false }
          if (
            firstFailure === undefined &&
            !(checked.replay_valid && checked.policy_digest_match && checked.input_digest_match &&
              checked.decision_digest_match)
          ) firstFailure = checked
          verdicts.push(checked)
        }
        return Either.void
      }
    )
    yield* replay.finish()
    if (firstFailure !== undefined) {
      return yield* new WalAuditFailed({
        sequence: firstFailure.sequence,
        replay_valid: firstFailure.replay_valid,
        policy_match: firstFailure.policy_digest_match,
        input_match: firstFailure.input_digest_match,
        decision_match: firstFailure.decision_digest_match
      })
    }
    return verdicts
  }).pipe(Effect.withSpan("JournalAudit.audit"))

/**
 * Audit the admits of the journal in the environment's WAL (a log that is the ledger's alone: see
 * `Ledger.layerJournal`). For a journal file, `auditFile` needs no `Wal`.
 */
export const audit = (policies: ReadonlyArray<Policy>) =>
  Effect.flatMap(Wal, (wal) => auditBytes(wal.bytes, wal.reader, policies))

/** How a journal file is read for its audit: its chain (the key) and the reader's line limit. */
export type AuditFileOptions = Pick<WalOptions, "key" | "allowEmptyKey" | "hash" | "maxLineBytes">

const CHUNK = FileSystem.MiB(1)

/**
 * Audit the admits of a journal file (`auditBytes`), given only a `FileSystem`: no `Wal`
 * layer, no writer lock, nothing written. The file's first N bytes are read, N being its size
 * when the audit starts, once. A path that is not a regular file is refused (`WalNotAFile`); a
 * missing file is a `WalIoError` (an audit of nothing is not a passed audit).
 */
export const auditFile = (
  path: string,
  policies: ReadonlyArray<Policy>,
  options: AuditFileOptions = {}
) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const chain = yield* Chain.make(options)
    const io = (operation: string) => (cause: unknown) => new WalIoError({ operation, path, cause })
    const info = yield* Effect.mapError(fs.stat(path), io("stat"))
    if (info.type !== "File") return yield* new WalNotAFile({ path, reason: `it is not a regular file (${info.type})` })
    const size = Number(info.size)
    const bytes: Stream.Stream<Uint8Array, WalIoError> = size === 0
      ? Stream.empty
      : Stream.mapError(fs.stream(path, { chunkSize: CHUNK, bytesToRead: size }), io("read"))
    return yield* auditBytes(bytes, { chain, maxLineBytes: options.maxLineBytes }, policies)
  })
