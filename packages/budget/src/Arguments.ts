/**
 * The arguments of ledger operations, checked before anything changes (in every layer): the
 * ranges the journal can hold and the reference's types can carry.
 *
 * - amounts (`amount`, `actual`, `max`): i64; the amount of an ensure: 0 to i64 max (a
 *   negative ensure is refused here, while the state machine keeps the reference's no-op for
 *   conformance);
 * - reservation ids: u64;
 * - tenant ids: well-formed Unicode (they are hashed as UTF-8), at most 1,024 UTF-8 bytes
 *   (empty is allowed, as in the reference);
 * - operation ids: well-formed Unicode, 1 to 256 UTF-8 bytes;
 * - `expiresIn`: a finite, non-negative Duration whose expiry instant (Clock now + the
 *   duration, in whole milliseconds) fits i64; a command built by hand carries its `ttl_ms` and
 *   `expires_at_ms` together (both 0 to i64 max), or neither;
 * - admit metadata: a Json value the journal can write (`MAX_METADATA_DEPTH` deep at most,
 *   integers within −2^63 … 2^64 − 1, no lone surrogate);
 * - a layer's size options (`operationWindow`, `maxPending`): positive safe integers.
 *
 * Each is a branded Schema built on one predicate; `validateCommand` runs the same predicates
 * on a whole command (a few comparisons: it is on every command's path) and names the first
 * field that fails in an `InvalidArgument`.
 */
import * as Input from "@calybris/core/Input"
import * as Int from "@calybris/core/Int"
import * as Json from "@calybris/core/Json"
import * as JsonSchema from "@calybris/core/JsonSchema"
import { JsonValue } from "@calybris/core/JsonSchema"
import * as Policy from "@calybris/core/Policy"
import * as Audited from "@calybris/wal/Audited"
import { MAX_RECORD_DEPTH } from "@calybris/wal/Entry"
import * as Brand from "effect/Brand"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { boundOf, noteBound } from "./internal/bounds.js"
import { InvalidArgument, LedgerStoreError } from "./LedgerError.js"
import type * as L from "./LedgerState.js"
import * as Snapshot from "./Snapshot.js"

/** The most UTF-8 bytes of a tenant id. */
export const MAX_TENANT_BYTES = 1_024
/** The most UTF-8 bytes of an operation id. */
export const MAX_OPERATION_ID_BYTES = 256

/** The UTF-8 length of a well-formed string. */
const utf8Length = (s: string): number => {
  let n = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    // a surrogate pair is 4 bytes: 2 for each half
    n += c < 0x80 ? 1 : c < 0x800 || (c >= 0xd800 && c <= 0xdfff) ? 2 : 3
  }
  return n
}

const withinBytes = (s: string, max: number): boolean => s.length * 3 <= max || utf8Length(s) <= max

export const isAmount = (x: unknown): x is bigint => typeof x === "bigint" && x >= Int.I64_MIN && x <= Int.I64_MAX
export const isFunds = (x: unknown): x is bigint => typeof x === "bigint" && x >= 0n && x <= Int.I64_MAX
export const isReservationId = (x: unknown): x is bigint => typeof x === "bigint" && x >= 0n && x <= Int.U64_MAX
export const isTenantId = (x: unknown): x is string =>
  typeof x === "string" && withinBytes(x, MAX_TENANT_BYTES) && x.isWellFormed()
export const isOperationId = (x: unknown): x is string =>
  typeof x === "string" && x.length > 0 && withinBytes(x, MAX_OPERATION_ID_BYTES) && x.isWellFormed()

/** An amount of microcents: i64. `Microcents.make(n)` throws on a value out of range; `microcents(n)` is an Either. */
export const Microcents = Schema.typeSchema(Int.I64).pipe(
  Schema.filter(isAmount, { message: () => "an amount is an i64 number of microcents" }),
  Schema.brand("Microcents")
)
export type Microcents = typeof Microcents.Type

/** The initial funds of a tenant: microcents from 0 to i64 max. */
export const Funds = Microcents.pipe(
  Schema.filter(isFunds, { message: () => "initial funds are 0 to i64 max microcents" }),
  Schema.brand("Funds")
)
export type Funds = typeof Funds.Type

/** A reservation id: u64. */
export const ReservationId = Schema.typeSchema(Int.U64).pipe(
  Schema.filter(isReservationId, { message: () => "a reservation id is a u64" }),
  Schema.brand("ReservationId")
)
export type ReservationId = typeof ReservationId.Type

/** A tenant id: well-formed Unicode, at most `MAX_TENANT_BYTES` UTF-8 bytes. */
export const TenantId = Schema.String.pipe(
  Schema.filter(isTenantId, {
    message: () => `a tenant id is well-formed Unicode of at most ${MAX_TENANT_BYTES} UTF-8 bytes`
  }),
  Schema.brand("TenantId")
)
export type TenantId = typeof TenantId.Type

/** A client operation id: well-formed Unicode, 1 to `MAX_OPERATION_ID_BYTES` UTF-8 bytes. */
export const OperationId = Schema.String.pipe(
  Schema.filter(isOperationId, {
    message: () => `an operation id is well-formed Unicode of 1 to ${MAX_OPERATION_ID_BYTES} UTF-8 bytes`
  }),
  Schema.brand("OperationId")
)
export type OperationId = typeof OperationId.Type

/**
 * The reservation id the state machine issues (its counter is a u64 by construction): a brand
 * without a check, for the one place that mints ids.
 */
export const issuedReservationId: (id: bigint) => ReservationId = Brand.nominal<ReservationId>()

const MAX_EXCERPT = 64

/** "an object" (a plain or null-prototype one), else its class with its article: "a Map", "an Error", "a Uint8Array". */
const kindOf = (value: object): string => {
  const name: unknown = value.constructor?.name
  if (typeof name !== "string" || name === "" || name === "Object") return "an object"
  return `${/^[AEIO]/.test(name) ? "an" : "a"} ${name}`
}

/** A short, bounded excerpt of a value for an error message. */
export const excerpt = (value: unknown): string => {
  let text: string
  try {
    text = typeof value === "string"
      ? JSON.stringify(value)
      : typeof value === "bigint"
      ? `${value}`
      : typeof value === "number"
      ? `${value}`
      : Duration.isDuration(value)
      ? Duration.format(value)
      : value === undefined
      ? "undefined"
      : typeof value === "object"
      ? (value === null ? "null" : Array.isArray(value) ? "an array" : kindOf(value))
      : typeof value
  } catch {
    text = typeof value
  }
  if (text.length <= MAX_EXCERPT) return text
  // a string's excerpt quoted whole (its closing quote kept: the CLI's output reads quoted tokens)
  return typeof value === "string"
    ? `${JSON.stringify(value.slice(0, MAX_EXCERPT))}… (${value.length} characters)`
    : `${text.slice(0, MAX_EXCERPT)}… (${text.length} characters)`
}

const invalid = (field: string, value: unknown, reason: string) =>
  new InvalidArgument({ field, value: excerpt(value), reason })

const RANGE = {
  amount: "must be an i64 (-9223372036854775808 to 9223372036854775807)",
  funds: "must be 0 to 9223372036854775807 (an i64 that is not negative)",
  reservation: "must be a u64 (0 to 18446744073709551615)",
  tenant: `must be well-formed Unicode of at most ${MAX_TENANT_BYTES} UTF-8 bytes`,
  operation: `must be well-formed Unicode of 1 to ${MAX_OPERATION_ID_BYTES} UTF-8 bytes`,
  time: "must be a whole number of milliseconds from 0 to 9223372036854775807"
}

const tenantError = (tenant: unknown) => isTenantId(tenant) ? undefined : invalid("tenant", tenant, RANGE.tenant)
const amountError = (field: string, x: unknown) => isAmount(x) ? undefined : invalid(field, x, RANGE.amount)
const reservationError = (x: unknown) => isReservationId(x) ? undefined : invalid("reservation", x, RANGE.reservation)
const operationError = (c: { readonly operation_id?: unknown }) =>
  c.operation_id === undefined || isOperationId(c.operation_id)
    ? undefined
    : invalid("operationId", c.operation_id, RANGE.operation)
const timeError = (field: string, x: unknown) =>
  x === undefined || isFunds(x) ? undefined : invalid(field, x, RANGE.time)

/** A hold's expiry is its duration and its instant together (`expiry` builds both), or neither. */
const expiryPairError = (c: { readonly ttl_ms?: unknown; readonly expires_at_ms?: unknown }) =>
  (c.ttl_ms === undefined) === (c.expires_at_ms === undefined)
    ? undefined
    : invalid(
      "expiresIn",
      c.ttl_ms ?? c.expires_at_ms,
      c.ttl_ms === undefined
        ? "expires_at_ms needs its ttl_ms: a hold's expiry is both (Arguments.expiry builds them)"
        : "ttl_ms needs its expires_at_ms: a hold's expiry is both (Arguments.expiry builds them)"
    )

/** Decode an untrusted value into a brand: the value, or `InvalidArgument` naming `field`. */
const decoder = <A, I>(schema: Schema.Schema<A, I>, defaultField: string, reason: string) => {
  const decode = Schema.decodeUnknownEither(schema)
  return (value: unknown, field: string = defaultField): Either.Either<A, InvalidArgument> =>
    Either.mapLeft(decode(value), () => invalid(field, value, reason))
}

/** Untrusted microcents (i64): the `Microcents`, or `InvalidArgument` naming `field` (default `amount`). */
export const microcents = decoder(Microcents, "amount", RANGE.amount)
/** Untrusted initial funds (0 to i64 max): the `Funds`, or `InvalidArgument` naming `field` (default `amount`). */
export const funds = decoder(Funds, "amount", RANGE.funds)
/** An untrusted tenant id: the `TenantId`, or `InvalidArgument` naming `field` (default `tenant`). */
export const tenantId = decoder(TenantId, "tenant", RANGE.tenant)
/** An untrusted reservation id (u64): the `ReservationId`, or `InvalidArgument` (default field `reservation`). */
export const reservationId = decoder(ReservationId, "reservation", RANGE.reservation)
/** An untrusted operation id: the `OperationId`, or `InvalidArgument` (default field `operationId`). */
export const operationId = decoder(OperationId, "operationId", RANGE.operation)

/** Is this an i64 (the check of `Microcents`, without Schema's machinery: it is on admit's path)? */
const isMicrocents = (x: unknown): x is Microcents => isAmount(x)

/**
 * The one conversion of a decision's `estimated_cost_microunits` (a u64) into the amount `admit`
 * holds: the same number as `Microcents`, or none when it exceeds i64 max (no hold can carry it).
 */
export const microcentsFromEstimatedCost = (cost: bigint): Option.Option<Microcents> =>
  isMicrocents(cost) ? Option.some(cost) : Option.none()

const isSnapshot = Schema.is(Snapshot.Snapshot)
const validateSnapshot = Schema.validateEither(Snapshot.Snapshot)

/** What each level of a snapshot must be, when what is there is not even of its kind. */
const SNAPSHOT_SHAPE = [
  "must be a snapshot: an object of version, tenants and active_reservations",
  "must be an array of tenant balances",
  "must be a tenant balance: an object of tenant_id and its four i64 microcents"
]

/** The value at `path` in a plain value (what the refusal quotes). */
const valueAt = (value: unknown, path: ReadonlyArray<PropertyKey>): unknown =>
  path.reduce<unknown>(
    (current, key) =>
      typeof current === "object" && current !== null && Object.hasOwn(current, key)
        ? (current as Record<PropertyKey, unknown>)[key]
        : undefined,
    value
  )

/**
 * Why a restore's snapshot (which `isSnapshot` refused) is none: the first field out of its type,
 * named from the command's argument (`snapshot.version`, `snapshot.tenants[0].initial_microcents`),
 * with its value and its range (every one was "invalid snapshot an object", whichever field and
 * value: a hostile review). Only on a refusal: the cheap check stays on the valid path.
 */
const snapshotError = (snapshot: unknown): InvalidArgument => {
  // an array, a Map, a boxed value: no object of members (a Map's missing version was named)
  if (!isRecord(snapshot)) return invalid("snapshot", snapshot, SNAPSHOT_SHAPE[0] as string)
  const result = validateSnapshot(snapshot)
  if (Either.isRight(result)) {
    return invalid("snapshot", snapshot, "must be a snapshot of i64 balances and u64 counters")
  }
  const path = ParseResult.ArrayFormatter.formatErrorSync(result.left)[0]?.path ?? []
  const { field, message } = JsonSchema.describeError(result.left)
  // a level that is not even of its kind: Schema names its whole type, kilobytes of it
  const reason = /^expected (\{|ReadonlyArray<)/.test(message)
    ? SNAPSHOT_SHAPE[Math.min(path.length, 2)] as string
    : message
  return invalid(field === "" ? "snapshot" : `snapshot.${field}`, valueAt(snapshot, path), reason)
}

/** The kinds of command that take a client operation id (`operation_id`). */
const TAKES_OPERATION_ID: ReadonlySet<string> = new Set(["TopUp", "Reserve", "Admit", "Commit", "Release"])

/** The `_tag` of every ledger command (a record: a command added to `Command` must be added here). */
const COMMAND_TAGS: ReadonlySet<string> = new Set(
  Object.keys(
    {
      EnsureTenant: true,
      TopUp: true,
      SetExposureCap: true,
      Reserve: true,
      Commit: true,
      Release: true,
      Expire: true,
      Admit: true,
      TakeSnapshot: true,
      VerifyConservation: true,
      ProveConservation: true,
      CertifyLedger: true,
      Restore: true
    } satisfies Record<L.Command["_tag"], true>
  )
)

/** The first argument of a command that is out of range, or undefined when every one is fine. */
export const validateCommand = (command: L.Command): InvalidArgument | undefined => {
  // a JavaScript caller is not held by the types: what is no command is refused, not applied as
  // nothing (`null` died with a TypeError, `{ _tag: "Nope" }` succeeded with undefined: a hostile review)
  const tag: unknown = typeof command === "object" && command !== null
    ? (command as { _tag?: unknown })._tag
    : undefined
  if (typeof tag !== "string" || !COMMAND_TAGS.has(tag)) {
    return invalid("command", tag ?? command, "is none of the ledger's commands")
  }
  const c = command
  // an operation id only where the command's kind takes one (a JavaScript caller is not held by
  // the types): another kind's would be remembered unchecked, but never journaled (a hostile
  // review: a retry answered otherwise after a restart, and the checkpoint could not encode it)
  if ("operation_id" in c && !TAKES_OPERATION_ID.has(c._tag)) {
    return invalid("operationId", (c as { readonly operation_id?: unknown }).operation_id, `a ${c._tag} takes none`)
  }
  switch (c._tag) {
    case "EnsureTenant":
      return tenantError(c.tenant) ?? (isFunds(c.amount) ? undefined : invalid("amount", c.amount, RANGE.funds))
    case "TopUp":
      return tenantError(c.tenant) ?? amountError("amount", c.amount) ?? operationError(c)
    case "SetExposureCap":
      return tenantError(c.tenant) ?? amountError("max", c.max)
    case "Reserve":
    case "Admit":
      return tenantError(c.tenant) ?? amountError("amount", c.amount) ?? operationError(c) ??
        timeError("expiresIn", c.ttl_ms) ?? timeError("expiresIn", c.expires_at_ms) ?? expiryPairError(c)
    case "Commit":
      return reservationError(c.reservation) ?? amountError("actual", c.actual) ?? operationError(c)
    case "Release":
      return reservationError(c.reservation) ?? operationError(c)
    case "Expire":
      return reservationError(c.reservation)
    case "Restore": {
      if (!isSnapshot(c.snapshot)) return snapshotError(c.snapshot)
      const tenants = c.snapshot.tenants
      for (let i = 0; i < tenants.length; i++) {
        const id = (tenants[i] as Snapshot.TenantBalance).tenant_id
        if (!isTenantId(id)) return invalid(`snapshot.tenants[${i}].tenant_id`, id, RANGE.tenant)
      }
      return undefined
    }
    default:
      return undefined
  }
}

/**
 * `validateCommand` for a command a caller asks a ledger to apply (`Ledger.apply`): an `expire`
 * is the ledger's own — it releases each hold once its expiry is due, before every command — so
 * one asked for is refused (`InvalidArgument`, field `command`), before anything changes. Applied
 * by hand it would release a hold before its time, or one that has no expiry, which the journal's
 * recovery then refuses as inconsistent.
 */
export const validateRequest = (command: L.Command): InvalidArgument | undefined =>
  command !== null && typeof command === "object" && command._tag === "Expire"
    ? invalid(
      "command",
      "expire",
      "is the ledger's own: it releases each hold when its expiry is due (release a hold with release)"
    )
    : validateCommand(command)

/** An object of members (not an array, a Map or a boxed value), from any realm: what a refusal names as such. */
const isRecord = (x: unknown): x is Record<string, unknown> => Object.prototype.toString.call(x) === "[object Object]"

/**
 * What `ownCommand` copies member by member: any object but an array and a built-in holding no
 * enumerable member of its own (what a spread copies; a RegExp's `lastIndex` is none). A built-in's
 * spread is `{}`, and the check then named a missing version (the review of the restore message);
 * anything holding members is copied, as the check reads them — a class instance, one with a
 * `Symbol.toStringTag`, a Set given a tenant's members (the reviews of that fix: each was checked,
 * then changed by its caller, and journaled changed).
 */
const copyable = (x: unknown): x is Record<string, unknown> =>
  typeof x === "object" && x !== null && !Array.isArray(x) && (Object.keys(x).length > 0 || !builtIn(x))

/** A prototype's getter (one that throws unless `this` has that built-in's slots), or one that always throws. */
const getterOf = (proto: object, name: string): (this: unknown) => unknown => {
  const get = Object.getOwnPropertyDescriptor(proto, name)?.get
  return get ?? (() => {
    throw new TypeError(name)
  })
}
const regExpSource = getterOf(RegExp.prototype, "source")
const arrayBufferLength = getterOf(ArrayBuffer.prototype, "byteLength")

/** Calls that throw unless `x` has a built-in's internal slots: true across realms, whatever its toStringTag. */
const BRAND_CHECKS: ReadonlyArray<(x: object) => unknown> = [
  (x) => Map.prototype.has.call(x, undefined),
  (x) => Set.prototype.has.call(x, undefined),
  (x) => WeakMap.prototype.has.call(x, {}),
  (x) => WeakSet.prototype.has.call(x, {}),
  (x) => Date.prototype.getTime.call(x),
  (x) => String.prototype.valueOf.call(x),
  (x) => Number.prototype.valueOf.call(x),
  (x) => Boolean.prototype.valueOf.call(x),
  (x) => BigInt.prototype.valueOf.call(x),
  (x) => Symbol.prototype.valueOf.call(x),
  // (RegExp.prototype itself answers "(?:)": a regular expression's own prototype is no snapshot either)
  (x) => regExpSource.call(x),
  (x) => arrayBufferLength.call(x)
]

/**
 * A Map, a Set, a Date, a boxed primitive, a typed array (and the like: `BRAND_CHECKS`), of any realm: a spread of it is `{}` or
 * its indices, and the check then named a missing version (the review of `copyable`: a Set, a
 * foreign Map, a Date were so misnamed). Told by its internal slots, never by its toStringTag.
 */
const builtIn = (x: object): boolean => {
  // a plain object of this realm (every tenant of a large snapshot): no throw per check
  const proto: unknown = Object.getPrototypeOf(x)
  if (proto === Object.prototype || proto === null) return false
  return ArrayBuffer.isView(x) || BRAND_CHECKS.some((check) => {
    try {
      check(x)
      return true
    } catch {
      return false
    }
  })
}

/**
 * A copy of a command, each field read once (a restore's snapshot and its tenants too): the layers
 * check the copy and then apply and journal it, so a caller that changes its object after
 * `apply` checked it — before the journal writer takes it — changes nothing (a helper's hostile
 * review: a tenant id lengthened past the limit then was applied and journaled, and the journal
 * could never be opened again). What is not an object is returned as it is, for the check to refuse.
 */
export const ownCommand = (command: L.Command): L.Command => {
  if (typeof command !== "object" || command === null) return command
  const copy: { -readonly [K in keyof L.Command]: L.Command[K] } & Record<string, unknown> = { ...command }
  if (copy._tag === "Restore") {
    const snapshot: unknown = copy.snapshot
    // only an object of members is copied: a spread made an array or a Map `{}`, and the check then
    // named a missing version instead of what was given (the review of the restore message)
    if (copyable(snapshot)) {
      const tenants: unknown = snapshot["tenants"]
      copy.snapshot = {
        ...snapshot,
        ...(Array.isArray(tenants) ? { tenants: tenants.map((t: unknown) => (copyable(t) ? { ...t } : t)) } : {})
      } as unknown as typeof copy.snapshot
    }
  }
  return copy as L.Command
}

/** An i64 whose range was just checked. */
const checkedI64: (n: bigint) => Int.I64 = Brand.nominal<Int.I64>()

/** Is this Duration input negative or NaN (which `Duration.decode` would silently turn into zero)? */
const negative = (input: unknown): boolean => {
  if (typeof input === "number") return !(input >= 0)
  if (typeof input === "bigint") return input < 0n
  if (Array.isArray(input)) return input.some((x) => typeof x !== "number" || !(x >= 0))
  if (typeof input === "string") return /^\s*-/.test(input)
  return false
}

/**
 * The expiry of a hold asked for with `expiresIn` at Clock `nowMs`: the duration in whole
 * milliseconds (rounded up) and the instant, both within i64; `InvalidArgument` otherwise
 * (infinite, negative, not a duration, or ending beyond i64 milliseconds).
 */
export const expiry = (
  expiresIn: Duration.DurationInput,
  nowMs: number
): Either.Either<{ readonly ttl_ms: Int.I64; readonly expires_at_ms: Int.I64 }, InvalidArgument> => {
  const fail = (reason: string) => Either.left(invalid("expiresIn", expiresIn, reason))
  if (negative(expiresIn)) return fail("must not be negative")
  const decoded = Duration.decodeUnknown(expiresIn)
  if (Option.isNone(decoded)) return fail("must be a Duration (e.g. \"30 seconds\")")
  const value = decoded.value.value
  if (value._tag === "Infinity") return fail("must be finite")
  // a count of nanoseconds (the CLI's `--expires`, `Duration.nanos`) in exact bigint arithmetic:
  // `Duration.toMillis` is a double, which rounds a duration beyond 2^53 ms to another one. (A
  // finite Duration is never negative nor NaN: Duration clamps those to zero, and `negative`
  // refused them as given.)
  const ttl = value._tag === "Nanos" ? (value.nanos + 999_999n) / 1_000_000n : BigInt(Math.ceil(value.millis))
  // (a clock at a fractional millisecond — `TestClock.adjust("1500 micros")` — counts the
  // millisecond it is in: `BigInt(1.5)` threw; a time that is no number is refused)
  const now = Math.floor(nowMs)
  if (!Number.isSafeInteger(now)) {
    return Either.left(invalid("nowMs", nowMs, "must be a finite number of epoch milliseconds"))
  }
  const at = BigInt(now) + ttl
  if (ttl > Int.I64_MAX || at > Int.I64_MAX || at < 0n) {
    return fail("must end within 9223372036854775807 epoch milliseconds")
  }
  return Either.right({ ttl_ms: checkedI64(ttl), expires_at_ms: checkedI64(at) })
}

// built once: `Schema.is` compiles a validator on every call (it is on every admit's path)
const isJsonValue = Schema.is(JsonValue)

/**
 * The deepest admit metadata (arrays and objects nested) every journal can hold: the WAL's
 * `MAX_RECORD_DEPTH` less the levels around it in the deepest record that carries it, a refused
 * admit in a file journal's entry (`{"v":1,"commands":[{"kind":"refused","command":{…,
 * "audited":{…,"metadata":M}}}]}`: 5).
 */
export const MAX_METADATA_DEPTH = MAX_RECORD_DEPTH - 5

/**
 * Admit metadata must be a Json value the journal can write (it is journaled in the audited
 * record): nested at most `MAX_METADATA_DEPTH` deep, integers within −2^63 … 2^64 − 1, strings
 * and keys without a lone surrogate. One the WAL's writer would refuse is refused here, before
 * anything changes (the writer's refusal would come after the state changed: the journaled
 * ledger would stop serving; a helper's hostile review).
 */
export const metadata = (value: unknown): Either.Either<Json.Json, InvalidArgument> =>
  Either.map(metadataPrinted(value), ([own]) => own)

/**
 * `metadata`, with the UTF-8 bytes its printed form takes at most (3 a UTF-16 unit of the print
 * the check makes anyway): what a journaled layer needs to know that an admit's record fits a
 * line without printing it again (`internal/bounds.ts`).
 */
export const metadataPrinted = (value: unknown): Either.Either<readonly [Json.Json, number], InvalidArgument> => {
  // a copy, checked and then used: the caller's object changed after the check (before the
  // journal writer prints it) is not what the journal holds (a helper's hostile review)
  const own = Json.copy(value, MAX_METADATA_DEPTH)
  if (!isJsonValue(own)) return Either.left(invalid("metadata", value, "must be a Json value"))
  const units = printedUnits(own, MAX_METADATA_DEPTH)
  return units === undefined
    ? Either.left(unwritable("metadata", own, MAX_METADATA_DEPTH))
    : Either.right([own, 3 * units] as const)
}

/** The UTF-16 units of a Json value's print within `depth` levels; undefined when the WAL's writer would refuse it. */
const printedUnits = (value: Json.Json, depth: number): number | undefined => Json.printWithin(value, depth)?.length

/** A Json value the WAL's writer refuses within `depth` levels (`Json.printWithin`): `InvalidArgument` naming `field`. */
const unwritable = (field: string, value: Json.Json, depth: number): InvalidArgument =>
  invalid(
    field,
    value,
    `must be a value the journal can write: nested at most ${depth} deep, integers from -2^63 to 2^64 - 1, strings and keys without a lone surrogate`
  )

/**
 * The deepest audited decision (arrays and objects nested) a journal can hold beside its admit:
 * `MAX_RECORD_DEPTH` less the 4 levels around it in a refused admit of a file journal's entry.
 */
const MAX_AUDITED_DEPTH = MAX_RECORD_DEPTH - 4

const decodeAudited = Schema.decodeUnknownEither(Audited.AuditedJson)

/**
 * An admit's audited decision, as `Ledger.apply` is given it (a layer that journals it checks it
 * before anything changes): a Json value the journal can write, as `metadata`; and, given the
 * admit's hold (`amount`), when it is an audited decision (`Audited.AuditedJson`), one whose cost
 * is that hold: the journal audit refuses any other (`JournalAudit`: the hold is its decision's
 * cost), and the writer journaled such an admit, which its own audit then called tampered (a
 * hostile review). A record that is no audited decision (a hand-built admit's binding) is taken
 * as before; the journal audit refuses it as not audited.
 */
export const audited = (value: unknown, amount?: bigint): InvalidArgument | undefined => {
  if (!isJsonValue(value)) return invalid("audited", value, "must be a Json value")
  const units = printedUnits(value, MAX_AUDITED_DEPTH)
  if (units === undefined) return unwritable("audited", value, MAX_AUDITED_DEPTH)
  if (typeof value === "object" && value !== null) noteBound(value, 3 * units)
  return amount === undefined ? undefined : auditedCost(value, amount)
}

/**
 * `audited`'s cost check alone, for a record known to be writable (one a function built for
 * `Ledger.apply`, which the layers check once built; one read back from a journal, which
 * recovery checks): when it is an audited decision (`Audited.AuditedJson`), its cost must be
 * `amount`. A record whose `decision.estimated_cost_microunits` reads as `amount` passes without
 * its decoding (what the decoding would find there, if it decodes at all: ~0.1 µs where the
 * decoding costs ~12 µs, on every admit and every replayed one).
 */
export const auditedCost = (value: Json.Json, amount: bigint): InvalidArgument | undefined => {
  if (statedCost(value) === amount) return undefined
  const decoded = decodeAudited(value)
  if (Either.isLeft(decoded)) return undefined
  const cost = decoded.right.decision.estimated_cost_microunits as bigint
  return cost === amount ? undefined : invalid(
    "audited",
    value,
    `its decision's estimated_cost_microunits is ${cost}, the admit holds ${amount}: an admit holds its decision's cost`
  )
}

/** A copy of an audited record, checked whole (`audited`) and then journaled (see `metadata`). */
const auditedCopy = (value: unknown, amount: bigint): Either.Either<Json.Json, InvalidArgument> => {
  const own = Json.copy(value, MAX_AUDITED_DEPTH) as Json.Json
  const refused = audited(own, amount)
  return refused === undefined ? Either.right(own) : Either.left(refused)
}

/**
 * An admit's audited record as a layer that journals it takes it from `Ledger.apply` (`Audit`):
 * one given as a value checked whole (`audited`: writable, and its cost the hold); one a function
 * builds built (its failure as it is), then its cost checked (`auditedCost`; its writability is
 * its builder's).
 */
export const auditedRecord = <E>(
  audit: Json.Json | (() => Either.Either<Json.Json, E>),
  amount: bigint
): Either.Either<Json.Json, InvalidArgument | E> => {
  if (typeof audit !== "function") return auditedCopy(audit, amount)
  const bound = boundOf(audit)
  return Either.flatMap(audit(), (record) => {
    // a caller's builder: its record as one given as a value — a record too deep, or one the
    // builder changes after it is handed over, would be journaled unchecked (a review: a record
    // 124 levels deep journaled, and no audit read it back)
    if (bound === undefined) return auditedCopy(record, amount)
    // `Ledger.admit`'s own builder (its record fresh, its metadata a checked copy): the cost
    // checked, and the builder's bound the record's, for the layer that measures it
    const wrongCost = auditedCost(record, amount)
    if (wrongCost !== undefined) return Either.left(wrongCost)
    if (typeof record === "object" && record !== null) noteBound(record, bound)
    return Either.right(record)
  })
}

/** A record's `decision.estimated_cost_microunits` as an integer, read without decoding; else undefined. */
const statedCost = (value: Json.Json): bigint | undefined => {
  if (!Json.isObject(value)) return undefined
  const decision = value.get("decision")
  if (decision === undefined || !Json.isObject(decision)) return undefined
  const cost = decision.get("estimated_cost_microunits")
  return typeof cost === "bigint"
    ? cost
    : typeof cost === "number" && Number.isSafeInteger(cost)
    ? BigInt(cost)
    : undefined
}

/**
 * A policy built by `Policy.make` / `unsafeMake` (its compiled catalog is what the kernel reads):
 * anything else from a JavaScript caller is an `InvalidArgument`, not a kernel's TypeError (a
 * helper's review of the API: `admit` died on a plain object).
 */
export const checkPolicy = (policy: unknown): Either.Either<void, InvalidArgument> =>
  Policy.isPolicy(policy)
    ? Either.void
    : Either.left(invalid("policy", policy, "must be a Policy (Policy.make of a snapshot)"))

/**
 * An admit's input, every field within its width and of its kind (a bigint where the kernel
 * reads one), checked before the kernel runs, in every layer alike (`Input.make`, compiled: ~0.4
 * µs): `InvalidArgument` with field `input.<name>` otherwise. (Only a value built with a cast can
 * fail it: the memory layer held funds for a request sequence of −1, the journal's failed to
 * encode it, and a number where a bigint belongs made the kernel throw: a hostile review.)
 */
export const checkInput = (input: Input.Input): Either.Either<Input.Input, InvalidArgument> => {
  // a copy of an object, checked (what is no object is checked as it is, and refused)
  const own: unknown = typeof input === "object" && input !== null ? { ...input } : input
  return Either.mapBoth(Input.make(own as Input.Input), {
    onLeft: (error) => {
      const { field, message } = JsonSchema.describeError(error)
      const value = field === "" ? own : (own as Record<string, unknown>)[field.split(/[.[]/)[0] as string]
      return invalid(field === "" ? "input" : `input.${field}`, value, message)
    },
    // the checked copy (the caller's object may change before the journal writer records it)
    onRight: (checked) => checked
  })
}

/** A tenant id or operation id given outside a command (admit checks them before prescribing). */
export const checkTenant = (tenant: unknown): Either.Either<void, InvalidArgument> => {
  const error = tenantError(tenant)
  return error === undefined ? Either.void : Either.left(error)
}
export const checkOperationId = (id: unknown): Either.Either<void, InvalidArgument> => {
  const error = id === undefined ? undefined : operationError({ operation_id: id })
  return error === undefined ? Either.void : Either.left(error)
}

/**
 * The clock's time in whole epoch milliseconds: the millisecond it is in (a `Clock` may be at a
 * fractional one: `BigInt(Clock.currentTimeMillis)` threw, a defect on every query once a hold
 * could expire, and the journaled ledger's writer died with every later command left unanswered;
 * a helper's review of the API). A time that is no finite number (a broken Clock) is a
 * `LedgerStoreError` (operation `clock`): the command is not applied (it was a defect that killed
 * the journaled ledger's writer: the review of this fix).
 */
export const nowMillis: Effect.Effect<bigint, LedgerStoreError> = Effect.flatMap(
  Clock.currentTimeMillis,
  (ms) =>
    Number.isFinite(ms)
      ? Effect.succeed(BigInt(Math.floor(ms)))
      : Effect.fail(
        new LedgerStoreError({
          operation: "clock",
          cause: new Error(`the Clock's time is ${ms} milliseconds: not a time (nothing was applied)`)
        })
      )
)

/** An integer option of a ledger layer: absent, or a safe integer from `min`, else `InvalidArgument` with `reason`. */
const checkInteger =
  (min: number, reason: string) => (field: string, value: unknown): Either.Either<void, InvalidArgument> =>
    value === undefined || (typeof value === "number" && Number.isSafeInteger(value) && value >= min)
      ? Either.void
      : Either.left(invalid(field, value, reason))

/** A size option of a ledger layer (`operationWindow`, `maxPending`, `maxBatch`): absent, or a positive safe integer. */
export const checkSize = checkInteger(1, "must be a positive integer below 2^53")

/** A count option where 0 means "never" (`checkpointEvery`): undefined, or an integer from 0 below 2^53. */
export const checkCount = checkInteger(0, "must be an integer from 0 (never) below 2^53")
