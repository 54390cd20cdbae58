/**
 * `calybris explain`: a readable account of one decision — a row per model with the gate it
 * failed or its cost, utility and rank; the winner, the runner-up and the tie-break that
 * separated them; the dominant reason of a reject. The explanation is checked against the
 * kernel first (`Explanation.check`): if they ever disagree, the command fails (exit 1)
 * instead of printing a wrong story.
 */
import * as Decision from "@calybris/core/Decision"
import * as E from "@calybris/core/Explanation"
import type * as Json from "@calybris/core/Json"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { ExplainMismatch } from "./CliError.js"
import type * as Commands from "./Commands.js"
import { readInput, readPolicy } from "./Documents.js"
import { STDIN, stdinOnce } from "./Files.js"
import * as Format from "./Format.js"
import { emit, obj, setJson } from "./Output.js"

const encodeDecision = Schema.encodeSync(Decision.Decision)
const encodeTrace = Schema.encodeSync(Decision.Trace)

const nullable = <A>(value: A | null, f: (a: A) => Json.Json): Json.Json => (value === null ? null : f(value))

/** The explanation as JSON. */
export const toJson = (e: E.Explanation): Json.Json =>
  obj([
    ["decision", encodeDecision(e.decision)],
    ["trace", encodeTrace(e.trace)],
    ["hard_limit", nullable(e.hardLimit, (h) => obj([["reason", h.reason], ["detail", h.detail]]))],
    [
      "models",
      e.rows.map((r) =>
        obj([
          ["index", r.index],
          ["model_id", r.model.model_id],
          ["provider_id", r.model.provider_id],
          ["gate", r.gate],
          ["detail", r.detail],
          ["cost_microunits", r.cost],
          ["utility_microunits", r.utility],
          ["rank", r.rank]
        ])
      )
    ],
    ["winner", nullable(e.winner, (w) => w.model.model_id)],
    ["runner_up", nullable(e.runnerUp, (r) => r.model.model_id)],
    ["tie_break", e.tieBreak],
    ["dominant", nullable(e.dominant, (d) => obj([["reason", d.reason], ["count", d.count]]))]
  ])

const verdict = (r: E.Row): string => (r.gate === null ? r.detail : `failed ${r.gate}: ${r.detail}`)

const cell = (v: bigint | number | null): string => (v === null ? "" : Format.int(v))

/** Why the winner ranks first, in words. */
export const tieBreakText = (e: E.Explanation): string => {
  const w = e.winner
  const r = e.runnerUp
  if (w === null) return ""
  const id = w.model.model_id
  if (r === null || e.tieBreak === "only_candidate") return `model ${id} is the only eligible model`
  const other = r.model.model_id
  switch (e.tieBreak) {
    case "utility":
      return `model ${id} beat model ${other} on utility (${cell(w.utility)} vs ${cell(r.utility)})`
    case "cost":
      return `equal utility (${cell(w.utility)}); model ${id} beat model ${other} on lower cost (${cell(w.cost)} vs ${
        cell(r.cost)
      })`
    case "quality":
      return `equal utility and cost; model ${id} beat model ${other} on higher quality (${w.model.quality_bps} vs ${r.model.quality_bps} bps)`
    default:
      return `equal utility, cost and quality; model ${id} beat model ${other} on the lower model id`
  }
}

const DOMINANCE_ORDER = "capability, region, provider, quality, risk_ceiling, latency, budget, utility, disabled"

/** The explanation as lines of text. */
export const toText = (e: E.Explanation): Array<string> => {
  const d = e.decision
  const requestedText = e.requested === null
    ? "a model that is not in the catalog"
    : `model ${e.requested.model.model_id}`
  const lines: Array<string> = [
    `request ${d.request_sequence} asks for ${requestedText} · policy epoch ${d.policy_epoch}, catalog epoch ${d.catalog_epoch} · ${e.rows.length} models`,
    ""
  ]
  lines.push(
    ...Format.table(
      ["idx", "model", "provider", "quality", "p95 ms", "verdict", "cost", "utility", "rank"],
      e.rows.map((r) => [
        String(r.index),
        String(r.model.model_id),
        String(r.model.provider_id),
        String(r.model.quality_bps),
        Format.int(r.model.p95_latency_ms),
        verdict(r),
        cell(r.cost),
        cell(r.utility),
        r.rank === null ? "" : String(r.rank)
      ]),
      ["right", "right", "right", "right", "right", "left", "right", "right", "right"]
    ),
    ""
  )
  if (d.action === "Reject") {
    lines.push(`decision: Reject — ${d.reason} (${Decision.reasonDisplay(d.reason)})`)
    if (e.hardLimit !== null) {
      lines.push(`  hard limit: ${e.hardLimit.detail}; no model was evaluated`)
    } else if (e.dominant !== null) {
      const totals = Object.entries(e.totals).filter(([, n]) => n > 0)
      const nonZero = totals.map(([g, n]) => `${g} ${n}`).join(", ")
      const wrapped = totals.filter(([, n]) => n > 0xffff)
      lines.push(
        `  no model passed every gate; dominant reason: ${e.dominant.count} of ${e.rows.length} models failed ${
          nonZero === "" ? "nothing" : `(${nonZero})`
        }`,
        `  the largest count wins; a tie goes to the later gate in the order ${DOMINANCE_ORDER}`
      )
      if (wrapped.length > 0) {
        lines.push(
          `  the counts are the trace's u16, which wrap at 65,536 as the reference's do: ${
            wrapped.map(([g, n]) => `${g} ${Format.int(n)} counts ${n % 65_536}`).join(", ")
          }`
        )
      }
    }
    return lines
  }
  const w = e.winner
  lines.push(
    `decision: ${d.action} — model ${d.selected_model_id} (index ${d.selected_model_index}), ${
      Decision.reasonDisplay(d.reason)
    }`,
    `  cost ${Format.int(d.estimated_cost_microunits)} microunits, utility ${
      Format.int(d.expected_utility_microunits)
    } microunits`,
    e.runnerUp === null
      ? "  runner-up: none"
      : `  runner-up: model ${e.runnerUp.model.model_id}, utility ${cell(e.runnerUp.utility)} microunits`,
    `  why: ${tieBreakText(e)}`
  )
  if (d.action === "Substitute" && w !== null) {
    const req = e.requested
    lines.push(
      req === null
        ? "  the requested model is not in the catalog, so the best eligible model is chosen"
        : req.gate !== null
        ? `  the requested model ${req.model.model_id} failed ${req.gate}: ${req.detail}`
        : `  the requested model ${req.model.model_id} ranked ${req.rank ?? "?"} (utility ${cell(req.utility)})`
    )
  }
  return lines
}

/** `calybris explain` (options: `Commands.explainOptions`). */
export const run = (flags: Commands.FlagsOf<typeof Commands.explainOptions>) =>
  Effect.gen(function*() {
    yield* setJson(flags.json)
    yield* stdinOnce([["--policy", flags.policy === STDIN], ["--input", flags.input === STDIN]])
    const policy = yield* readPolicy(flags.policy)
    const input = yield* readInput(flags.input)
    const explanation = E.explain(policy, input)
    const problems = E.check(policy, input, explanation)
    if (problems.length > 0) return yield* new ExplainMismatch({ reason: problems.join("; ") })
    yield* emit(flags.json, () => toText(explanation), () => toJson(explanation))
  })
