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
import * as JsonSchema from "@calybris/core/JsonSchema"
import type { Policy } from "@calybris/core/Policy"
import * as Audited from "@calybris/wal/Audited"
import * as Reader from "@calybris/wal/Reader"
import { Wal } from "@calybris/wal/Wal"
import { WalAuditFailed, WalParseError } from "@calybris/wal/WalError"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { Replay } from "./internal/consistency.js"
import * as Journal from "./Journal.js"
import type { LedgerJournalInconsistent } from "./LedgerError.js"

const decodeAudited = Schema.decodeUnknownEither(Audited.AuditedJson)

/**
 * Audit every admit of the journal against the policies it may have used (matched by policy
 * digest; a decision under an unknown policy fails with `policy_match=false`).
 */
export const auditJournalBytes = <E, R>(
  bytes: Stream.Stream<Uint8Array, E, R>,
  reader: Reader.ReaderOptions,
  policies: ReadonlyArray<Policy>
) =>
  Effect.gen(function*() {
    yield* Reader.verify(bytes, reader)
    const byDigest = new Map(policies.map((p) => [Digest.policyDigest(p), p] as const))
    const fallback = policies[0]
    const verdicts: Array<Audited.Verdict> = []
    let firstFailure: Audited.Verdict | undefined
    const replay = new Replay(true)
    yield* Reader.entries(bytes, reader).pipe(
      Stream.runForEach((entry) =>
        Effect.suspend((): Effect.Effect<void, WalParseError | LedgerJournalInconsistent> => {
          const decoded = Journal.decode(entry.data)
          const bad = (reason: string) =>
            Effect.fail(
              new WalParseError({ line: entry.line, offset: entry.offset, category: "Data", reason, column: 0 })
            )
          if (Either.isLeft(decoded)) return bad(`not a ledger journal record: ${JsonSchema.formatError(decoded.left)}`)
          const record = decoded.right
          const inconsistent = replay.entry(
            entry.sequence,
            "commands" in record
              ? { _tag: "Commands", commands: record.commands.map((w) => Journal.fromWire(w).command) }
              : { _tag: "Checkpoint", checkpoint: record.checkpoint }
          )
          if (inconsistent !== undefined) return Effect.fail(inconsistent)
          if (!("commands" in record)) return Effect.void
          for (const command of record.commands) {
            if (command.kind !== "admit") continue
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
          return Effect.void
        })
      )
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

/** Audit the admits of the journal in the environment's WAL. */
export const auditJournal = (policies: ReadonlyArray<Policy>) =>
  Effect.flatMap(Wal, (wal) => auditJournalBytes(wal.bytes, wal.reader, policies))
