/**
 * Recovery trusts nothing it has not checked (issue 12, item 3): crafted journals whose chain is
 * valid (appended through the WAL, keyed and unkeyed) but whose content is inconsistent are
 * refused by recovery (from the last checkpoint, and with `verifyCheckpoints`) and by the
 * journal audit, with `LedgerJournalInconsistent` naming the entry.
 */
import { Microcents, TenantId } from "@calybris/budget/Arguments"
import * as Journal from "@calybris/budget/Journal"
import * as JournalAudit from "@calybris/budget/JournalAudit"
import * as Ledger from "@calybris/budget/Ledger"
import { LedgerJournalInconsistent, LedgerRecoveryError } from "@calybris/budget/LedgerError"
import type * as L from "@calybris/budget/LedgerState"
import * as Snapshot from "@calybris/budget/Snapshot"
import * as Json from "@calybris/core/Json"
import * as Wal from "@calybris/wal/Wal"
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as fc from "effect/FastCheck"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import { inspect } from "../src/internal/queries.js"
import { input, policy } from "./support/fixtures.js"

const key = new Uint8Array(32).fill(5)

// ---------------------------------------------------------------------------------------------
// Crafted records (wire text, parsed with our lossless Json parser)

const ensure = (tenant: string, amount: number | string) =>
  `{"kind":"ensure_tenant","tenant_id":"${tenant}","amount":${amount}}`
const reserve = (tenant: string, amount: number, extra = "") =>
  `{"kind":"reserve","tenant_id":"${tenant}","amount":${amount}${extra}}`
const commit = (id: number, actual: number) => `{"kind":"commit","reservation_id":${id},"actual":${actual}}`
const release = (id: number) => `{"kind":"release","reservation_id":${id}}`
const expire = (id: number) => `{"kind":"expire","reservation_id":${id}}`
const refused = (command: string, result: string) => `{"kind":"refused","command":${command},"result":${result}}`
const insufficient = (remaining: number, required: number) =>
  `{"_tag":"Insufficient","remaining_microcents":${remaining},"required_microcents":${required}}`
const commands = (...list: ReadonlyArray<string>) => `{"v":1,"commands":[${list.join(",")}]}`

const tenant = (id: string, initial: number, remaining: number, reserved: number, committed: number) =>
  `{"tenant_id":"${id}","initial_microcents":${initial},"remaining_microcents":${remaining},"reserved_microcents":${reserved},"committed_microcents":${committed}}`
const hold = (id: number, tenantId: string, amount: number) =>
  `{"reservation_id":${id},"tenant_id":"${tenantId}","amount":${amount}}`
const checkpoint = (parts: {
  readonly tenants?: ReadonlyArray<string>
  readonly holds?: ReadonlyArray<string>
  readonly caps?: ReadonlyArray<string>
  readonly operations?: ReadonlyArray<string>
  readonly next?: number | bigint
}) =>
  `{"v":1,"checkpoint":{"tenants":[${(parts.tenants ?? []).join(",")}],"holds":[${
    (parts.holds ?? []).join(",")
  }],"caps":[${(parts.caps ?? []).join(",")}],"operations":[${(parts.operations ?? []).join(",")}],"next_reservation":${
    parts.next ?? 1
  },"snapshot_version":0,"baseline":0}}`
const operation = (id: string, result: string, fingerprint = "reserve \\\"t\\\" 10 ") =>
  `{"operation_id":"${id}","fingerprint":"${fingerprint}","result":${result}}`

interface Case {
  readonly name: string
  readonly records: ReadonlyArray<string>
  /** the entry named by the error */
  readonly sequence: bigint
  /** the command of that entry (1-based), for a command group */
  readonly command?: number
  /** what the error says is wrong */
  readonly reason: string
}

const cases: ReadonlyArray<Case> = [
  // journaled commands that cannot apply as they did when they were journaled
  {
    name: "a reserve above the balance",
    records: [commands(ensure("t", 100)), commands(reserve("t", 500))],
    sequence: 2n,
    command: 1,
    reason: "Insufficient"
  },
  {
    name: "a commit of a missing hold",
    records: [commands(ensure("t", 100)), commands(commit(7, 10))],
    sequence: 2n,
    command: 1,
    reason: "MissingReservation"
  },
  {
    name: "a negative ensure",
    records: [commands(ensure("t", 100)), commands(ensure("u", -5))],
    sequence: 2n,
    command: 1,
    reason: "negative amount -5"
  },
  {
    name: "an expire of a missing hold",
    records: [commands(ensure("t", 100)), commands(expire(3))],
    sequence: 2n,
    command: 1,
    reason: "MissingReservation"
  },
  {
    name: "an expire of a hold that never expires",
    records: [commands(ensure("t", 100), reserve("t", 10)), commands(expire(1))],
    sequence: 2n,
    command: 1,
    reason: "has no expiry"
  },
  {
    name: "an expire after another command in its entry (a hold released before it was due)",
    records: [
      commands(ensure("t", 100)),
      commands(reserve("t", 10, `,"ttl_ms":100000000000,"expires_at_ms":200000000000000`), expire(1))
    ],
    sequence: 2n,
    command: 2,
    reason: "expire of reservation 1 comes after another command in its entry"
  },
  {
    name: "a release of a missing hold",
    records: [commands(ensure("t", 100)), commands(release(1))],
    sequence: 2n,
    command: 1,
    reason: "MissingReservation"
  },
  {
    name: "a top-up of a missing tenant",
    records: [commands(ensure("t", 100)), commands(`{"kind":"top_up","tenant_id":"nobody","amount":5}`)],
    sequence: 2n,
    command: 1,
    reason: "MissingTenant"
  },
  {
    name: "an admit above the balance",
    records: [
      commands(ensure("t", 100)),
      commands(`{"kind":"admit","tenant_id":"t","amount":5000,"audited":null}`)
    ],
    sequence: 2n,
    command: 1,
    reason: "Insufficient"
  },
  {
    name: "a retry journaled as a new operation",
    records: [
      commands(ensure("t", 100), reserve("t", 10, `,"operation_id":"op"`)),
      commands(reserve("t", 10, `,"operation_id":"op"`))
    ],
    sequence: 2n,
    command: 1,
    reason: "operation id \"op\" was already applied"
  },
  {
    name: "a refused restore",
    records: [
      commands(ensure("t", 100)),
      commands(`{"kind":"restore","snapshot":{"version":1,"tenants":[],"active_reservations":3}}`)
    ],
    sequence: 2n,
    command: 1,
    reason: "cannot restore snapshot with 3 active reservations"
  },
  {
    name: "a bad command in the middle of a group",
    records: [commands(ensure("t", 100), reserve("t", 10), commit(9, 1), release(1))],
    sequence: 1n,
    command: 3,
    reason: "MissingReservation"
  },
  {
    name: "a bad command after a checkpoint",
    records: [
      commands(ensure("t", 100)),
      checkpoint({ tenants: [tenant("t", 100, 100, 0, 0)] }),
      commands(reserve("t", 500))
    ],
    sequence: 3n,
    command: 1,
    reason: "Insufficient"
  },
  // checkpoints that fail the restore checks or the id counter's consistency
  {
    name: "a checkpoint with reserved funds and no holds",
    records: [checkpoint({ tenants: [tenant("t", 100, 50, 50, 0)] })],
    sequence: 1n,
    reason: "tenant t has reserved_microcents=50 but its open holds sum to 0"
  },
  {
    name: "a checkpoint listing a tenant twice",
    records: [checkpoint({ tenants: [tenant("t", 100, 100, 0, 0), tenant("t", 100, 100, 0, 0)] })],
    sequence: 1n,
    reason: "duplicate tenant_id in checkpoint: t"
  },
  {
    name: "a checkpoint with a hold id at the next reservation id",
    records: [checkpoint({ tenants: [tenant("t", 100, 50, 50, 0)], holds: [hold(4, "t", 50)], next: 4 })],
    sequence: 1n,
    reason: "hold 4 is not below the next reservation id 4"
  },
  {
    name: "a checkpoint with a hold id above the next reservation id",
    records: [checkpoint({ tenants: [tenant("t", 100, 50, 50, 0)], holds: [hold(9, "t", 50)], next: 2 })],
    sequence: 1n,
    reason: "hold 9 is not below the next reservation id 2"
  },
  {
    name: "a checkpoint whose next reservation id is 0",
    records: [checkpoint({ tenants: [tenant("t", 100, 100, 0, 0)], next: 0 })],
    sequence: 1n,
    reason: "the next reservation id is 0 (ids start at 1)"
  },
  {
    name: "a checkpoint with a hold id 0",
    records: [checkpoint({ tenants: [tenant("t", 100, 50, 50, 0)], holds: [hold(0, "t", 50)], next: 2 })],
    sequence: 1n,
    reason: "hold 0"
  },
  {
    name: "a checkpoint with a negative field",
    records: [checkpoint({ tenants: [tenant("t", -5, -5, 0, 0)] })],
    sequence: 1n,
    reason: "tenant t has negative remaining_microcents: -5"
  },
  {
    name: "a checkpoint that fails conservation",
    records: [checkpoint({ tenants: [tenant("t", 100, 90, 0, 0)] })],
    sequence: 1n,
    reason: "conservation violated for tenant t: delta=-10"
  },
  {
    name: "a checkpoint whose hold names an unknown tenant",
    records: [checkpoint({ tenants: [tenant("t", 100, 100, 0, 0)], holds: [hold(1, "ghost", 50)], next: 2 })],
    sequence: 1n,
    reason: "hold 1 names tenant ghost, which the checkpoint does not list"
  },
  {
    name: "a checkpoint whose holds do not sum to the tenant's reserved",
    records: [checkpoint({ tenants: [tenant("t", 100, 50, 50, 0)], holds: [hold(1, "t", 40)], next: 2 })],
    sequence: 1n,
    reason: "tenant t has reserved_microcents=50 but its open holds sum to 40"
  },
  {
    name: "a checkpoint listing a hold twice",
    records: [
      checkpoint({ tenants: [tenant("t", 100, 50, 50, 0)], holds: [hold(1, "t", 25), hold(1, "t", 25)], next: 2 })
    ],
    sequence: 1n,
    reason: "duplicate reservation_id in checkpoint: 1"
  },
  {
    name: "a checkpoint with a hold of no amount",
    records: [checkpoint({ tenants: [tenant("t", 100, 100, 0, 0)], holds: [hold(1, "t", 0)], next: 2 })],
    sequence: 1n,
    reason: "hold 1 holds 0"
  },
  {
    name: "a checkpoint with a cap that is not positive",
    records: [checkpoint({ tenants: [tenant("t", 100, 100, 0, 0)], caps: [`{"tenant_id":"t","max":0}`] })],
    sequence: 1n,
    reason: "the exposure cap of t is 0"
  },
  {
    name: "a checkpoint listing a cap twice",
    records: [
      checkpoint({
        tenants: [tenant("t", 100, 100, 0, 0)],
        caps: [`{"tenant_id":"t","max":5}`, `{"tenant_id":"t","max":6}`]
      })
    ],
    sequence: 1n,
    reason: "duplicate cap in checkpoint: t"
  },
  // (a remembered refusal is consistent since issue 15: `refusals.test.ts`; one its command never returns is not)
  {
    name: "a checkpoint remembering a result its operation never returns",
    records: [
      checkpoint({
        tenants: [tenant("t", 100, 100, 0, 0)],
        operations: [operation("op", `{"_tag":"Overrun","remaining_microcents":0}`)]
      })
    ],
    sequence: 1n,
    reason: "operation id \"op\" remembers Overrun, not a result of a reserve"
  },
  {
    name: "a checkpoint remembering the Overflow of another kind of operation",
    records: [
      checkpoint({
        tenants: [tenant("t", 100, 100, 0, 0)],
        operations: [operation("op", `{"_tag":"Overflow","remaining_microcents":0}`)]
      })
    ],
    sequence: 1n,
    reason: "operation id \"op\" remembers Overflow, not a result of a reserve"
  },
  {
    name: "a checkpoint remembering an operation under the fingerprint of no retry-safe command",
    records: [
      checkpoint({
        tenants: [tenant("t", 100, 100, 0, 0)],
        operations: [
          `{"operation_id":"op","fingerprint":"EnsureTenant","result":{"_tag":"Insufficient","remaining_microcents":0,"required_microcents":10}}`
        ]
      })
    ],
    sequence: 1n,
    reason: "operation id \"op\" remembers the fingerprint of no retry-safe command"
  },
  // refusals remembered under an operation id (`refused` records, issue 15)
  {
    name: "a refused reserve that applies on replay",
    records: [
      commands(ensure("t", 100)),
      commands(refused(reserve("t", 50, `,"operation_id":"x"`), insufficient(0, 50)))
    ],
    sequence: 2n,
    command: 1,
    reason: "was journaled as Insufficient (remaining_microcents=0, required_microcents=50) but replays as Reserved"
  },
  {
    name: "a refused reserve whose refusal differs on replay",
    records: [
      commands(ensure("t", 100)),
      commands(refused(reserve("t", 500, `,"operation_id":"x"`), insufficient(99, 500)))
    ],
    sequence: 2n,
    command: 1,
    reason: "but replays as Insufficient (remaining_microcents=100, required_microcents=500)"
  },
  {
    name: "a refusal without an operation id",
    records: [commands(ensure("t", 100)), commands(refused(reserve("t", 500), insufficient(100, 500)))],
    sequence: 2n,
    command: 1,
    reason: "has no operation id"
  },
  {
    name: "a refused record holding a result that applied",
    records: [
      commands(ensure("t", 100)),
      commands(
        refused(
          reserve("t", 50, `,"operation_id":"x"`),
          `{"_tag":"Reserved","reservation_id":1,"remaining_microcents":50}`
        )
      )
    ],
    sequence: 2n,
    command: 1,
    reason: "a result that applied"
  },
  {
    name: "a refusal under an operation id still remembered",
    records: [
      commands(ensure("t", 100), reserve("t", 10, `,"operation_id":"x"`)),
      commands(refused(reserve("t", 10, `,"operation_id":"x"`), insufficient(90, 10)))
    ],
    sequence: 2n,
    command: 1,
    reason: "operation id \"x\" was already applied"
  },
  {
    name: "a checkpoint remembering a reservation id not yet issued",
    records: [
      checkpoint({
        tenants: [tenant("t", 100, 100, 0, 0)],
        operations: [operation("op", `{"_tag":"Reserved","reservation_id":7,"remaining_microcents":90}`)],
        next: 3
      })
    ],
    sequence: 1n,
    reason: "operation id \"op\" remembers reservation 7, not below the next reservation id 3"
  },
  {
    name: "a checkpoint listing an operation id twice",
    records: [
      checkpoint({
        tenants: [tenant("t", 100, 90, 10, 0)],
        holds: [hold(1, "t", 10)],
        operations: [
          operation("op", `{"_tag":"Reserved","reservation_id":1,"remaining_microcents":90}`),
          operation("op", `{"_tag":"Reserved","reservation_id":1,"remaining_microcents":90}`)
        ],
        next: 2
      })
    ],
    sequence: 1n,
    reason: "duplicate operation_id in checkpoint: \"op\""
  },
  // a remembered result its own arguments contradict (a hostile review: a retry of "reserve t 10"
  // was handed the victim's open hold of 1,000, and its commit spent it)
  {
    name: "a checkpoint remembering a reserve of one tenant as another tenant's open hold",
    records: [
      checkpoint({
        tenants: [tenant("t", 100, 100, 0, 0), tenant("victim", 1000, 0, 1000, 0)],
        holds: [hold(1, "victim", 1000)],
        operations: [operation("op", `{"_tag":"Reserved","reservation_id":1,"remaining_microcents":90}`)],
        next: 2
      })
    ],
    sequence: 1n,
    reason: "operation id \"op\" remembers reservation 1 for \"t\" of 10, an open hold of \"victim\" for 1000"
  },
  {
    name: "a checkpoint remembering a reserve as an open hold of another amount",
    records: [
      checkpoint({
        tenants: [tenant("t", 100, 80, 20, 0)],
        holds: [hold(1, "t", 20)],
        operations: [operation("op", `{"_tag":"Reserved","reservation_id":1,"remaining_microcents":90}`)],
        next: 2
      })
    ],
    sequence: 1n,
    reason: "remembers reservation 1 for \"t\" of 10, an open hold of \"t\" for 20"
  },
  // a remembered settlement the state contradicts (a helper's hostile review: a retry of a commit
  // was answered "Committed" while its hold stayed open, the money reserved)
  {
    name: "a checkpoint remembering a commit as Committed while its hold is still open",
    records: [
      checkpoint({
        tenants: [tenant("t", 100, 90, 10, 0)],
        holds: [hold(1, "t", 10)],
        operations: [
          operation("op", `{"_tag":"Committed","remaining_microcents":90,"actual_microcents":10}`, "commit 1 10")
        ],
        next: 2
      })
    ],
    sequence: 1n,
    reason: "operation id \"op\" remembers Committed for reservation 1, an open hold"
  },
  {
    name: "a checkpoint remembering a release of a reservation not yet issued",
    records: [
      checkpoint({
        tenants: [tenant("t", 100, 100, 0, 0)],
        operations: [
          operation("op", `{"_tag":"Released","remaining_microcents":100,"returned_microcents":10}`, "release 5")
        ],
        next: 2
      })
    ],
    sequence: 1n,
    reason: "remembers Released for reservation 5, not below the next reservation id 2"
  },
  {
    name: "a checkpoint remembering a commit as Committed of another actual",
    records: [
      checkpoint({
        tenants: [tenant("t", 100, 90, 0, 10)],
        operations: [
          operation("op", `{"_tag":"Committed","remaining_microcents":90,"actual_microcents":99}`, "commit 1 10")
        ],
        next: 2
      })
    ],
    sequence: 1n,
    reason: "remembers Committed of 99 for a commit of 10"
  },
  {
    name: "a checkpoint remembering an Insufficient its amount does not meet",
    records: [
      checkpoint({ tenants: [tenant("t", 100, 100, 0, 0)], operations: [operation("op", insufficient(100, 500))] })
    ],
    sequence: 1n,
    reason: "remembers Insufficient (remaining 100, required 500) for a hold of 10"
  },
  {
    name: "a checkpoint remembering an Insufficient with the amount available",
    records: [
      checkpoint({ tenants: [tenant("t", 100, 100, 0, 0)], operations: [operation("op", insufficient(50, 10))] })
    ],
    sequence: 1n,
    reason: "remembers Insufficient (remaining 50, required 10) for a hold of 10"
  },
  {
    name: "a checkpoint remembering an exposure refusal the amount stays within",
    records: [
      checkpoint({
        tenants: [tenant("t", 100, 100, 0, 0)],
        operations: [
          operation(
            "op",
            `{"_tag":"ExposureLimitExceeded","current_reserved_microcents":0,"max_reserved_microcents":100}`
          )
        ]
      })
    ],
    sequence: 1n,
    reason: "remembers ExposureLimitExceeded (current 0, max 100) for a hold of 10"
  },
  // arguments the ledger's operations refuse (`Arguments`): the writer never journals one
  {
    name: "an ensure of a tenant id beyond 1,024 UTF-8 bytes",
    records: [commands(ensure("t", 100)), commands(ensure("é".repeat(513), 100))],
    sequence: 2n,
    command: 1,
    reason: "has an argument the ledger refuses: invalid tenant"
  },
  {
    name: "a top-up under an empty operation id",
    records: [commands(ensure("t", 100), `{"kind":"top_up","tenant_id":"t","amount":5,"operation_id":""}`)],
    sequence: 1n,
    command: 2,
    reason: "has an argument the ledger refuses: invalid operationId \"\""
  },
  {
    name: "a reserve under an operation id beyond 256 bytes",
    records: [commands(ensure("t", 100)), commands(reserve("t", 10, `,"operation_id":"${"o".repeat(257)}"`))],
    sequence: 2n,
    command: 1,
    reason: "invalid operationId"
  },
  {
    name: "a reserve with a negative duration",
    records: [commands(ensure("t", 100)), commands(reserve("t", 10, `,"ttl_ms":-1,"expires_at_ms":5`))],
    sequence: 2n,
    command: 1,
    reason: "invalid expiresIn -1"
  },
  {
    name: "a reserve expiring before the epoch",
    records: [commands(ensure("t", 100)), commands(reserve("t", 10, `,"ttl_ms":1,"expires_at_ms":-5`))],
    sequence: 2n,
    command: 1,
    reason: "invalid expiresIn -5"
  },
  {
    name: "a reserve with a duration and no instant",
    records: [commands(ensure("t", 100)), commands(reserve("t", 10, `,"ttl_ms":1000`))],
    sequence: 2n,
    command: 1,
    reason: "ttl_ms needs its expires_at_ms"
  },
  {
    name: "an admit with an instant and no duration",
    records: [
      commands(ensure("t", 100)),
      commands(`{"kind":"admit","tenant_id":"t","amount":5,"expires_at_ms":1000,"audited":null}`)
    ],
    sequence: 2n,
    command: 1,
    reason: "expires_at_ms needs its ttl_ms"
  },
  {
    name: "a refused reserve under an empty operation id",
    records: [
      commands(ensure("t", 100)),
      commands(refused(reserve("t", 500, `,"operation_id":""`), insufficient(100, 500)))
    ],
    sequence: 2n,
    command: 1,
    reason: "refused reserve of 500 for tenant t has an argument the ledger refuses: invalid operationId"
  },
  {
    name: "an entry of no commands",
    records: [commands(ensure("t", 100)), commands()],
    sequence: 2n,
    reason: "the entry holds no command"
  },
  {
    name: "a checkpoint listing a tenant id beyond 1,024 bytes",
    records: [checkpoint({ tenants: [tenant("x".repeat(1_025), 100, 100, 0, 0)] })],
    sequence: 1n,
    reason: "is not a tenant id the ledger takes"
  },
  {
    name: "a checkpoint capping a tenant id beyond 1,024 bytes",
    records: [
      checkpoint({ tenants: [tenant("t", 100, 100, 0, 0)], caps: [`{"tenant_id":"${"x".repeat(1_025)}","max":5}`] })
    ],
    sequence: 1n,
    reason: "the exposure cap of tenant id \"xxxx"
  },
  {
    name: "a checkpoint remembering an empty operation id",
    records: [
      checkpoint({
        tenants: [tenant("t", 100, 100, 0, 0)],
        operations: [operation("", `{"_tag":"Insufficient","remaining_microcents":100,"required_microcents":500}`)]
      })
    ],
    sequence: 1n,
    reason: "operation id \"\" in checkpoint is not an operation id the ledger takes"
  },
  {
    name: "a checkpoint with a hold expiring before the epoch",
    records: [
      checkpoint({
        tenants: [tenant("t", 100, 90, 10, 0)],
        holds: [`{"reservation_id":1,"tenant_id":"t","amount":10,"expires_at_ms":-1}`],
        next: 2
      })
    ],
    sequence: 1n,
    reason: "hold 1 expires at -1"
  },
  {
    name: "an inconsistent checkpoint superseded by a later one",
    records: [
      checkpoint({ tenants: [tenant("t", 100, 50, 50, 0)] }),
      checkpoint({ tenants: [tenant("t", 100, 100, 0, 0)] })
    ],
    sequence: 1n,
    reason: "reserved_microcents=50"
  }
]

// ---------------------------------------------------------------------------------------------

const chains = [["keyed", { key }], ["unkeyed", {}]] as const

/** A journal of these records, appended through the WAL (so the chain is valid). */
const craft = (records: ReadonlyArray<string>, options: Wal.WalOptions) =>
  Effect.gen(function*() {
    const wal = yield* Wal.Wal
    for (const r of records) yield* wal.append(Either.getOrThrow(Json.parse(r)))
    const chunks = Chunk.toReadonlyArray(yield* Stream.runCollect(wal.bytes))
    return Uint8Array.from(Buffer.concat(chunks))
  }).pipe(Effect.provide(Wal.layerMemory(options)))

const recover = (bytes: Uint8Array, options: Wal.WalOptions, journal: Ledger.JournalOptions) =>
  Ledger.balances.pipe(
    Effect.provide(Ledger.layerJournal({ checkpointEvery: 0, ...journal })),
    Effect.provide(Wal.layerMemory(options, bytes))
  )

const audit = (bytes: Uint8Array, options: Wal.WalOptions) =>
  JournalAudit.audit([policy]).pipe(Effect.provide(Wal.layerMemory(options, bytes)))

const expectInconsistent = (error: unknown, c: Case, where: string) => {
  assert.instanceOf(error, LedgerJournalInconsistent, `${where}: ${String(error)}`)
  const e = error as LedgerJournalInconsistent
  assert.strictEqual(e.sequence, c.sequence, `${where}: the entry`)
  assert.strictEqual(e.command, c.command, `${where}: the command`)
  assert.include(e.reason, c.reason, where)
  assert.include(e.message, `journal entry ${c.sequence}`, where)
}

describe("recovery refuses an inconsistent journal with a valid chain", () => {
  for (const [chainName, options] of chains) {
    for (const c of cases) {
      it.effect(`${c.name} (${chainName})`, () =>
        Effect.gen(function*() {
          const bytes = yield* craft(c.records, options)
          const fromCheckpoint = yield* Effect.flip(recover(bytes, options, {}))
          expectInconsistent(fromCheckpoint, c, "recovery")
          const verified = yield* Effect.flip(recover(bytes, options, { verifyCheckpoints: true }))
          expectInconsistent(verified, c, "recovery with verifyCheckpoints")
          const audited = yield* Effect.flip(audit(bytes, options))
          expectInconsistent(audited, c, "journal audit")
        }))
    }
  }
})

describe("a remembered result is decoded by its schema, never taken as whatever object a checkpoint holds", () => {
  for (
    const [name, result] of [
      ["a reservation id that is a string", `{"_tag":"Reserved","reservation_id":"7","remaining_microcents":90}`],
      ["a field missing", `{"_tag":"Committed","remaining_microcents":90}`],
      ["a result no command returns", `{"_tag":"Granted","remaining_microcents":90}`],
      [
        "an amount beyond i64",
        `{"_tag":"ToppedUp","added_microcents":9223372036854775808,"new_initial_microcents":1,"remaining_microcents":1}`
      ]
    ] as const
  ) {
    it.effect(`a checkpoint remembering ${name} fails recovery and the audit closed`, () =>
      Effect.gen(function*() {
        const bytes = yield* craft([
          checkpoint({ tenants: [tenant("t", 100, 100, 0, 0)], operations: [operation("op", result)] })
        ], { key })
        const recovered = yield* Effect.flip(recover(bytes, { key }, {}))
        assert.instanceOf(recovered, LedgerRecoveryError, String(recovered))
        assert.include(recovered.message, "journal entry 1")
        // the checkpoint's own error, naming the remembered result's field
        assert.include(recovered.message, "checkpoint")
        assert.include(recovered.message, "result")
        const audited = yield* Effect.flip(audit(bytes, { key }))
        assert.include(String(audited), "not a ledger journal record")
        assert.include(String(audited), "result")
      }))
  }
})

describe("an admit holds its audited decision's cost (a hostile review: recovery took what the audit refuses)", () => {
  it.effect("an admit whose amount is not its audited decision's cost fails recovery (both modes) and the audit", () =>
    Effect.gen(function*() {
      // an honest admit, journaled by the ledger itself; then its hold rewritten, the chain resealed
      const honest = yield* Effect.gen(function*() {
        yield* Effect.gen(function*() {
          yield* Ledger.ensureTenant(TenantId.make("acme"), Microcents.make(100_000_000_000n))
          yield* Ledger.admit(policy, TenantId.make("acme"), input(1), { operationId: "adm" })
        }).pipe(Effect.provide(Ledger.layerJournal({ checkpointEvery: 0 })))
        return Uint8Array.from(Buffer.concat(Chunk.toReadonlyArray(yield* Stream.runCollect((yield* Wal.Wal).bytes))))
      }).pipe(Effect.provide(Wal.layerMemory({ key })))
      const records = new TextDecoder().decode(honest).trim().split("\n").map((line) =>
        Json.print((Either.getOrThrow(Json.parse(line)) as Map<string, Json.Json>).get("data") as Json.Json)
      )
      const admit = records[1] ?? ""
      const cost = /"estimated_cost_microunits":(\d+)/.exec(admit)?.[1] ?? ""
      const spelled = `"kind":"admit","tenant_id":"acme","amount":${cost}`
      assert.include(admit, spelled)
      // the honest journal recovers (the check takes what the writer writes)
      yield* recover(yield* craft(records, { key }), { key }, {})
      for (const amount of ["1", `${BigInt(cost) + 1n}`]) {
        const forged = admit.replace(spelled, `"kind":"admit","tenant_id":"acme","amount":${amount}`)
        const bytes = yield* craft([records[0] ?? "", forged], { key })
        for (const journal of [{}, { verifyCheckpoints: true }]) {
          const error = yield* Effect.flip(recover(bytes, { key }, journal))
          assert.instanceOf(error, LedgerJournalInconsistent, String(error))
          assert.strictEqual((error as LedgerJournalInconsistent).sequence, 2n)
          assert.include(
            error.message,
            `its decision's estimated_cost_microunits is ${cost}, the admit holds ${amount}`
          )
        }
        // the audit refuses it too (as inconsistent now, first)
        assert.isTrue(Either.isLeft(yield* Effect.either(audit(bytes, { key }))))
      }
    }))
})

describe("the error names the entry with a bounded excerpt", () => {
  it.effect("a 100,000-character tenant id is refused (no tenant id is that long) and not echoed whole", () =>
    Effect.gen(function*() {
      const long = "x".repeat(100_000)
      const bytes = yield* craft([checkpoint({ tenants: [tenant(long, 100, 100, 0, 0)] })], { key })
      const error = yield* Effect.flip(recover(bytes, { key }, {}))
      assert.instanceOf(error, LedgerJournalInconsistent)
      assert.include(error.message, "tenant id \"xxxx")
      assert.include(error.message, "(100000 characters)")
      assert.include(error.message, "is not a tenant id the ledger takes")
      assert.isBelow(error.message.length, 300)
    }))

  it.effect("a 1,000-character tenant id listed twice is not echoed whole", () =>
    Effect.gen(function*() {
      const t = tenant("x".repeat(1_000), 100, 100, 0, 0)
      const bytes = yield* craft([checkpoint({ tenants: [t, t] })], { key })
      const error = yield* Effect.flip(recover(bytes, { key }, {}))
      assert.instanceOf(error, LedgerJournalInconsistent)
      assert.include(error.message, "duplicate tenant_id in checkpoint: xxxx")
      assert.include(error.message, "(1000 characters)")
      assert.isBelow(error.message.length, 300)
    }))
})

const restored = Schema.decodeUnknownSync(Snapshot.Snapshot)(
  Either.getOrThrow(Json.parse(`{"version":40,"tenants":[${tenant("z", 500, 500, 0, 0)}],"active_reservations":0}`))
)

describe("the reservation id counter never wraps (a hostile review: a checkpoint at u64 max reused ids)", () => {
  it.effect("at u64 max a reserve is refused with Overflow, nothing changed, and the journal recovers", () =>
    Effect.gen(function*() {
      const max = (1n << 64n) - 1n
      const start = yield* craft([checkpoint({ tenants: [tenant("t", 100, 100, 0, 0)], next: max - 1n })], { key })
      const t = TenantId.make("t")
      const ten = Microcents.make(10n)
      const written = yield* Effect.gen(function*() {
        yield* Effect.gen(function*() {
          const last = yield* Ledger.reserve(t, ten)
          assert.deepStrictEqual(
            last,
            { _tag: "Reserved", reservation_id: max - 1n, remaining_microcents: 90n } as never
          )
          for (const options of [{}, { operationId: "late" }, { operationId: "late" }]) {
            const refused = yield* Ledger.reserve(t, ten, options)
            assert.deepStrictEqual(refused, { _tag: "Overflow", current_reserved_microcents: 10n } as never)
          }
          const now = yield* Ledger.balances
          assert.strictEqual(now.active_reservations, 1n)
          assert.deepStrictEqual(now.tenants, [{
            tenant_id: "t",
            initial_microcents: 100n,
            remaining_microcents: 90n,
            reserved_microcents: 10n,
            committed_microcents: 0n
          }] as never)
          const released = yield* Ledger.release(max - 1n as never)
          assert.strictEqual(released._tag, "Released")
          assert.strictEqual((yield* Ledger.reserve(t, ten))._tag, "Overflow")
        }).pipe(Effect.provide(Ledger.layerJournal({ checkpointEvery: 1 })))
        const chunks = Chunk.toReadonlyArray(yield* Stream.runCollect((yield* Wal.Wal).bytes))
        return Uint8Array.from(Buffer.concat(chunks))
      }).pipe(Effect.provide(Wal.layerMemory({ key }, start)))
      const text = new TextDecoder().decode(written)
      assert.include(text, `"next_reservation":${max}`)
      assert.notInclude(text, `"next_reservation":0`)
      // recovery from the last checkpoint (the writer's own, at u64 max) opens it as it was
      const a = yield* recover(written, { key }, {})
      assert.strictEqual(a.active_reservations, 0n)
      assert.strictEqual(a.tenants[0]?.remaining_microcents, 100n)
      // (the planted first checkpoint is no state a ledger reaches from genesis: refused by the
      // checks that trust no checkpoint)
      const planted = yield* Effect.flip(recover(written, { key }, { verifyCheckpoints: true }))
      assert.instanceOf(planted, LedgerJournalInconsistent)
      assert.strictEqual((planted as LedgerJournalInconsistent).sequence, 1n)
    }))
})

describe("a journal the ledger wrote passes every check", () => {
  it.effect("refusals remembered under ids for a hold of 0 or less (Insufficient, nothing remaining required) recover from the writer's checkpoint", () =>
    Effect.gen(function*() {
      const written = yield* Effect.gen(function*() {
        yield* Effect.gen(function*() {
          yield* Ledger.ensureTenant(TenantId.make("a \"quoted\" \\ é"), Microcents.make(100n))
          const ledger = yield* Ledger.Ledger
          for (const [id, amount] of [["zero", 0n], ["negative", -5n], ["above", 500n]] as const) {
            const refused = yield* ledger.apply({
              _tag: "Reserve",
              tenant: "a \"quoted\" \\ é",
              amount,
              operation_id: id
            } as L.Command)
            assert.strictEqual((refused as { readonly _tag: string })._tag, "Insufficient")
          }
          yield* Ledger.reserve(TenantId.make("a \"quoted\" \\ é"), Microcents.make(10n), { operationId: "held" })
        }).pipe(Effect.provide(Ledger.layerJournal({ checkpointEvery: 1 })))
        return Uint8Array.from(Buffer.concat(Chunk.toReadonlyArray(yield* Stream.runCollect((yield* Wal.Wal).bytes))))
      }).pipe(Effect.provide(Wal.layerMemory({ key })))
      assert.include(new TextDecoder().decode(written), "\"checkpoint\"")
      for (const journal of [{}, { verifyCheckpoints: true }]) {
        const state = yield* recover(written, { key }, journal)
        assert.strictEqual(state.tenants[0]?.reserved_microcents, 10n)
      }
      yield* audit(written, { key })
    }))

  it.effect("expiries, retries, restores, admits and checkpoints recover and audit in every mode", () =>
    Effect.gen(function*() {
      const wal = Wal.layerMemory({ key })
      const written = yield* Effect.gen(function*() {
        yield* Effect.gen(function*() {
          yield* Ledger.ensureTenant(TenantId.make("a"), Microcents.make(1_000_000n))
          yield* Ledger.ensureTenant(TenantId.make("a"), Microcents.make(5n)) // exists: a no-op (journaled by writers so far)
          // a negative ensure changes nothing, so it must not be journaled (replay refuses it);
          // sent as a raw command, whatever the API's own validation does with it
          const ledger = yield* Ledger.Ledger
          yield* Effect.ignore(ledger.apply({ _tag: "EnsureTenant", tenant: "n", amount: -5n } as L.Command))
          yield* Ledger.ensureTenant(TenantId.make("b"), Microcents.make(50_000n))
          yield* Ledger.setExposureCap(TenantId.make("a"), Microcents.make(900_000n))
          yield* Ledger.setExposureCap(TenantId.make("b"), Microcents.make(0n))
          const r1 = yield* Ledger.reserve(TenantId.make("a"), Microcents.make(1_000n), {
            operationId: "r1",
            expiresIn: "5 seconds"
          })
          yield* Ledger.reserve(TenantId.make("a"), Microcents.make(1_000n), {
            operationId: "r1",
            expiresIn: "5 seconds"
          }) // retry: not journaled
          const r2 = yield* Ledger.reserve(TenantId.make("a"), Microcents.make(2_000n), { operationId: "r2" })
          yield* Ledger.reserve(TenantId.make("b"), Microcents.make(999_999n)) // refused: not journaled
          yield* TestClock.adjust("6 seconds")
          yield* Ledger.sweepExpired // r1 expires
          if (r2._tag === "Reserved") {
            yield* Ledger.commit(r2.reservation_id, Microcents.make(2_500n), { operationId: "c2" })
          }
          yield* Ledger.topUp(TenantId.make("b"), Microcents.make(7n), { operationId: "t1" })
          yield* Ledger.admit(policy, TenantId.make("a"), input(1), { operationId: "adm" })
          yield* Ledger.proveConservation
          yield* Ledger.certify
          const r3 = yield* Ledger.reserve(TenantId.make("b"), Microcents.make(10n))
          if (r3._tag === "Reserved") yield* Ledger.release(r3.reservation_id)
          yield* Ledger.takeSnapshot
          yield* Ledger.restore(restored)
          yield* Ledger.reserve(TenantId.make("z"), Microcents.make(3n))
          assert.isAbove(Number(r1._tag === "Reserved" ? r1.reservation_id : 0n), 0)
        }).pipe(Effect.provide(Ledger.layerJournal({ checkpointEvery: 4 })))
        const chunks = Chunk.toReadonlyArray(yield* Stream.runCollect((yield* Wal.Wal).bytes))
        return Uint8Array.from(Buffer.concat(chunks))
      }).pipe(Effect.provide(wal))
      const text = new TextDecoder().decode(written)
      assert.include(text, `"kind":"expire"`)
      assert.include(text, `"checkpoint"`)
      assert.notInclude(text, `"tenant_id":"n"`)
      const a = yield* recover(written, { key }, {})
      const b = yield* recover(written, { key }, { verifyCheckpoints: true })
      assert.deepStrictEqual(a, b)
      const verdicts = yield* audit(written, { key })
      assert.strictEqual(verdicts.length, 1)
    }))
})

// ---------------------------------------------------------------------------------------------
// No false alarm: whatever a ledger does, the journal it wrote passes every check

type Op =
  | { readonly op: "ensure"; readonly t: string; readonly a: bigint }
  | { readonly op: "topUp"; readonly t: string; readonly a: bigint; readonly id: string | undefined }
  | { readonly op: "cap"; readonly t: string; readonly a: bigint }
  | {
    readonly op: "reserve"
    readonly t: string
    readonly a: bigint
    readonly id: string | undefined
    readonly ttl: number | undefined
  }
  | { readonly op: "commit"; readonly r: bigint; readonly a: bigint; readonly id: string | undefined }
  | { readonly op: "release"; readonly r: bigint; readonly id: string | undefined }
  | { readonly op: "admit"; readonly t: string; readonly n: number; readonly id: string | undefined }
  | { readonly op: "snapshot" | "prove" | "certify" | "restoreLast" }
  | { readonly op: "wait"; readonly ms: number }

const tenantArb = fc.constantFrom("a", "b", "c")
const amountArb = fc.oneof(
  { weight: 5, arbitrary: fc.bigInt({ min: -2n, max: 400_000n }) },
  { weight: 1, arbitrary: fc.constantFrom(0n, (1n << 63n) - 1n, 1n << 53n) }
)
const idArb = fc.option(fc.constantFrom("x", "y", "z"), { nil: undefined })
const ridArb = fc.bigInt({ min: 0n, max: 10n })
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ op: fc.constant("ensure" as const), t: tenantArb, a: amountArb }) },
  fc.record({ op: fc.constant("topUp" as const), t: tenantArb, a: amountArb, id: idArb }),
  fc.record({ op: fc.constant("cap" as const), t: tenantArb, a: amountArb }),
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant("reserve" as const),
      t: tenantArb,
      a: amountArb,
      id: idArb,
      ttl: fc.option(fc.integer({ min: 0, max: 3_000 }), { nil: undefined })
    })
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("commit" as const), r: ridArb, a: amountArb, id: idArb }) },
  fc.record({ op: fc.constant("release" as const), r: ridArb, id: idArb }),
  fc.record({ op: fc.constant("admit" as const), t: tenantArb, n: fc.integer({ min: 1, max: 5 }), id: idArb }),
  fc.record({ op: fc.constantFrom("snapshot" as const, "prove" as const, "certify" as const, "restoreLast" as const) }),
  fc.record({ op: fc.constant("wait" as const), ms: fc.integer({ min: 0, max: 2_000 }) })
)

/** Commands go to the service raw (as a journal would carry them), whatever the API validates. */
const raw = (command: Record<string, unknown>) =>
  Effect.flatMap(Ledger.Ledger, (l) => l.apply(command as unknown as L.Command))
const withId = (id: string | undefined) => id === undefined ? {} : { operation_id: id }

const runOp = (
  o: Op,
  last: { snapshot: Snapshot.Snapshot | undefined }
): Effect.Effect<unknown, unknown, Ledger.Ledger> => {
  switch (o.op) {
    case "ensure":
      return raw({ _tag: "EnsureTenant", tenant: o.t, amount: o.a })
    case "topUp":
      return raw({ _tag: "TopUp", tenant: o.t, amount: o.a, ...withId(o.id) })
    case "cap":
      return raw({ _tag: "SetExposureCap", tenant: o.t, max: o.a })
    case "reserve":
      return Effect.flatMap(Clock.currentTimeMillis, (now) =>
        raw({
          _tag: "Reserve",
          tenant: o.t,
          amount: o.a,
          ...withId(o.id),
          ...(o.ttl === undefined ? {} : { ttl_ms: BigInt(o.ttl), expires_at_ms: BigInt(now + o.ttl) })
        }))
    case "commit":
      return raw({ _tag: "Commit", reservation: o.r, actual: o.a, ...withId(o.id) })
    case "release":
      return raw({ _tag: "Release", reservation: o.r, ...withId(o.id) })
    case "admit":
      return Ledger.admit(policy, TenantId.make(o.t), input(o.n), o.id === undefined ? {} : { operationId: o.id })
    case "snapshot":
      return Effect.map(Ledger.takeSnapshot, (s) => {
        last.snapshot = s
      })
    case "prove":
      return Ledger.proveConservation
    case "certify":
      return Ledger.certify
    case "restoreLast":
      return last.snapshot === undefined ? Effect.void : Ledger.restore(last.snapshot)
    case "wait":
      return Effect.zipRight(TestClock.adjust(o.ms), Ledger.sweepExpired)
  }
}

/** The whole state as a checkpoint's text (balances, holds, caps, operations, counters). */
const stateText = Effect.flatMap(
  Ledger.Ledger,
  (l) => inspect(l, (s) => Json.print(Either.getOrThrow(Journal.encodeCheckpoint(s))))
)

describe("no false alarm", () => {
  it.effect.prop(
    "a journal written by any sequence of operations recovers (from checkpoints and from genesis) and audits",
    { ops: fc.array(opArb, { maxLength: 40 }), every: fc.integer({ min: 0, max: 6 }) },
    ({ every, ops }) =>
      Effect.gen(function*() {
        const { bytes, live } = yield* Effect.gen(function*() {
          const live = yield* Effect.gen(function*() {
            const last = { snapshot: undefined as Snapshot.Snapshot | undefined }
            for (const o of ops) yield* Effect.ignore(runOp(o, last))
            return yield* stateText
          }).pipe(Effect.provide(Ledger.layerJournal({ checkpointEvery: every })))
          const chunks = Chunk.toReadonlyArray(yield* Stream.runCollect((yield* Wal.Wal).bytes))
          return { bytes: Uint8Array.from(Buffer.concat(chunks)), live }
        }).pipe(Effect.provide(Wal.layerMemory({ key })))
        for (const verifyCheckpoints of [false, true]) {
          const recovered = yield* stateText.pipe(
            Effect.provide(Ledger.layerJournal({ checkpointEvery: 0, verifyCheckpoints })),
            Effect.provide(Wal.layerMemory({ key }, bytes))
          )
          assert.strictEqual(recovered, live, `verifyCheckpoints: ${verifyCheckpoints}`)
        }
        yield* audit(bytes, { key })
      }),
    { fastCheck: { numRuns: fc.readConfigureGlobal().numRuns ?? 40 } }
  )
})
