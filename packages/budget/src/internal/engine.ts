/**
 * What every ledger layer does with a group of commands, minus storage: release the holds
 * that have expired by `now` (as explicit `Expire` commands, so a journal replays them), apply
 * the commands in order, and list the ones a journal keeps: those that changed the state, and
 * the refusals of operations under a new operation id (remembered, so they must be durable).
 */
import type * as Json from "@calybris/core/Json"
import * as Command from "../Command.js"
import * as L from "../LedgerState.js"

export interface Pending {
  readonly command: L.Command
  readonly audited?: Json.Json | undefined
  /** the refusal the command met, remembered under its operation id (journaled as a `refused` record) */
  readonly refused?: L.Result | undefined
}

export interface Applied {
  readonly results: Array<L.Result>
  /** the commands that changed the state and the refusals under new ids, in order, with the expiries first */
  readonly journal: Array<Pending>
  /**
   * how many of `journal`'s records the state had once each command applied (`ends[i]`: the
   * expiries and the records of commands 0…i): command i's result holds once they are durable
   */
  readonly ends: Array<number>
  /** how many expiries `journal` starts with */
  readonly expiries: number
}

/** Did applying this command (with this result) change the state? */
const changed = (command: L.Command, result: L.Result, remembered: boolean): boolean => {
  if (remembered) return false
  switch (command._tag) {
    case "EnsureTenant":
      // a negative amount is a no-op (SPEC §6.1) that recovery refuses to replay
      return command.amount >= 0n
    case "SetExposureCap":
    case "TakeSnapshot":
    case "VerifyConservation":
    case "ProveConservation":
    case "CertifyLedger":
      return true
    case "Restore":
      return typeof result === "object" && result !== null && "_tag" in result && result._tag === "Restored"
    default:
      return L.applied(result)
  }
}

/** Release the holds that have expired by `now` (as `Expire` commands, appended to `journal`). */
export const expireDue = (state: L.LedgerState, nowMs: bigint, journal: Array<Pending>): void => {
  for (const id of L.expiredHolds(state, nowMs)) {
    const command = Command.expire(id)
    L.step(state, command)
    journal.push({ command })
  }
}

/** Release expired holds, then apply the commands; the state changes in place. */
export const applyGroup = (state: L.LedgerState, nowMs: bigint, commands: ReadonlyArray<Pending>): Applied => {
  const journal: Array<Pending> = []
  expireDue(state, nowMs, journal)
  const expiries = journal.length
  const results: Array<L.Result> = []
  const ends: Array<number> = []
  for (const p of commands) {
    const id = L.operationId(p.command)
    const remembered = id !== undefined && state.operations.has(id)
    // an ensure changes the state only when it creates the tenant
    const exists = p.command._tag === "EnsureTenant" && state.tenants.has(p.command.tenant)
    const result = L.step(state, p.command)
    results.push(result)
    if (!exists && changed(p.command, result, remembered)) journal.push(p)
    else if (id !== undefined && !remembered) journal.push({ command: p.command, audited: p.audited, refused: result })
    ends.push(journal.length)
  }
  return { results, journal, ends, expiries }
}
