import type { Decision } from "@calybris/core/Decision"
import * as Digest from "@calybris/core/Digest"
import type { Input } from "@calybris/core/Input"
import * as Kernel from "@calybris/core/Kernel"
import * as Policy from "@calybris/core/Policy"
import * as Verify from "@calybris/core/Verify"
import * as Arb from "@calybris/testing/Arbitraries"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as fc from "effect/FastCheck"

describe("Verify", () => {
  it.effect("a replayed decision verifies", () =>
    Effect.gen(function*() {
      const [p, i] = fc.sample(Arb.policyAndInput, { numRuns: 1, seed: 7 })[0] ?? []
      if (p === undefined || i === undefined) return
      const policy = Policy.unsafeMake(p)
      yield* Verify.verifyDecision(policy, i, Kernel.prescribe(policy, i))
    }))

  it.effect("a tampered decision fails with DigestMismatch carrying both digests", () =>
    Effect.gen(function*() {
      const [p, i] = fc.sample(Arb.policyAndInput, { numRuns: 1, seed: 11 })[0] ?? []
      if (p === undefined || i === undefined) return
      const policy = Policy.unsafeMake(p)
      const good = Kernel.prescribe(policy, i)
      const bad = { ...good, evaluated_models: (good.evaluated_models + 1) % 65536 } as Decision
      const error = yield* Effect.flip(Verify.verifyDecision(policy, i, bad))
      assert.strictEqual(error._tag, "DigestMismatch")
      if (error._tag === "DigestMismatch") {
        assert.strictEqual(error.expected_hex, Digest.decisionDigest(good))
        assert.strictEqual(error.actual_hex, Digest.decisionDigest(bad))
      }
    }))

  it("a decision built past a field's width (which digests as the field truncated) fails with DecisionMismatch, not a thrown ParseError (a review)", () => {
    const [p, i] = fc.sample(Arb.policyAndInput, { numRuns: 1, seed: 11 })[0] ?? []
    if (p === undefined || i === undefined) return
    const policy = Policy.unsafeMake(p)
    const good = Kernel.prescribe(policy, i)
    const bad = { ...good, selected_model_id: good.selected_model_id + 2 ** 32 } as Decision
    assert.strictEqual(Digest.decisionDigest(bad), Digest.decisionDigest(good))
    const result = Verify.checkDecision(policy, i, bad)
    assert.isTrue(result._tag === "Left" && result.left._tag === "DecisionMismatch")
  })

  it("audit bundles and certificates bind the three digests; replay_valid is real equality", () => {
    fc.assert(fc.property(Arb.policyAndInput, Arb.decision, ([p, i], other) => {
      const policy = Policy.unsafeMake(p)
      const d = Kernel.prescribe(policy, i)
      const bundle = Verify.auditBundle(policy, i, d)
      assert.isTrue(bundle.replay_valid)
      assert.strictEqual(bundle.policy_digest_hex, Digest.policyDigest(p))
      assert.strictEqual(bundle.input_digest_hex, Digest.inputDigest(i))
      assert.strictEqual(bundle.decision_digest_hex, Digest.decisionDigest(d))
      const cert = Verify.certifyDecision(policy, i, other)
      assert.strictEqual(cert.decision_fingerprint, Digest.decisionDigest(other))
      assert.strictEqual(cert.decision_sequence, other.request_sequence)
      assert.strictEqual(cert.replay_valid, Verify.replayValid(policy, i, other))
    }))
  })

  it("the bundle of a decision just prescribed equals the replayed bundle (replay_valid true by construction)", () => {
    const same = ([p, i]: readonly [Policy.PolicySnapshot, Input]) => {
      const policy = Policy.unsafeMake(p)
      const d = Kernel.prescribe(policy, i)
      assert.deepStrictEqual(Verify.auditBundleOfPrescribed(policy, i, d), Verify.auditBundle(policy, i, d))
      const traced = Kernel.prescribeWithTrace(policy, i).decision
      assert.deepStrictEqual(Verify.auditBundleOfPrescribed(policy, i, traced), Verify.auditBundle(policy, i, traced))
    }
    const numRuns = fc.readConfigureGlobal().numRuns ?? 300
    fc.assert(fc.property(Arb.policyAndInput, same), { numRuns })
    fc.assert(fc.property(Arb.closeCall, same), { numRuns })
  })
})
