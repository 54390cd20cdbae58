/**
 * The policy snapshot (SPEC §2.1), its checked construction (§2.2) and its compiled form.
 *
 * `make` validates in the reference's order and fails with one typed error per reference
 * variant; `unsafeMake` skips validation (tests, fuzzing, replaying whatever was logged):
 * the kernel works on any catalog. Both compile the catalog once into flat arrays for the
 * hot loop of `Kernel.prescribe`.
 */
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { pinPolicyDigest } from "./Digest.js"
import * as Int from "./Int.js"
import { compile, type Compiled } from "./internal/compile.js"
import { formatPath } from "./internal/serde.js"
import { jsonObject, type Unbranded, validator } from "./JsonSchema.js"
import { Model } from "./Model.js"

export const MAX_BPS = 10_000
export const MAX_RISK_MULTIPLIER_BPS = 50_000
export const MAX_PROVIDER_ID = 63
/** Wire fields of a policy snapshot, in wire order. */
export const fields = {
  policy_epoch: Int.U64,
  catalog_epoch: Int.U64,
  hard_risk_limit_bps: Int.U16,
  minimum_confidence_bps: Int.U16,
  risk_penalty_multiplier_bps: Int.U16,
  latency_penalty_microunits_per_ms: Int.U64,
  // any length, as the reference: past 65,535 models the u16 index and counts saturate (SPEC
  // §2.3); what a catalog allocates is bounded by the document that holds it
  models: Schema.Array(Model)
}

/** A policy snapshot as it travels on the wire (not validated: see `make`). */
export const PolicySnapshot = jsonObject(fields, "PolicySnapshot")
export type PolicySnapshot = typeof PolicySnapshot.Type

/** The catalog has no model. */
export class EmptyCatalog extends Schema.TaggedError<EmptyCatalog>()("EmptyCatalog", {}) {
  override get message(): string {
    return "model catalog is empty"
  }
}

/** Two catalog entries share a model id. */
export class DuplicateModelId extends Schema.TaggedError<DuplicateModelId>()("DuplicateModelId", {
  model_id: Schema.Number
}) {
  override get message(): string {
    return `duplicate model_id ${this.model_id}`
  }
}

/** A model's provider id is above MAX_PROVIDER_ID (63). */
export class InvalidProviderId extends Schema.TaggedError<InvalidProviderId>()("InvalidProviderId", {
  model_id: Schema.Number,
  provider_id: Schema.Number
}) {
  override get message(): string {
    return `model_id ${this.model_id} has provider_id ${this.provider_id} > MAX_PROVIDER_ID`
  }
}

/** No model of the catalog is enabled. */
export class NoEnabledModels extends Schema.TaggedError<NoEnabledModels>()("NoEnabledModels", {}) {
  override get message(): string {
    return "no enabled models in catalog"
  }
}

/** A basis-point field is above its maximum. */
export class OutOfRangeBps extends Schema.TaggedError<OutOfRangeBps>()("OutOfRangeBps", {
  field: Schema.String,
  max: Schema.Number,
  value: Schema.Number
}) {
  override get message(): string {
    return `${this.field} must be <= ${this.max}, got ${this.value}`
  }
}

/**
 * A snapshot field out of its type, found before the reference's rules: a width (a model id past
 * 2^32 − 1, an `enabled` past 255, an epoch below 0), not an integer, not a number or bigint where
 * one belongs. Never from a decoded snapshot (its decoder refuses the same); from one built in
 * code, where the kernel's typed arrays and the digest would cut such a value short silently (two
 * catalogs, one digest). `path` is spelt as the CLI and the wire decoders spell a field
 * (`models[0].model_id`); the reason names a bigint where a number belongs, or a number where a
 * bigint does (`expected an integer in [0, 4294967295], got the bigint 1n`).
 */
export class InvalidPolicyField extends Schema.TaggedError<InvalidPolicyField>()("InvalidPolicyField", {
  path: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `policy field ${this.path}: ${this.reason}`
  }
}

export type PolicyError =
  | EmptyCatalog
  | DuplicateModelId
  | InvalidProviderId
  | NoEnabledModels
  | OutOfRangeBps
  | InvalidPolicyField

/** The reference's `validate()`: the first failure in the reference's order, or undefined. */
export const validate = (snapshot: PolicySnapshot): PolicyError | undefined => {
  if (snapshot.hard_risk_limit_bps > MAX_BPS) {
    return new OutOfRangeBps({ field: "hard_risk_limit_bps", max: MAX_BPS, value: snapshot.hard_risk_limit_bps })
  }
  if (snapshot.minimum_confidence_bps > MAX_BPS) {
    return new OutOfRangeBps({ field: "minimum_confidence_bps", max: MAX_BPS, value: snapshot.minimum_confidence_bps })
  }
  if (snapshot.risk_penalty_multiplier_bps > MAX_RISK_MULTIPLIER_BPS) {
    return new OutOfRangeBps({
      field: "risk_penalty_multiplier_bps",
      max: MAX_RISK_MULTIPLIER_BPS,
      value: snapshot.risk_penalty_multiplier_bps
    })
  }
  if (snapshot.models.length === 0) return new EmptyCatalog()
  const seen = new Set<number>()
  for (const model of snapshot.models) {
    if (seen.has(model.model_id)) return new DuplicateModelId({ model_id: model.model_id })
    seen.add(model.model_id)
    if (model.provider_id > MAX_PROVIDER_ID) {
      return new InvalidProviderId({ model_id: model.model_id, provider_id: model.provider_id })
    }
    if (model.quality_bps > MAX_BPS) {
      return new OutOfRangeBps({ field: "model.quality_bps", max: MAX_BPS, value: model.quality_bps })
    }
    if (model.risk_ceiling_bps > MAX_BPS) {
      return new OutOfRangeBps({ field: "model.risk_ceiling_bps", max: MAX_BPS, value: model.risk_ceiling_bps })
    }
  }
  if (!snapshot.models.some((m) => m.enabled !== 0)) return new NoEnabledModels()
  return undefined
}

const TypeId: unique symbol = Symbol.for("@calybris/core/Policy")

/** A policy ready for the kernel: the snapshot plus its compiled catalog. */
export interface Policy {
  readonly [TypeId]: typeof TypeId
  readonly snapshot: PolicySnapshot
  /** @internal the hot-loop layout */
  readonly compiled: Compiled
}

/**
 * The snapshot, its compiled catalog, and its digest computed now and pinned on this Policy
 * (`Digest.pinPolicyDigest`): the kernel decides with the catalog compiled here — both paths, the
 * exact one included — so the digest a bundle records is of the same snapshot even if code that
 * casts away `readonly` edits it later (reviews of the audit path: a model disabled in place after
 * `make` changed the digest while `prescribe` still selected it; the exact path read the edited
 * snapshot). A copy of a Policy (`{ ...policy }`) is not pinned: its digest is its snapshot's as
 * it is then. (Freezing a copy instead made the uncached digest ~75% slower.)
 */
const build = (snapshot: PolicySnapshot): Policy => {
  const policy: Policy = { [TypeId]: TypeId, snapshot, compiled: compile(snapshot) }
  pinPolicyDigest(policy)
  return policy
}

const typed = validator(PolicySnapshot)

/**
 * Checked construction, from plain numbers and bigints: every field within its type first
 * (`InvalidPolicyField`, naming the first one out of it), then the reference's rules in its order
 * (SPEC §2.2).
 */
export const make = (snapshot: Unbranded<PolicySnapshot>): Either.Either<Policy, PolicyError> => {
  const checked = typed(snapshot)
  if (Either.isLeft(checked)) {
    const issue = ParseResult.ArrayFormatter.formatErrorSync(checked.left)[0]
    return Either.left(
      new InvalidPolicyField({
        // spelt as the CLI and the wire decoders spell a field (`models[0].model_id`)
        path: issue === undefined ? "" : formatPath(issue.path),
        reason: issue === undefined ? checked.left.message : issue.message
      })
    )
  }
  const error = validate(checked.right)
  return error === undefined ? Either.right(build(checked.right)) : Either.left(error)
}

/** Unchecked construction (tests, fuzzing, replay of any logged policy): no validation. */
export const unsafeMake = (snapshot: PolicySnapshot): Policy => build(snapshot)

/** Is this a Policy built by `make` / `unsafeMake`? */
export const isPolicy = (u: unknown): u is Policy => typeof u === "object" && u !== null && TypeId in u
