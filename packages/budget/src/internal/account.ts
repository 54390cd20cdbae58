/**
 * A tenant's account as the state machine keeps it (`LedgerState.ts`): balances as numbers while
 * they are safe integers, as bigints beyond, and an open hold with its amount in both forms.
 */
import { bigintOfSafe as big, safeNumberOf as small } from "@calybris/core/Word"

/** One tenant's balances, exact. */
export interface TenantState {
  readonly initial: bigint
  readonly remaining: bigint
  readonly reserved: bigint
  readonly committed: bigint
}

/**
 * A tenant's account. The balances are kept as numbers while all four are safe integers
 * (|x| < 2^53: every sum or difference that stays in that range is exact, and one that leaves it
 * is detected because its rounded result leaves it too); otherwise they are bigints in `wide`
 * and the numbers are NaN, so every fast-path comparison on them fails and the bigint path runs.
 */
export class Account {
  initial = 0
  remaining = 0
  reserved = 0
  committed = 0
  wide: TenantState | undefined = undefined
  /** the exposure cap for comparisons with a safe `reserved` (Infinity: none; the exact cap is in `caps`) */
  cap = Infinity
  constructor(readonly id: string) {}
}

/** An open hold. */
export class Hold {
  constructor(
    readonly reservation: bigint,
    /** the id as the hold table's number key (NaN beyond 2^53 − 1) */
    readonly key: number,
    readonly tenant: string,
    /** the tenant's account (undefined only for a checkpoint naming an unknown tenant) */
    readonly account: Account | undefined,
    readonly amount: bigint,
    /** `amount` as a number, NaN when it is not a safe integer */
    readonly small: number,
    /** when the hold expires (epoch milliseconds), if it does */
    readonly expiresAt: bigint | undefined
  ) {}
}

/** An account's balances as bigints. */
export const balancesOf = (t: Account): TenantState =>
  t.wide ??
    { initial: big(t.initial), remaining: big(t.remaining), reserved: big(t.reserved), committed: big(t.committed) }

/** Set an account's balances, as numbers when all four are safe. */
export const store = (t: Account, initial: bigint, remaining: bigint, reserved: bigint, committed: bigint): void => {
  const i = small(initial)
  const r = small(remaining)
  const v = small(reserved)
  const c = small(committed)
  if (i === i && r === r && v === v && c === c) {
    t.initial = i
    t.remaining = r
    t.reserved = v
    t.committed = c
    t.wide = undefined
  } else {
    t.initial = NaN
    t.remaining = NaN
    t.reserved = NaN
    t.committed = NaN
    t.wide = { initial, remaining, reserved, committed }
  }
}
