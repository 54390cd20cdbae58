/**
 * The model the PostgreSQL property tests compare with: random commands (valid and not, with
 * operation ids retried and reused with other arguments, amounts at the i64 edges, unknown and
 * settled holds), the state machine remembering every result under its operation id (refusals
 * included), and the database's state as the model's state has it.
 *
 * Shared by the one-statement tests (PgOperations.test.ts) and the batcher's (PgBatcher.test.ts).
 */
import * as PgBatcher from "@calybris/budget-pg/PgBatcher"
import * as PgOperations from "@calybris/budget-pg/PgOperations"
import * as Arguments from "@calybris/budget/Arguments"
import type * as Command from "@calybris/budget/Command"
import { IdempotencyConflict, InvalidArgument } from "@calybris/budget/LedgerError"
import * as L from "@calybris/budget/LedgerState"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as fc from "effect/FastCheck"

const I64_MAX = 9223372036854775807n
const I64_MIN = -9223372036854775808n
const U64_MAX = 18446744073709551615n

const tenants = ["a", "b", "\u0000é🙂"] as const
const tenant = fc.constantFrom(...tenants)
const amount = fc.oneof(
  { weight: 8, arbitrary: fc.bigInt(-3n, 60n) },
  { weight: 1, arbitrary: fc.constantFrom(0n, I64_MAX, I64_MAX - 5n, I64_MIN, 1n << 62n) }
)
const funds = fc.oneof({ weight: 6, arbitrary: fc.bigInt(0n, 100n) }, fc.constantFrom(I64_MAX - 10n, -1n))
const opid = fc.option(fc.constantFrom("o1", "o2", "o3", "\u0000", "ö"), { nil: undefined })
const reservation = fc.oneof(
  { weight: 8, arbitrary: fc.bigInt(0n, 10n) },
  { weight: 1, arbitrary: fc.constantFrom(I64_MAX, I64_MAX + 1n, U64_MAX, -1n) }
)
const withId = <C extends object>(c: C, id: string | undefined): C => id === undefined ? c : { ...c, operation_id: id }

/** What a generated command draws its fields from. */
export interface Domains {
  readonly tenant: fc.Arbitrary<string>
  readonly amount: fc.Arbitrary<bigint>
  readonly funds: fc.Arbitrary<bigint>
  readonly max: fc.Arbitrary<bigint>
  readonly opid: fc.Arbitrary<string | undefined>
  readonly reservation: fc.Arbitrary<bigint>
}

/** Random per-hold commands (no snapshot, restore or admit) over these domains. */
export const commandOf = ({ amount, funds, max, opid, reservation, tenant }: Domains): fc.Arbitrary<Command.Command> =>
  fc.oneof(
    fc.record({ tenant, amount: funds }).map(({ amount, tenant }) => ({
      _tag: "EnsureTenant" as const,
      tenant,
      amount
    })),
    fc.record({ tenant, amount, id: opid }).map(({ amount, id, tenant }) =>
      withId({ _tag: "TopUp" as const, tenant, amount }, id)
    ),
    fc.record({ tenant, max }).map(({ max, tenant }) => ({
      _tag: "SetExposureCap" as const,
      tenant,
      max
    })),
    {
      weight: 4,
      arbitrary: fc.record({ tenant, amount, id: opid, ttl: fc.option(fc.bigInt(0n, 1000n), { nil: undefined }) }).map((
        { amount, id, tenant, ttl }
      ) =>
        withId({
          _tag: "Reserve" as const,
          tenant,
          amount,
          ...(ttl === undefined ? {} : { ttl_ms: ttl, expires_at_ms: 5_000n + ttl })
        }, id)
      )
    },
    {
      weight: 3,
      arbitrary: fc.record({ reservation, actual: amount, id: opid }).map(({ actual, id, reservation }) =>
        withId({ _tag: "Commit" as const, reservation, actual }, id)
      )
    },
    {
      weight: 2,
      arbitrary: fc.record({ reservation, id: opid }).map(({ id, reservation }) =>
        withId({ _tag: "Release" as const, reservation }, id)
      )
    },
    fc.record({ reservation }).map(({ reservation }) => ({ _tag: "Expire" as const, reservation }))
  ) as fc.Arbitrary<Command.Command>

/** The commands the one-statement and batcher properties run. */
export const command: fc.Arbitrary<Command.Command> = commandOf({
  tenant,
  amount,
  funds,
  max: fc.oneof(fc.bigInt(-2n, 80n), fc.constantFrom(I64_MAX)),
  opid,
  reservation
})

/**
 * Apply a command to the database (an `InvalidArgument` refusal is not an error here): the
 * retry-safe ones through `ops` (the one-statement operations, or a batcher), ensure and cap as
 * their own statements (never batched).
 */
export const pgStep = (
  c: Command.Command,
  ops: PgBatcher.Operations = PgBatcher.direct
): Effect.Effect<unknown, PgOperations.OperationError, SqlClient.SqlClient> => {
  const run = (): Effect.Effect<unknown, PgOperations.OperationError, SqlClient.SqlClient> => {
    switch (c._tag) {
      case "EnsureTenant":
        return PgOperations.ensureTenant(c)
      case "TopUp":
        return ops.topUp(c)
      case "SetExposureCap":
        return PgOperations.setExposureCap(c)
      case "Reserve":
      case "Admit":
        return ops.reserve(c)
      case "Commit":
        return ops.commit(c)
      case "Release":
      case "Expire":
        return ops.release(c)
      default:
        return Effect.die(`not generated: ${c._tag}`)
    }
  }
  return run().pipe(Effect.catchTag("InvalidArgument", Effect.succeed))
}

/** The state machine, remembering every result under its operation id (refusals included). */
export class Model {
  readonly state = new L.LedgerState()
  readonly remembered = new Map<string, { readonly fingerprint: string; readonly result: unknown }>()
  step(c: Command.Command): unknown {
    const invalid = Arguments.validateCommand(c)
    if (invalid !== undefined) return invalid
    const id = L.operationId(c)
    const fingerprint = L.fingerprint(c)
    if (id !== undefined) {
      const seen = this.remembered.get(id)
      if (seen !== undefined) {
        return seen.fingerprint === fingerprint ? seen.result : new IdempotencyConflict({ operation_id: id })
      }
    }
    const { operation_id: _, ...bare } = c as Command.Command & { operation_id?: string }
    const result = L.step(this.state, bare as Command.Command)
    if (id !== undefined) this.remembered.set(id, { fingerprint, result })
    return result
  }
}

/** A result as plain data (errors by their tag and fields). */
export const plain = (r: unknown): unknown =>
  r instanceof IdempotencyConflict
    ? { _tag: r._tag, operation_id: r.operation_id }
    : r instanceof InvalidArgument
    ? { _tag: r._tag, field: r.field, value: r.value, reason: r.reason }
    : r

export const reset = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`TRUNCATE calybris_budget_journal, calybris_budget_operations, calybris_budget_reservations,
    calybris_budget_tenants`
  yield* sql`ALTER SEQUENCE calybris_budget_reservation_ids RESTART`
})

const utf8 = (hex: string) => Buffer.from(hex, "hex").toString("utf8")

/** The database's tenants, caps and open holds, as the model's state has them. */
export const stateOfDatabase = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql<
    {
      tenant: string
      present: boolean
      initial: string
      remaining: string
      reserved: string
      committed: string
      cap: string | null
    }
  >`SELECT encode(tenant, 'hex') AS tenant, present, initial::text, remaining::text, reserved::text,
      committed::text, cap::text FROM calybris_budget_tenants ORDER BY tenant`
  const holds = yield* sql<{ id: string; tenant: string; amount: string; expires_at_ms: string | null }>`
    SELECT id::text, encode(tenant, 'hex') AS tenant, amount::text, expires_at_ms::text
    FROM calybris_budget_reservations r WHERE state = 'open' ORDER BY r.id`
  const sums = yield* sql<{ tenant: string; reserved: string }>`
    SELECT encode(tenant, 'hex') AS tenant, sum(amount)::text AS reserved
    FROM calybris_budget_reservations WHERE state = 'open' GROUP BY tenant ORDER BY tenant`
  return {
    tenants: rows.filter((r) => r.present).map((r) => ({
      tenant: utf8(r.tenant),
      initial: BigInt(r.initial),
      remaining: BigInt(r.remaining),
      reserved: BigInt(r.reserved),
      committed: BigInt(r.committed)
    })),
    caps: rows.filter((r) => r.cap !== null).map((r) => [utf8(r.tenant), BigInt(r.cap as string)] as const),
    holds: holds.map((h) => ({
      id: BigInt(h.id),
      tenant: utf8(h.tenant),
      amount: BigInt(h.amount),
      expiresAt: h.expires_at_ms === null ? undefined : BigInt(h.expires_at_ms)
    })),
    reservedByHolds: sums.map((s) => [utf8(s.tenant), BigInt(s.reserved)] as const)
  }
})

const byKey = <T>(xs: Iterable<readonly [string, T]>) =>
  [...xs].sort(([a], [b]) => (Buffer.from(a).compare(Buffer.from(b))))

export const stateOfModel = (m: Model) => ({
  tenants: byKey([...m.state.tenants.keys()].map((t) => [t, L.tenantBalances(m.state, t) as L.TenantState] as const))
    .map((
      [tenant, b]
    ) => ({ tenant, ...b })),
  caps: byKey(m.state.caps),
  holds: [...m.state.holds].map(([id, h]) => ({ id, tenant: h.tenant, amount: h.amount, expiresAt: h.expiresAt }))
    .sort((a, b) => (a.id < b.id ? -1 : 1))
})
