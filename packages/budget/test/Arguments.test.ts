import * as Arguments from "@calybris/budget/Arguments"
import type * as L from "@calybris/budget/LedgerState"
import type * as Input from "@calybris/core/Input"
import * as Json from "@calybris/core/Json"
import * as Kernel from "@calybris/core/Kernel"
import * as Audited from "@calybris/wal/Audited"
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { input, policy } from "./support/fixtures.js"

const I64_MAX = (1n << 63n) - 1n
const U64_MAX = (1n << 64n) - 1n

describe("Arguments", () => {
  it("an audited record a caller's function builds is copied and checked whole, as one given as a value: too deep or unwritable is InvalidArgument; changed after it is handed over, the journal's copy is not (a review: a record 124 levels deep was journaled and no audit read it back)", () => {
    const decision = Kernel.prescribe(policy, input(1))
    const cost = decision.estimated_cost_microunits as bigint
    const record = Either.getOrThrow(Audited.recordOfPrescribed(policy, input(1), decision, "note")) as Map<
      string,
      Json.Json
    >
    const built = Either.getOrThrow(Arguments.auditedRecord(() => Either.right(record), cost))
    assert.notStrictEqual(built, record)
    assert.strictEqual(Json.print(built), Json.print(record))
    record.set("metadata", "changed")
    assert.notStrictEqual(Json.print(built), Json.print(record))
    let deep: Json.Json = 0n
    for (let i = 0; i < 124; i++) deep = [deep]
    for (const metadata of [deep, "\uD800"]) {
      const bad = new Map(record)
      bad.set("metadata", metadata)
      const refused = Arguments.auditedRecord(() => Either.right(bad), cost)
      assert.isTrue(
        Either.isLeft(refused) && refused.left._tag === "InvalidArgument" && refused.left.field === "audited"
      )
    }
  })

  it("checkInput: what is no object is InvalidArgument naming the input, never a defect (a review: null died with a TypeError)", () => {
    for (const bad of [null, undefined, 5, "input"]) {
      const checked = Arguments.checkInput(bad as unknown as Input.Input)
      assert.isTrue(Either.isLeft(checked))
      if (Either.isLeft(checked)) assert.strictEqual(checked.left.field, "input")
    }
    // a copy is what is checked and returned
    const given = input(1)
    const checked = Either.getOrThrow(Arguments.checkInput(given))
    assert.notStrictEqual(checked, given)
    assert.deepStrictEqual(checked, given)
  })

  it("the branded schemas accept exactly what validateCommand accepts, at every edge", () => {
    const amounts = [-(1n << 63n) - 1n, -(1n << 63n), -1n, 0n, 1n, I64_MAX, I64_MAX + 1n, 1n << 70n]
    for (const a of amounts) {
      const command = { _tag: "TopUp", tenant: "t", amount: a } as L.Command
      assert.strictEqual(Schema.is(Arguments.Microcents)(a), Arguments.validateCommand(command) === undefined, `${a}`)
      const ensure = { _tag: "EnsureTenant", tenant: "t", amount: a } as L.Command
      assert.strictEqual(Schema.is(Arguments.Funds)(a), Arguments.validateCommand(ensure) === undefined, `${a}`)
    }
    for (const r of [-1n, 0n, U64_MAX, U64_MAX + 1n]) {
      const command = { _tag: "Release", reservation: r } as L.Command
      assert.strictEqual(Schema.is(Arguments.ReservationId)(r), Arguments.validateCommand(command) === undefined)
    }
    const ids = ["", "a", "\uD800", "a\uDC00b", "é".repeat(128), "é".repeat(129), "x".repeat(256), "x".repeat(257)]
    for (const id of ids) {
      const command = { _tag: "Release", reservation: 1n, operation_id: id } as L.Command
      assert.strictEqual(Schema.is(Arguments.OperationId)(id), Arguments.validateCommand(command) === undefined, id)
    }
    const tenants = ["", "t", "\uD83D\uDE00".repeat(256), "\uD83D\uDE00".repeat(257), "x".repeat(1_025), "\uDFFF"]
    for (const t of tenants) {
      const command = { _tag: "EnsureTenant", tenant: t, amount: 0n } as L.Command
      assert.strictEqual(Schema.is(Arguments.TenantId)(t), Arguments.validateCommand(command) === undefined, t)
    }
  })

  it("expiresIn: finite, non-negative, and ending within i64 milliseconds", () => {
    assert.deepStrictEqual<unknown>(
      Arguments.expiry("1500 micros", 10),
      Either.right({ ttl_ms: 2n, expires_at_ms: 12n })
    )
    assert.deepStrictEqual<unknown>(Arguments.expiry(0, 10), Either.right({ ttl_ms: 0n, expires_at_ms: 10n }))
    const max = Number(I64_MAX)
    for (
      const bad of [Infinity, -1, NaN, -0.5, Duration.infinity, "-5 seconds", "soon", [-1, 0], Duration.weeks(1e15)]
    ) {
      const e = Arguments.expiry(bad as Duration.DurationInput, 10)
      assert.isTrue(Either.isLeft(e) && e.left.field === "expiresIn", String(bad))
    }
    assert.isTrue(Either.isLeft(Arguments.expiry(Duration.millis(max), 1_000_000)))
  })

  it("expiresIn in nanoseconds is exact beyond 2^53 ms (the CLI's --expires): never rounded to another expiry", () => {
    const ms = 2n ** 53n + 1n
    assert.deepStrictEqual<unknown>(
      Arguments.expiry(Duration.nanos(ms * 1_000_000n), 0),
      Either.right({ ttl_ms: ms, expires_at_ms: ms })
    )
    // rounded up to the next whole millisecond, exactly
    assert.deepStrictEqual<unknown>(
      Arguments.expiry(Duration.nanos(ms * 1_000_000n + 1n), 1),
      Either.right({ ttl_ms: ms + 1n, expires_at_ms: ms + 2n })
    )
    // the last instant within i64 is reachable, the one after it is refused
    assert.deepStrictEqual<unknown>(
      Arguments.expiry(Duration.nanos(I64_MAX * 1_000_000n), 0),
      Either.right({ ttl_ms: I64_MAX, expires_at_ms: I64_MAX })
    )
    const past = Arguments.expiry(Duration.nanos(I64_MAX * 1_000_000n + 1n), 0)
    assert.isTrue(Either.isLeft(past) && past.left.field === "expiresIn")
  })

  it("an error carries a short excerpt of the value, never all of it", () => {
    const e = Arguments.validateCommand(
      { _tag: "EnsureTenant", tenant: "x".repeat(1_000_000), amount: 0n } as L.Command
    )
    assert.strictEqual(e?._tag, "InvalidArgument")
    assert.isBelow(e?.message.length ?? 0, 300)
    // the excerpt of a string is quoted whole, its closing quote kept (the CLI reads quoted tokens)
    assert.include(e?.message ?? "", `"${"x".repeat(64)}"… (1000000 characters)`)
  })

  it("an excerpt names an object's kind with its article", () => {
    assert.strictEqual(Arguments.excerpt({ a: 1 }), "an object")
    assert.strictEqual(Arguments.excerpt(Object.create(null)), "an object")
    assert.strictEqual(Arguments.excerpt(new Map()), "a Map")
    assert.strictEqual(Arguments.excerpt(new Error("x")), "an Error")
    assert.strictEqual(Arguments.excerpt(new Uint8Array(1)), "a Uint8Array")
    assert.strictEqual(Arguments.excerpt([1]), "an array")
  })

  it("an operation id on a command whose kind takes none is refused (a JavaScript caller): it would be remembered, never journaled", () => {
    for (
      const command of [
        { _tag: "EnsureTenant", tenant: "a", amount: 100n, operation_id: "k" },
        { _tag: "SetExposureCap", tenant: "a", max: 5n, operation_id: "k" },
        { _tag: "TakeSnapshot", operation_id: "s" }
      ]
    ) {
      const e = Arguments.validateCommand(command as unknown as L.Command)
      assert.strictEqual(e?._tag, "InvalidArgument", command._tag)
      assert.strictEqual(e?.field, "operationId")
      assert.include(e?.message ?? "", `a ${command._tag} takes none`)
    }
    assert.isUndefined(
      Arguments.validateCommand({ _tag: "TopUp", tenant: "a", amount: 1n, operation_id: "k" } as unknown as L.Command)
    )
  })

  it("a restore's snapshot out of its types: InvalidArgument names the first wrong field from the argument, its value and its range (a hostile review: every one was \"invalid snapshot an object\")", () => {
    const balance = {
      tenant_id: "a",
      initial_microcents: 10n,
      remaining_microcents: 10n,
      reserved_microcents: 0n,
      committed_microcents: 0n
    }
    const restore = (snapshot: unknown) =>
      Arguments.validateCommand({ _tag: "Restore", snapshot } as unknown as L.Command)
    const fields = (e: ReturnType<typeof restore>) => e && { field: e.field, value: e.value, reason: e.reason }
    assert.isUndefined(restore({ version: U64_MAX, tenants: [balance], active_reservations: U64_MAX }))
    assert.deepStrictEqual(fields(restore({ version: U64_MAX + 1n, tenants: [], active_reservations: 0n })), {
      field: "snapshot.version",
      value: "18446744073709551616",
      reason: "must be an integer in [0, 18446744073709551615], got 18446744073709551616"
    })
    assert.deepStrictEqual(
      fields(
        restore({ version: 1n, tenants: [{ ...balance, reserved_microcents: -I64_MAX - 2n }], active_reservations: 0n })
      ),
      {
        field: "snapshot.tenants[0].reserved_microcents",
        value: "-9223372036854775809",
        reason: "must be an integer in [-9223372036854775808, 9223372036854775807], got -9223372036854775809"
      }
    )
    assert.deepStrictEqual(fields(restore({ version: 1n, tenants: [balance], active_reservations: 3 })), {
      field: "snapshot.active_reservations",
      value: "3",
      reason: "expected a bigint, got the number 3"
    })
    assert.deepStrictEqual(
      fields(restore({ version: 1n, tenants: [{ ...balance, tenant_id: 7 }], active_reservations: 0n })),
      {
        field: "snapshot.tenants[0].tenant_id",
        value: "7",
        reason: "expected string, got 7"
      }
    )
    // a tenant id of its type but out of range: the same field spelling
    const long = restore({
      version: 1n,
      tenants: [balance, { ...balance, tenant_id: "x".repeat(1_025) }],
      active_reservations: 0n
    })
    assert.strictEqual(long?.field, "snapshot.tenants[1].tenant_id")
    assert.strictEqual(long?.reason, "must be well-formed Unicode of at most 1024 UTF-8 bytes")
    // what is no object at some level: a short reason, never Schema's whole type
    for (
      const [snapshot, field] of [
        [undefined, "snapshot"],
        [[], "snapshot"],
        [{ version: 1n, tenants: {}, active_reservations: 0n }, "snapshot.tenants"],
        [{ version: 1n, tenants: [7], active_reservations: 0n }, "snapshot.tenants[0]"]
      ] as const
    ) {
      const e = restore(snapshot)
      assert.strictEqual(e?.field, field)
      assert.match(e?.reason ?? "", /^must be (a snapshot|an array of tenant balances|a tenant balance)/)
      assert.isBelow(e?.message.length ?? 0, 200)
    }
  })
})
