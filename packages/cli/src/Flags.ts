/**
 * Schemas that parse flag values straight into domain values (STYLE §8): integer microcents
 * (i64, exact: no decimals, no exponents, no values beyond i64), u64 ids and sequences, and
 * durations such as "30 seconds". A bad value fails `@effect/cli`'s parse with a one-line
 * message naming the flag, the value and what is wrong (exit 2).
 */
import * as Arguments from "@calybris/budget/Arguments"
import * as Int from "@calybris/core/Int"
import * as Duration from "effect/Duration"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"

/** The innermost message of an issue (so `@effect/cli` prints one line, not a tree). */
const leafMessage = (issue: ParseResult.ParseIssue): string => {
  switch (issue._tag) {
    case "Transformation":
    case "Refinement":
      return leafMessage(issue.issue)
    case "Type":
      return issue.message ?? `unexpected value ${String(issue.actual)}`
    case "Composite": {
      const first = Array.isArray(issue.issues) ? issue.issues[0] : issue.issues
      return first === undefined ? "invalid value" : leafMessage(first as ParseResult.ParseIssue)
    }
    default:
      return "invalid value"
  }
}

const oneLine = <A>(schema: Schema.Schema<A, string>): Schema.Schema<A, string> =>
  schema.annotations({ message: (issue) => ({ message: leafMessage(issue), override: true }) })

export type Sign = "positive" | "non-negative" | "any"

export interface IntegerSpec {
  /** the flag's name, without dashes */
  readonly flag: string
  /** what the number is, for messages: "an integer number of microcents" */
  readonly what: string
  readonly min: bigint
  readonly max: bigint
  /** the range in words, for messages: "i64 microcents" */
  readonly range: string
  readonly sign: Sign
}

const DECIMAL = /^[+-]?[0-9]+$/

/** Why a text is not a plain decimal integer, in words. */
const notAnInteger = (text: string): string => {
  const trimmed = text.trim()
  if (trimmed === "") return "it is empty"
  if (/^[+-]?[0-9]*\.[0-9]*([eE][+-]?[0-9]+)?$/.test(trimmed)) return "no decimal point allowed"
  if (/^[+-]?[0-9.]+[eE][+-]?[0-9]+$/.test(trimmed)) return "no exponent allowed"
  if (trimmed !== text) return "no surrounding spaces allowed"
  if (/[_,]/.test(trimmed) && /^[+-]?[0-9_,]+$/.test(trimmed)) return "no digit separators allowed"
  return "not a decimal integer"
}

/** A decimal integer flag parsed exactly into a bigint within [min, max]. */
export const integer = (spec: IntegerSpec): Schema.Schema<bigint, string> =>
  oneLine(Schema.transformOrFail(Schema.String, Schema.BigIntFromSelf, {
    strict: true,
    decode: (text, _, ast) => {
      const fail = (why: string) => ParseResult.fail(new ParseResult.Type(ast, text, `--${spec.flag}: ${why}`))
      if (!DECIMAL.test(text)) {
        return fail(`expected ${spec.what}, got ${JSON.stringify(text)}: ${notAnInteger(text)}`)
      }
      const value = BigInt(text)
      if (spec.sign === "positive" && value <= 0n) return fail(`must be positive, got ${value}`)
      if (spec.sign === "non-negative" && value < 0n) return fail(`must be zero or more, got ${value}`)
      if (value > spec.max) return fail(`${value} is out of range: ${spec.range} at most ${spec.max}`)
      if (value < spec.min) return fail(`${value} is out of range: ${spec.range} at least ${spec.min}`)
      return ParseResult.succeed(value)
    },
    encode: (value) => ParseResult.succeed(value.toString())
  }))

/** Integer microcents (i64), as the ledger's `Microcents` (the range checked above cannot fail the brand's). */
export const microcents = (flag: string, sign: Sign): Schema.Schema<Arguments.Microcents, string> =>
  oneLine(Schema.compose(microcentsInteger(flag, sign), Arguments.Microcents, { strict: false }))

const microcentsInteger = (flag: string, sign: Sign): Schema.Schema<bigint, string> =>
  integer({
    flag,
    what: "an integer number of microcents (1 cent = 1000000 microcents)",
    min: Int.I64_MIN,
    max: Int.I64_MAX,
    range: "amounts are i64 microcents,",
    sign
  })

/** A u64 (reservation ids, sequences). */
export const u64 = (flag: string, what: string): Schema.Schema<bigint, string> =>
  integer({ flag, what, min: 0n, max: Int.U64_MAX, range: "it is a u64,", sign: "non-negative" })

/** A reservation id (u64), as the ledger's `ReservationId`. */
export const reservationId = (flag: string): Schema.Schema<Arguments.ReservationId, string> =>
  oneLine(Schema.compose(u64(flag, "a reservation id"), Arguments.ReservationId, { strict: false }))

const UNITS = ["nanos", "micros", "millis", "seconds", "minutes", "hours", "days", "weeks"] as const
const UNIT = /^([0-9]+) +(nano|micro|milli|second|minute|hour|day|week)s?$/

/** Nanoseconds per unit, exactly. */
const NANOS: Record<string, bigint> = {
  nano: 1n,
  micro: 1_000n,
  milli: 1_000_000n,
  second: 1_000_000_000n,
  minute: 60_000_000_000n,
  hour: 3_600_000_000_000n,
  day: 86_400_000_000_000n,
  week: 604_800_000_000_000n
}

/** A duration such as `30 seconds`, `5 minutes`, `1 hour`. */
export const duration = (flag: string): Schema.Schema<Duration.Duration, string> =>
  oneLine(Schema.transformOrFail(Schema.String, Schema.DurationFromSelf, {
    strict: true,
    decode: (text, _, ast) => {
      const match = UNIT.exec(text.trim())
      if (match === null) {
        return ParseResult.fail(
          new ParseResult.Type(
            ast,
            text,
            `--${flag}: expected a duration such as "30 seconds" or "5 minutes" (units: ${UNITS.join(", ")}), got ${
              JSON.stringify(text)
            }`
          )
        )
      }
      // exact (bigint) nanoseconds: a huge count is neither rounded (Number) nor a defect
      // ("Invalid DurationInput"); whether the hold's expiry fits is the ledger's check
      // (InvalidArgument, exit 2), the same for the CLI and the library
      return ParseResult.succeed(Duration.nanos(BigInt(match[1] ?? "0") * (NANOS[match[2] ?? "second"] ?? 1n)))
    },
    encode: (value) => ParseResult.succeed(Duration.format(value))
  }))
