/**
 * The ledger's results as the CLI prints them, shared by `calybris budget …` (BudgetCommand.ts)
 * and `calybris demo` (Demo.ts): in words, or as the reference's encodings
 * (`{"kind":"Reserved","remaining_microcents":…,"reservation_id":…}`) through our Json printer,
 * so i64/u64 amounts stay exact.
 */
import * as Command from "@calybris/budget/Command"
import type * as Ledger from "@calybris/budget/Ledger"
import type * as L from "@calybris/budget/LedgerState"
import * as Snapshot from "@calybris/budget/Snapshot"
import * as Decision from "@calybris/core/Decision"
import * as Int from "@calybris/core/Int"
import type * as Json from "@calybris/core/Json"
import * as Schema from "effect/Schema"
import * as Format from "./Format.js"
import { obj } from "./Output.js"

// ---------------------------------------------------------------------------------------------
// Result encodings (the reference's `{"kind": …, fields}`, from the results' wire schemas)

/** A reserve result as budget.jsonl encodes it: the variant's fields, then `reservation_id` (null unless Reserved). */
export const reserveJson: (r: L.ReserveResult) => Json.JsonObject = Schema.encodeSync(Command.ReserveResultWire)
/** A commit, release or expiry result: `{"kind": …, fields}`. */
export const settlementJson: (r: L.SettlementResult) => Json.JsonObject = Schema.encodeSync(
  Command.SettlementResultWire
)
/** A top-up result: `{"kind": …, fields}`. */
export const topUpJson: (r: L.TopUpResult) => Json.JsonObject = Schema.encodeSync(Command.TopUpResultWire)

/**
 * A result's wire encoding in words: `kind: field=value …` (members that are null left out). A
 * reservation id comes first, as the CLI has always printed it (`Reserved: reservation_id=1
 * remaining_microcents=…`), although the wire form writes it last.
 */
export const kindedText = (wire: Json.JsonObject): string => {
  const fields: Array<string> = []
  for (const [k, v] of wire) {
    if (k === "kind" || v === null) continue
    const field = `${k}=${typeof v === "bigint" ? Format.int(v) : String(v)}`
    if (k === "reservation_id") fields.unshift(field)
    else fields.push(field)
  }
  const kind = String(wire.get("kind"))
  return fields.length === 0 ? kind : `${kind}: ${fields.join(" ")}`
}

export const encodeBalance = Schema.encodeSync(Snapshot.TenantBalance)
export const encodeSnapshot = Schema.encodeSync(Snapshot.Snapshot)
export const encodeProof = Schema.encodeSync(Snapshot.ConservationProof)
export const encodeCertificate = Schema.encodeSync(Snapshot.FinancialCertificate)
export const encodeDecision = Schema.encodeSync(Decision.Decision)

export const balanceText = (t: Snapshot.TenantBalance): string =>
  `tenant ${Format.name(t.tenant_id)}: initial ${Format.int(t.initial_microcents)}, remaining ${
    Format.int(t.remaining_microcents)
  }, reserved ${Format.int(t.reserved_microcents)}, committed ${Format.int(t.committed_microcents)} microcents`

/** An admit outcome as JSON: `{"kind":"Admitted"|"Rejected"|"HoldFailed"|"CostTooLarge","decision":…,…}`. */
export const admitJson = (o: Ledger.AdmitOutcome): Json.JsonObject => {
  switch (o._tag) {
    case "Admitted":
      return obj([
        ["kind", "Admitted"],
        ["decision", encodeDecision(o.decision)],
        ["reservation_id", o.reservation_id],
        ["remaining_microcents", o.remaining_microcents]
      ])
    case "Rejected":
      return obj([["kind", "Rejected"], ["decision", encodeDecision(o.decision)]])
    case "HoldFailed":
      return obj([["kind", "HoldFailed"], ["decision", encodeDecision(o.decision)], ["hold", reserveJson(o.hold)]])
    case "CostTooLarge":
      return obj([["kind", "CostTooLarge"], ["decision", encodeDecision(o.decision)]])
  }
}

/** An admit outcome in words. */
export const admitText = (o: Ledger.AdmitOutcome): string => {
  const d = o.decision
  const decided = d.action === "Reject"
    ? `Reject (${d.reason})`
    : `${d.action} model ${d.selected_model_id} (${Decision.reasonDisplay(d.reason)}), cost ${
      Format.int(d.estimated_cost_microunits)
    }`
  switch (o._tag) {
    case "Admitted":
      return `Admitted: ${decided}; held as reservation ${o.reservation_id}, remaining ${
        Format.int(o.remaining_microcents)
      }`
    case "Rejected":
      return `Rejected: ${decided}; nothing held`
    case "HoldFailed":
      return `HoldFailed: ${decided}; ${kindedText(reserveJson(o.hold))}`
    case "CostTooLarge":
      return `CostTooLarge: ${decided}; no hold can carry a cost above ${
        Format.int(Int.I64_MAX)
      } microcents: nothing held`
  }
}
