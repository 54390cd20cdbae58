/**
 * The per-gate explanation against the kernel: for any policy and input, every model's verdict,
 * the counts, the winner, the runner-up and the reason agree with `Kernel.prescribeWithTrace`
 * (and with the reference kernel), and `check` catches an explanation that does not.
 */
import * as Decision from "@calybris/core/Decision"
import * as Explanation from "@calybris/core/Explanation"
import type { Input } from "@calybris/core/Input"
import * as Kernel from "@calybris/core/Kernel"
import * as Policy from "@calybris/core/Policy"
import * as Arb from "@calybris/testing/Arbitraries"
import { assert, describe, it } from "@effect/vitest"
import * as fc from "effect/FastCheck"
import * as Option from "effect/Option"
import { referencePrescribe } from "./support/ReferenceKernel.js"

const gates: ReadonlyArray<Explanation.Gate> = [
  "disabled",
  "quality",
  "risk_ceiling",
  "latency",
  "capability",
  "provider",
  "region",
  "budget",
  "utility"
]

/** Every property of an explanation that the kernel's decision and trace pin down. */
const agreesWithKernel = (snapshot: Policy.PolicySnapshot, input: Input): void => {
  const policy = Policy.unsafeMake(snapshot)
  const e = Explanation.explain(policy, input)
  const { decision, trace } = Kernel.prescribeWithTrace(policy, input)
  assert.deepStrictEqual(Explanation.check(policy, input, e), [])
  assert.isTrue(Decision.equals(e.decision, decision))
  assert.deepStrictEqual(e.trace, trace)
  // the kernel's counts, the reference kernel's counts, and our verdicts row by row
  assert.deepStrictEqual(e.counts, trace.rejections)
  assert.deepStrictEqual(e.counts, referencePrescribe(snapshot, input).rejections)
  assert.strictEqual(e.rows.length, snapshot.models.length)
  for (const gate of gates) {
    assert.strictEqual(e.rows.filter((r) => r.gate === gate).length, e.counts[gate], gate)
  }
  assert.strictEqual(e.eligible, trace.eligible_models)
  assert.strictEqual(e.rows.filter((r) => r.rank !== null).length, e.eligible)
  // every eligible model's utility is the kernel's; every failed one has none
  for (const row of e.rows) {
    const kernel = Kernel.utilityForModel(policy, input, row.model.model_id)
    if (row.rank !== null && snapshot.models.filter((m) => m.model_id === row.model.model_id).length === 1) {
      assert.deepStrictEqual(kernel, Option.some(row.utility as bigint))
    }
  }
  if (e.hardLimit !== null) {
    assert.strictEqual(decision.action, "Reject")
    assert.strictEqual(e.hardLimit.reason, decision.reason)
    assert.isTrue(e.rows.every((r) => r.gate === null && r.rank === null))
    return
  }
  if (decision.action === "Reject") {
    assert.isNull(e.winner)
    assert.strictEqual(e.dominant?.reason, decision.reason)
    assert.strictEqual(e.eligible, 0)
    return
  }
  const winner = e.winner
  assert.isNotNull(winner)
  if (winner === null) return
  assert.strictEqual(winner.rank, 1)
  assert.strictEqual(winner.model.model_id, decision.selected_model_id)
  assert.strictEqual(winner.index, decision.selected_model_index)
  assert.strictEqual(winner.cost, decision.estimated_cost_microunits)
  assert.strictEqual(winner.utility, decision.expected_utility_microunits)
  assert.strictEqual(e.runnerUp === null ? 0 : e.runnerUp.model.model_id, decision.counterfactual_model_id)
  assert.strictEqual(e.runnerUp?.rank ?? 2, 2)
  assert.strictEqual(
    decision.action === "ExecuteRequested",
    winner.model.model_id === input.requested_model_id,
    "executed as requested iff the winner is the requested model"
  )
  assert.isNull(e.dominant)
}

const numRuns = (fallback: number) => ({ numRuns: fc.readConfigureGlobal().numRuns ?? fallback })

describe("Explanation", () => {
  it("agrees with the kernel on random policies and inputs (verdicts, counts, winner, runner-up, reason)", () => {
    fc.assert(fc.property(Arb.policyAndInput, ([p, i]) => agreesWithKernel(p, i)), numRuns(500))
  })

  it("agrees with the kernel on close calls (ties, repeated models, budgets that bind)", () => {
    fc.assert(fc.property(Arb.closeCall, ([p, i]) => agreesWithKernel(p, i)), numRuns(1000))
  })

  it("check reports an explanation that disagrees with the kernel", () => {
    fc.assert(
      fc.property(Arb.closeCall, fc.constantFrom(...gates), ([p, i], gate) => {
        const policy = Policy.unsafeMake(p)
        const e = Explanation.explain(policy, i)
        const counts = { ...e.counts, [gate]: e.counts[gate] + 1 }
        assert.isNotEmpty(Explanation.check(policy, i, { ...e, counts }))
        if (e.winner !== null) {
          const other = e.rows.find((r) => r.model.model_id !== e.decision.selected_model_id)
          if (other !== undefined) {
            assert.isNotEmpty(Explanation.check(policy, i, { ...e, winner: other }))
          }
        }
      }),
      numRuns(200)
    )
  })
})
