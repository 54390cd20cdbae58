import * as Digest from "@calybris/core/Digest"
import * as Hash from "@calybris/core/Hash"
import * as Input from "@calybris/core/Input"
import * as Kernel from "@calybris/core/Kernel"
import * as Model from "@calybris/core/Model"
import * as Policy from "@calybris/core/Policy"
import * as Verify from "@calybris/core/Verify"
import * as Fixtures from "@calybris/testing/Fixtures"
import type { Plain } from "@calybris/testing/Plain"
import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"

const model = (over: Partial<Plain<Model.Model>> = {}): Model.Model =>
  Fixtures.model({
    region_mask: 0n,
    input_cost_microunits_per_million_tokens: 1n,
    output_cost_microunits_per_million_tokens: 1n,
    ...over
  })

const snapshot = (over: Partial<Plain<Policy.PolicySnapshot>> = {}) =>
  ({
    policy_epoch: 1n,
    catalog_epoch: 1n,
    hard_risk_limit_bps: 9600,
    minimum_confidence_bps: 5500,
    risk_penalty_multiplier_bps: 3500,
    latency_penalty_microunits_per_ms: 0n,
    models: [model()],
    ...over
  }) as Policy.PolicySnapshot

const failure = (s: Policy.PolicySnapshot) => {
  const r = Policy.make(s)
  assert.isTrue(Either.isLeft(r))
  return Either.isLeft(r) ? r.left : undefined
}

describe("Policy.make", () => {
  it("accepts a valid policy", () => assert.isTrue(Either.isRight(Policy.make(snapshot()))))
  it("checks in the reference's order, with its messages", () => {
    const e1 = failure(snapshot({ hard_risk_limit_bps: 10_001, minimum_confidence_bps: 10_001, models: [] }))
    assert.strictEqual(e1?._tag, "OutOfRangeBps")
    assert.strictEqual(e1?.message, "hard_risk_limit_bps must be <= 10000, got 10001")
    assert.strictEqual(
      failure(snapshot({ minimum_confidence_bps: 10_001, models: [] }))?.message,
      "minimum_confidence_bps must be <= 10000, got 10001"
    )
    assert.strictEqual(
      failure(snapshot({ risk_penalty_multiplier_bps: 50_001 }))?.message,
      "risk_penalty_multiplier_bps must be <= 50000, got 50001"
    )
    assert.strictEqual(failure(snapshot({ models: [] }))?.message, "model catalog is empty")
    const dup = failure(snapshot({ models: [model({ model_id: 6 }), model({ model_id: 6, provider_id: 99 })] }))
    assert.strictEqual(dup?._tag, "DuplicateModelId")
    assert.strictEqual(dup?.message, "duplicate model_id 6")
    assert.strictEqual(
      failure(snapshot({ models: [model({ model_id: 9, provider_id: 64 })] }))?.message,
      "model_id 9 has provider_id 64 > MAX_PROVIDER_ID"
    )
    assert.strictEqual(
      failure(snapshot({ models: [model({ quality_bps: 65535, risk_ceiling_bps: 10_001 })] }))?.message,
      "model.quality_bps must be <= 10000, got 65535"
    )
    assert.strictEqual(
      failure(snapshot({ models: [model({ risk_ceiling_bps: 10_001 })] }))?.message,
      "model.risk_ceiling_bps must be <= 10000, got 10001"
    )
    const none = failure(snapshot({ models: [model({ enabled: 0 })] }))
    assert.strictEqual(none?._tag, "NoEnabledModels")
    assert.strictEqual(none?.message, "no enabled models in catalog")
  })
  it("a field out of its type is refused first, named (InvalidPolicyField): the kernel and the digest would cut a cast value short (a hostile review)", () => {
    const cases: ReadonlyArray<readonly [Policy.PolicySnapshot, string]> = [
      [snapshot({ models: [model({ model_id: 2 ** 32 + 7 })] }), "models[0].model_id"],
      [snapshot({ models: [model(), model({ model_id: -1 })] }), "models[1].model_id"],
      [snapshot({ models: [model({ enabled: 256 })] }), "models[0].enabled"],
      [snapshot({ models: [model({ p95_latency_ms: 1.5 })] }), "models[0].p95_latency_ms"],
      [snapshot({ models: [model({ capabilities: 2n ** 64n })] }), "models[0].capabilities"],
      [snapshot({ policy_epoch: -1n }), "policy_epoch"],
      [snapshot({ hard_risk_limit_bps: 70_000 }), "hard_risk_limit_bps"],
      [snapshot({ catalog_epoch: 5 as unknown as bigint }), "catalog_epoch"]
    ]
    for (const [bad, path] of cases) {
      const e = failure(bad)
      assert.strictEqual(e?._tag, "InvalidPolicyField")
      if (e?._tag !== "InvalidPolicyField") continue
      assert.strictEqual(e.path, path)
      assert.strictEqual(e.message.slice(0, `policy field ${path}: `.length), `policy field ${path}: `)
    }
    // the edges of each width are the reference's values, accepted
    const edges = Policy.make({
      policy_epoch: 2n ** 64n - 1n,
      catalog_epoch: 0n,
      hard_risk_limit_bps: 10_000,
      minimum_confidence_bps: 0,
      risk_penalty_multiplier_bps: 50_000,
      latency_penalty_microunits_per_ms: 2n ** 64n - 1n,
      models: [{
        model_id: 2 ** 32 - 1,
        provider_id: 63,
        quality_bps: 10_000,
        risk_ceiling_bps: 10_000,
        enabled: 255,
        p95_latency_ms: 2 ** 32 - 1,
        capabilities: 2n ** 64n - 1n,
        region_mask: 0n,
        input_cost_microunits_per_million_tokens: 2n ** 64n - 1n,
        output_cost_microunits_per_million_tokens: 0n
      }]
    })
    assert.isTrue(Either.isRight(edges))
  })
  it("a field of the wrong kind says so: a bigint where a number belongs, a number where a bigint does, never an in-range value as the reason; the path as the CLI spells it (a hostile review: `models.0.model_id: expected an integer in [0, 4294967295], got 1`)", () => {
    const cases: ReadonlyArray<readonly [Policy.PolicySnapshot, string]> = [
      [
        snapshot({ models: [model({ model_id: 1n as unknown as number })] }),
        "policy field models[0].model_id: expected an integer in [0, 4294967295], got the bigint 1n"
      ],
      [
        snapshot({ models: [model(), model({ enabled: -3n as unknown as number })] }),
        "policy field models[1].enabled: expected an integer in [0, 255], got the bigint -3n"
      ],
      [
        snapshot({ hard_risk_limit_bps: 9600n as unknown as number }),
        "policy field hard_risk_limit_bps: expected an integer in [0, 65535], got the bigint 9600n"
      ],
      [
        snapshot({ policy_epoch: 5 as unknown as bigint }),
        "policy field policy_epoch: expected a bigint, got the number 5"
      ],
      [
        snapshot({ models: [model({ capabilities: 1.5 as unknown as bigint })] }),
        "policy field models[0].capabilities: expected a bigint, got the number 1.5"
      ],
      // a value out of range is still printed as its digits (a wire integer beyond 2^53 is a bigint)
      [
        snapshot({ models: [model({ model_id: (2n ** 60n) as unknown as number })] }),
        "policy field models[0].model_id: expected an integer in [0, 4294967295], got 1152921504606846976"
      ],
      [
        snapshot({ models: [model({ model_id: 2 ** 32 })] }),
        "policy field models[0].model_id: must be an integer in [0, 4294967295], got 4294967296"
      ]
    ]
    for (const [bad, message] of cases) {
      const e = failure(bad)
      assert.strictEqual(e?._tag, "InvalidPolicyField")
      assert.strictEqual(e?.message, message)
    }
  })
  it("Input.make and Model.make check every field's width, and build from plain values without a cast", () => {
    const input = {
      request_sequence: 1n,
      requested_model_id: 1,
      input_tokens: 2000,
      output_tokens: 500,
      business_value_microunits: -(2n ** 63n),
      budget_limit_microunits: 2n ** 64n - 1n,
      risk_bps: 100,
      confidence_bps: 9000,
      minimum_quality_bps: 0,
      max_p95_latency_ms: 2 ** 32 - 1,
      required_capabilities: 0n,
      allowed_provider_mask: 2n ** 64n - 1n,
      required_region_mask: 0n
    }
    const made = Input.make(input)
    assert.isTrue(Either.isRight(made))
    for (
      const [field, value] of [
        ["request_sequence", 2n ** 64n + 1n],
        ["business_value_microunits", -(2n ** 63n) - 1n],
        ["budget_limit_microunits", 5],
        ["requested_model_id", 2 ** 32],
        ["risk_bps", -1]
      ] as const
    ) {
      const refused = Input.make({ ...input, [field]: value })
      assert.isTrue(Either.isLeft(refused), field)
      if (Either.isLeft(refused)) assert.include(refused.left.message, field)
    }
    assert.isTrue(Either.isRight(Model.make(model())))
    const wide = Model.make({ ...model(), model_id: 2 ** 32 + 7 })
    assert.isTrue(Either.isLeft(wide))
    if (Either.isLeft(wide)) assert.include(wide.left.message, "model_id")
  })
  it("unsafeMake accepts anything", () => {
    const p = Policy.unsafeMake(snapshot({ models: [] }))
    assert.isTrue(Policy.isPolicy(p))
  })
})

describe("a policy's digest is of the snapshot its catalog was compiled from", () => {
  it("a snapshot edited in place after make (readonly cast away) changes neither the digest nor the decisions (a review of the audit path)", () => {
    // the digest of the same policy, from another snapshot object
    const digest = Digest.policyDigest(Fixtures.ledgerPolicy(1n))
    const policy = Fixtures.ledgerPolicy(1n)
    const input = Fixtures.ledgerInput()
    const decided = Kernel.prescribe(policy, input)
    // edited before anything asked for its digest
    const models = policy.snapshot.models as unknown as Array<{ enabled: number }>
    for (const m of models) m.enabled = 0
    assert.strictEqual(Digest.policyDigest(policy), digest)
    assert.deepStrictEqual(Kernel.prescribe(policy, input), decided)
    // the edited snapshot on its own is another policy (its digest read afresh)
    assert.notStrictEqual(Digest.policyDigestUncached(policy.snapshot), digest)
  })

  it("unsafeMake of a snapshot digested, then edited in place: the policy's digest is of the catalog it compiled, not the one cached before the edit (a helper's hostile review: every bundle recorded the old digest)", () => {
    const snapshot = Fixtures.ledgerPolicy(1n).snapshot
    const before = Digest.policyDigest(snapshot)
    // one model disabled in place (readonly cast away)
    const models = snapshot.models as unknown as Array<{ enabled: number }>
    ;(models[1] as { enabled: number }).enabled = 0
    const policy = Policy.unsafeMake(snapshot)
    const now = Digest.policyDigestUncached(snapshot)
    assert.notStrictEqual(now, before)
    assert.strictEqual(Digest.policyDigest(policy), now)
    assert.strictEqual(Digest.policyDigest(snapshot), now)
    // the decisions are those of the edited catalog, as a policy made from a copy of it decides
    const input = Fixtures.ledgerInput()
    const copy = Policy.unsafeMake({ ...snapshot, models: snapshot.models.map((m) => ({ ...m })) })
    assert.strictEqual(Digest.policyDigest(copy), now)
    assert.deepStrictEqual(Kernel.prescribe(policy, input), Kernel.prescribe(copy, input))
  })

  it("a Policy keeps the digest of the catalog it compiled when another is made from its snapshot after an edit (a review of the fix above: pinned per snapshot, the earlier Policy took the later one's digest)", () => {
    const snapshot = Fixtures.ledgerPolicy(1n).snapshot
    const first = Policy.unsafeMake(snapshot)
    const firstDigest = Digest.policyDigest(first)
    const input = Fixtures.ledgerInput()
    const decided = Kernel.prescribe(first, input)
    ;(snapshot.models[1] as unknown as { enabled: number }).enabled = 0
    const second = Policy.unsafeMake(snapshot)
    assert.notStrictEqual(Digest.policyDigest(second), firstDigest)
    assert.strictEqual(Digest.policyDigest(first), firstDigest)
    assert.deepStrictEqual(Kernel.prescribe(first, input), decided)
    // with another hash function too (the review after: it digested the edited snapshot)
    const wrapped = { ...Hash.defaultHash }
    assert.strictEqual(Digest.policyDigest(first, wrapped), firstDigest)
    assert.strictEqual(Digest.policyDigest(second, wrapped), Digest.policyDigest(second))
    // a hash function that changes its input does not change the pin (the review after)
    const zeroing = {
      ...Hash.defaultHash,
      sha256: (bytes: Uint8Array) => {
        const out = Hash.defaultHash.sha256(bytes)
        bytes.fill(0)
        return out
      }
    }
    assert.strictEqual(Digest.policyDigest(first, zeroing), firstDigest)
    assert.strictEqual(Digest.policyDigest(first, wrapped), firstDigest)
  })

  it("the exact path (values past 2^51) decides with the compiled catalog too: an edit in place changes no decision, no bundle names a policy that did not decide, and a shrunk catalog throws nothing (a helper's hostile review: the exact path read the live snapshot)", () => {
    const two = () =>
      snapshot({
        models: [
          model({ model_id: 1, quality_bps: 9000 }),
          model({ model_id: 2, quality_bps: 8000 })
        ]
      })
    for (const make of ["make", "unsafeMake"] as const) {
      const source = two()
      const policy = make === "make" ? Either.getOrThrow(Policy.make(source)) : Policy.unsafeMake(source)
      const digest = Digest.policyDigest(policy)
      const input = (value: bigint) =>
        ({ ...Fixtures.ledgerInput(), business_value_microunits: value, requested_model_id: 1 }) as Input.Input
      const inputs = [input(1_000_000n), input(2n ** 62n)]
      const before = inputs.map((i) => Kernel.prescribe(policy, i))
      const utility = inputs.map((i) => Kernel.utilityForModel(policy, i, 1))
      // model 1 made dear and poor, in place: the policy's own snapshot and the caller's
      for (const edited of [policy.snapshot, source]) {
        const m = edited.models[0] as unknown as {
          input_cost_microunits_per_million_tokens: bigint
          quality_bps: number
        }
        m.input_cost_microunits_per_million_tokens = 10n ** 18n
        m.quality_bps = 1
        ;(edited as unknown as { latency_penalty_microunits_per_ms: bigint }).latency_penalty_microunits_per_ms = 10n **
          12n
      }
      inputs.forEach((i, k) => {
        const decided = Kernel.prescribe(policy, i)
        assert.deepStrictEqual(decided, before[k], `${make}, input ${k}`)
        assert.deepStrictEqual(Kernel.utilityForModel(policy, i, 1), utility[k])
        const bundle = Verify.auditBundleOfPrescribed(policy, i, decided)
        assert.strictEqual(bundle.policy_digest_hex, digest)
        // replayed under a policy made afresh from the catalog that digest names
        assert.isTrue(Verify.replayValid(Policy.unsafeMake(two()), i, decided))
        assert.strictEqual(Digest.policyDigest(Policy.unsafeMake(two())), digest)
      })
      // pinning again after the edit keeps the digest the policy was made with
      assert.strictEqual(Digest.pinPolicyDigest(policy), digest)
      assert.strictEqual(Digest.policyDigest(policy), digest) // the catalog shrunk in place: no TypeError from either path
      ;(policy.snapshot.models as unknown as Array<unknown>).length = 0
      inputs.forEach((i, k) => assert.deepStrictEqual(Kernel.prescribe(policy, i), before[k]))
    }
  })

  it("a bare snapshot's digest is of it as it is now (no cache an edit in place leaves stale), and a snapshot carrying a `snapshot` member is digested as itself (a helper's hostile review)", () => {
    const bare = snapshot({ models: [model({ model_id: 1 }), model({ model_id: 2 })] })
    const before = Digest.policyDigest(bare)
    ;(bare.models[1] as unknown as { enabled: number }).enabled = 0
    const after = Digest.policyDigest(bare)
    assert.notStrictEqual(after, before)
    assert.strictEqual(after, Digest.policyDigestUncached(bare))
    const other = snapshot({ models: [model({ model_id: 7 })] })
    const carrying = { ...bare, snapshot: other } as unknown as Policy.PolicySnapshot
    assert.strictEqual(Digest.policyDigest(carrying), after)
    assert.notStrictEqual(Digest.policyDigest(carrying), Digest.policyDigest(other))
  })
})
