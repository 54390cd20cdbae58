/**
 * The core workloads of REFERENCE.md: the kernel, the digests and verification, on the
 * reference's bench catalog and input stream (see ../fixtures.ts).
 */
import type { Decision } from "@calybris/core/Decision"
import * as Digest from "@calybris/core/Digest"
import * as Hash from "@calybris/core/Hash"
import type { Input } from "@calybris/core/Input"
import * as Kernel from "@calybris/core/Kernel"
import * as Verify from "@calybris/core/Verify"
import * as Either from "effect/Either"
import { benchPolicy, makeInput } from "../fixtures.js"
import { perOp, type Workload } from "../registry.js"

/** The reference's catalog-size sweep (its medians: the reference file, see ../reference.ts). */
const sweep: ReadonlyArray<number> = [4, 8, 16, 22, 32, 64]

/**
 * A cheap checksum of a decision (keeps every call live without converting its bigints). Each
 * loop also keeps the last decision in a loop-carried variable and returns a field of it: an
 * object flowing through a loop phi escapes V8's escape analysis, so every decision is really
 * built, as the reference's `black_box` forces (otherwise V8 may elide the whole allocation).
 */
const fold = (d: Decision): number => d.selected_model_id + d.eligible_models

/** make_input(s) for s = 1..=1024, and the 22-model bench decisions of those inputs. */
const rotating = () => {
  const policy = benchPolicy(22)
  const inputs: Array<Input> = []
  const decisions: Array<Decision> = []
  for (let s = 1; s <= 1024; s++) {
    const input = makeInput(s)
    inputs.push(input)
    decisions.push(Kernel.prescribe(policy, input))
  }
  return { policy, inputs, decisions }
}

const at = <A>(values: ReadonlyArray<A>, i: number): A => values[i & 1023] as A

const prescribe: Array<Workload> = sweep.map((n) => ({
  name: `prescribe/${n}_models`,
  unit: "ns/decision",
  reference: null,
  group: "core",
  setup: () => {
    const policy = benchPolicy(n)
    // the input stream is built inside the timed loop, as the reference does
    return perOp("ns/decision", (count) => {
      let acc = 0
      let last: Decision | undefined
      for (let s = 1; s <= count; s++) {
        last = Kernel.prescribe(policy, makeInput(s))
        acc += fold(last)
      }
      return acc + (last === undefined ? 0 : last.evaluated_models)
    })
  }
}))

export const core: ReadonlyArray<Workload> = [
  ...prescribe,
  {
    name: "make_input",
    unit: "ns/op",
    reference: null,
    group: "core",
    note: "make_input: not a reference workload; the cost of building one bench input (fixtures.ts), which " +
      "every prescribe/* figure includes, as the reference's does",
    setup: () =>
      perOp("ns/op", (count) => {
        let acc = 0
        let last: Input | undefined
        for (let s = 1; s <= count; s++) {
          last = makeInput(s)
          acc += last.input_tokens
        }
        return acc + (last === undefined ? 0 : last.risk_bps)
      })
  },
  {
    name: "prescribe_with_trace/22_models",
    unit: "ns/decision",
    reference: 95.87, // older REFERENCE.md (another machine): not in the reference file
    group: "core",
    setup: () => {
      const policy = benchPolicy(22)
      return perOp("ns/decision", (count) => {
        let acc = 0
        let last: Kernel.Traced | undefined
        for (let s = 1; s <= count; s++) {
          last = Kernel.prescribeWithTrace(policy, makeInput(s))
          acc += fold(last.decision) + last.trace.rejections.quality
        }
        return acc + (last === undefined ? 0 : last.trace.evaluated_models)
      })
    }
  },
  {
    name: "prescribe/reject_risk_22_models",
    unit: "ns/decision",
    reference: 10.39, // older REFERENCE.md (another machine): not in the reference file
    group: "core",
    setup: () => {
      const policy = benchPolicy(22)
      const input: Input = { ...makeInput(1), risk_bps: 9900 } as Input
      return perOp("ns/decision", (count) => {
        let acc = 0
        let last: Decision | undefined
        for (let s = 1; s <= count; s++) {
          last = Kernel.prescribe(policy, input)
          acc += fold(last)
        }
        return acc + (last === undefined ? 0 : last.evaluated_models)
      })
    }
  },
  {
    name: "policy_digest/22_models",
    unit: "ns/op",
    reference: 927.01, // older REFERENCE.md (another machine): not in the reference file
    group: "core",
    note: "policy_digest: Digest.policyDigestUncached (stable sort by id + serialise + SHA-256 + hex) on every " +
      "call (what Digest.policyDigest does for a bare snapshot); a Policy's digest is pinned when it is made, and " +
      "Digest.policyDigest of one costs a WeakMap lookup",
    setup: () => {
      const snapshot = benchPolicy(22).snapshot
      return perOp("ns/op", (count) => {
        let acc = 0
        for (let i = 0; i < count; i++) acc += Digest.policyDigestUncached(snapshot).charCodeAt(i & 63)
        return acc
      })
    }
  },
  {
    name: "input_digest",
    unit: "ns/op",
    reference: null,
    group: "core",
    setup: () => {
      const { inputs } = rotating()
      return perOp("ns/op", (count) => {
        let acc = 0
        for (let i = 0; i < count; i++) acc += Digest.inputDigest(at(inputs, i)).charCodeAt(i & 63)
        return acc
      })
    }
  },
  {
    name: "decision_digest",
    unit: "ns/op",
    reference: null,
    group: "core",
    setup: () => {
      const { decisions } = rotating()
      return perOp("ns/op", (count) => {
        let acc = 0
        for (let i = 0; i < count; i++) acc += Digest.decisionDigest(at(decisions, i)).charCodeAt(i & 63)
        return acc
      })
    }
  },
  {
    name: "verify_decision/22_models",
    unit: "ns/op",
    reference: null,
    group: "core",
    note: "verify_decision: Verify.checkDecision (the synchronous core of verifyDecision): replay + field " +
      "comparison; digests are computed only on a mismatch (equal fields imply equal digests)",
    setup: () => {
      const { policy, inputs, decisions } = rotating()
      return perOp("ns/op", (count) => {
        let acc = 0
        for (let i = 0; i < count; i++) {
          if (Either.isRight(Verify.checkDecision(policy, at(inputs, i), at(decisions, i)))) acc++
        }
        return acc
      })
    }
  },
  {
    name: "audit_bundle/22_models",
    unit: "ns/op",
    reference: null,
    group: "core",
    note: "audit_bundle: Verify.auditBundle as shipped; its policy digest is cached per snapshot object " +
      "(the reference recomputes it each call, ~927 ns of its figure)",
    setup: () => {
      const { policy, inputs, decisions } = rotating()
      return perOp("ns/op", (count) => {
        let acc = 0
        for (let i = 0; i < count; i++) {
          const bundle = Verify.auditBundle(policy, at(inputs, i), at(decisions, i))
          acc += bundle.input_digest_hex.charCodeAt(i & 63) + bundle.decision_digest_hex.charCodeAt(i & 63) +
            bundle.policy_digest_hex.charCodeAt(i & 63) + (bundle.replay_valid ? 1 : 0)
        }
        return acc
      })
    }
  },
  {
    name: "sha256_hex/79_bytes",
    unit: "ns/op",
    reference: null,
    group: "core",
    note: "sha256_hex/79_bytes: not a reference workload; Hash.sha256Hex (node:crypto's one-shot hash) of an " +
      "input preimage alone — the floor under input_digest and decision_digest on this runtime",
    setup: () => {
      const { inputs } = rotating()
      const preimages = inputs.map((input) => Uint8Array.from(Digest.inputPreimage(input)))
      return perOp("ns/op", (count) => {
        let acc = 0
        for (let i = 0; i < count; i++) acc += Hash.sha256Hex(at(preimages, i)).charCodeAt(i & 63)
        return acc
      })
    }
  },
  {
    name: "sha256_hex/0_bytes",
    unit: "ns/op",
    reference: null,
    group: "core",
    note: "sha256_hex/0_bytes: not a reference workload; the same call on an empty message: the fixed cost " +
      "of one call into node:crypto (argument checks, binding, OpenSSL context), whatever the length",
    setup: () => {
      const empty = new Uint8Array(0)
      return perOp("ns/op", (count) => {
        let acc = 0
        for (let i = 0; i < count; i++) acc += Hash.sha256Hex(empty).charCodeAt(i & 63)
        return acc
      })
    }
  }
]
