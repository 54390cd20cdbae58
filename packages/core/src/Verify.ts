/**
 * Replay verification (SPEC §4): verify a decision against its policy and input, audit
 * bundles and correctness certificates.
 */
import type * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Decision from "./Decision.js"
import * as Digest from "./Digest.js"
import type { Input } from "./Input.js"
import * as Int from "./Int.js"
import { jsonObject } from "./JsonSchema.js"
import * as Kernel from "./Kernel.js"
import type { Policy } from "./Policy.js"

/** The replayed decision's digest differs from the given one's. */
export class DigestMismatch extends Schema.TaggedError<DigestMismatch>()("DigestMismatch", {
  /** digest of the replayed decision */
  expected_hex: Schema.String,
  /** digest of the decision given */
  actual_hex: Schema.String
}) {
  override get message(): string {
    return `decision digest mismatch: expected ${this.expected_hex}, actual ${this.actual_hex}`
  }
}

/**
 * Same digest, different fields: unreachable without a SHA-256 collision for a decision in its
 * types; a JavaScript caller's decision with a field past its width digests as that field truncated.
 */
export class DecisionMismatch extends Schema.TaggedError<DecisionMismatch>()("DecisionMismatch", {
  expected: Decision.Decision,
  actual: Decision.Decision
}) {
  override get message(): string {
    return "decision mismatch"
  }
}

export type VerifyError = DigestMismatch | DecisionMismatch

/** Synchronous core of `verifyDecision`. */
export const checkDecision = (
  policy: Policy,
  input: Input,
  decision: Decision.Decision
): Either.Either<void, VerifyError> => {
  const replay = Kernel.prescribe(policy, input)
  if (Decision.equals(replay, decision)) return Either.void
  const expected = Digest.decisionDigest(replay)
  const actual = Digest.decisionDigest(decision)
  if (expected !== actual) return Either.left(new DigestMismatch({ expected_hex: expected, actual_hex: actual }))
  // (not validated: a decision a JavaScript caller built with a field past its width digests as the
  // field truncated, so it reaches here — reported, not thrown as a ParseError; a review)
  return Either.left(new DecisionMismatch({ expected: replay, actual: decision }, { disableValidation: true }))
}

/**
 * Replay `prescribe` and compare: succeeds on a valid decision, fails with `DigestMismatch`
 * (both hex digests) or `DecisionMismatch` (both decisions).
 */
export const verifyDecision = (
  policy: Policy,
  input: Input,
  decision: Decision.Decision
): Effect.Effect<void, VerifyError> => checkDecision(policy, input, decision)

/** The digests binding a decision to its policy and input, and whether the replay matched. */
export const AuditBundle = jsonObject({
  policy_digest_hex: Schema.String,
  input_digest_hex: Schema.String,
  decision_digest_hex: Schema.String,
  replay_valid: Schema.Boolean
}, "AuditBundle")
export type AuditBundle = typeof AuditBundle.Type

/** Does replaying the input under the policy give exactly this decision? */
export const replayValid = (policy: Policy, input: Input, decision: Decision.Decision): boolean =>
  Decision.equals(Kernel.prescribe(policy, input), decision)

/**
 * The audit bundle of any decision: its digests, and whether replaying the input under the
 * policy gives exactly this decision (the kernel runs again). For a decision read from a log or
 * received from elsewhere; for one the caller has just computed, see `auditBundleOfPrescribed`.
 */
export const auditBundle = (policy: Policy, input: Input, decision: Decision.Decision): AuditBundle => ({
  policy_digest_hex: Digest.policyDigest(policy),
  input_digest_hex: Digest.inputDigest(input),
  decision_digest_hex: Digest.decisionDigest(decision),
  replay_valid: replayValid(policy, input, decision)
})

/**
 * The audit bundle of a decision the caller has just computed as `Kernel.prescribe(policy,
 * input)` (or `prescribeWithTrace`) from this very policy and input, without running the kernel
 * a second time: `replay_valid` is true by construction, because the kernel is a pure, total
 * function of the policy and the input — replaying it would compute the same decision again.
 * Equal to `auditBundle(policy, input, decision)` for such a decision (property-tested).
 *
 * Only where the decision was computed right there (`Ledger.admit`, `calybris prescribe
 * --audit`): a decision from anywhere else — a log, a client, another process — goes through
 * `auditBundle`, which replays, and an auditor never trusts a bundle's `replay_valid` anyway
 * (`Audited.audit` replays every logged decision).
 */
export const auditBundleOfPrescribed = (
  policy: Policy,
  input: Input,
  decision: Decision.Decision
): AuditBundle => ({
  policy_digest_hex: Digest.policyDigest(policy),
  input_digest_hex: Digest.inputDigest(input),
  decision_digest_hex: Digest.decisionDigest(decision),
  replay_valid: true
})

/** A correctness certificate (the reference's `CorrectnessCertificate`). */
export const Certificate = jsonObject({
  policy_fingerprint: Schema.String,
  input_fingerprint: Schema.String,
  decision_fingerprint: Schema.String,
  decision_sequence: Int.U64,
  selected_model_id: Int.U32,
  action: Schema.String,
  reason: Schema.String,
  replay_valid: Schema.Boolean,
  evaluated_models: Int.U16,
  eligible_models: Int.U16,
  counterfactual_model_id: Int.U32,
  counterfactual_utility_microunits: Int.I64
}, "CorrectnessCertificate")
export type Certificate = typeof Certificate.Type

export const certifyDecision = (policy: Policy, input: Input, decision: Decision.Decision): Certificate => ({
  policy_fingerprint: Digest.policyDigest(policy),
  input_fingerprint: Digest.inputDigest(input),
  decision_fingerprint: Digest.decisionDigest(decision),
  decision_sequence: decision.request_sequence,
  selected_model_id: decision.selected_model_id,
  action: Decision.actionDisplay[decision.action],
  reason: Decision.reasonDisplay(decision.reason),
  replay_valid: replayValid(policy, input, decision),
  evaluated_models: decision.evaluated_models,
  eligible_models: decision.eligible_models,
  counterfactual_model_id: decision.counterfactual_model_id,
  counterfactual_utility_microunits: decision.counterfactual_utility_microunits
})

/** What a given model would have been worth for this input (none when it was not eligible). */
export const counterfactualUtility = (policy: Policy, input: Input, modelId: number): Option.Option<bigint> =>
  Kernel.utilityForModel(policy, input, modelId)
