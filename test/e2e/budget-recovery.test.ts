/**
 * Recovery through the real CLI (issue 12):
 * - item 3: a journal whose chain verifies (keyed or not) but whose content is inconsistent is
 *   refused by `budget status` / `prove` / `certify`, by a writing command, and by the journal
 *   audit (`wal replay --journal`): exit 1, the message naming the entry;
 * - item 11: `budget status` / `prove` / `certify` work on a journal that another process holds
 *   as its writer (no `WalLocked`), even while its last line is half written, and change neither
 *   its bytes nor its mtime.
 */
import { Microcents, TenantId } from "@calybris/budget/Arguments"
import * as Ledger from "@calybris/budget/Ledger"
import * as Json from "@calybris/core/Json"
import * as Wal from "@calybris/wal/Wal"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as fs from "node:fs"
import * as path from "node:path"
import { calybris, mapLimit, tempDir, write } from "./support/cli.js"
import { policyText } from "./support/fixtures.js"

const dir = tempDir("budget-recovery")
const policyFile = write(dir, "policy.json", policyText)
const keyHex = "3c".repeat(16) + "c3".repeat(16)
const key = Uint8Array.from(Buffer.from(keyHex, "hex"))
const env = { CALYBRIS_E2E_JOURNAL_KEY: `hex:${keyHex}` }

const keyed = ["--key-env", "CALYBRIS_E2E_JOURNAL_KEY"] as const
const budget = (journal: string, args: ReadonlyArray<string>, chain: ReadonlyArray<string> = keyed) =>
  calybris(["budget", ...args, "--journal", journal, ...chain], { env })

// ---------------------------------------------------------------------------------------------
// item 3: inconsistent journals with a valid chain

const commands = (...list: ReadonlyArray<string>) => `{"v":1,"commands":[${list.join(",")}]}`
const ensure = (amount: number) => `{"kind":"ensure_tenant","tenant_id":"t","amount":${amount}}`
const tenant = (remaining: number, reserved: number) =>
  `{"tenant_id":"t","initial_microcents":100,"remaining_microcents":${remaining},"reserved_microcents":${reserved},"committed_microcents":0}`
const checkpoint = (tenants: string, holds: string, next: number | bigint) =>
  `{"v":1,"checkpoint":{"tenants":[${tenants}],"holds":[${holds}],"caps":[],"operations":[],"next_reservation":${next},"snapshot_version":0,"baseline":0}}`

const cases = [
  {
    name: "a reserve above the balance",
    records: [commands(ensure(100)), commands(`{"kind":"reserve","tenant_id":"t","amount":500}`)],
    entry: "entry 2 (command 1)",
    reason: "reserve of 500 for tenant t was journaled but does not apply: Insufficient"
  },
  {
    name: "a commit of a missing hold",
    records: [commands(ensure(100)), commands(`{"kind":"commit","reservation_id":7,"actual":10}`)],
    entry: "entry 2 (command 1)",
    reason: "commit of reservation 7 (actual 10) was journaled but does not apply: MissingReservation"
  },
  {
    name: "a negative ensure",
    records: [commands(ensure(100), ensure(-5))],
    entry: "entry 1 (command 2)",
    reason: "with a negative amount -5"
  },
  {
    name: "an expire of a missing hold",
    records: [commands(ensure(100)), commands(`{"kind":"expire","reservation_id":3}`)],
    entry: "entry 2 (command 1)",
    reason: "expire of reservation 3 was journaled but does not apply: MissingReservation"
  },
  {
    name: "an expire after another command in its entry",
    records: [
      commands(
        ensure(100),
        `{"kind":"reserve","tenant_id":"t","amount":10,"ttl_ms":100000000000,"expires_at_ms":200000000000000}`,
        `{"kind":"expire","reservation_id":1}`
      )
    ],
    entry: "entry 1 (command 3)",
    reason: "expire of reservation 1 comes after another command in its entry"
  },
  {
    name: "a checkpoint with reserved funds and no holds",
    records: [checkpoint(tenant(50, 50), "", 1)],
    entry: "entry 1 is inconsistent",
    reason: "tenant t has reserved_microcents=50 but its open holds sum to 0"
  },
  {
    name: "a checkpoint listing a tenant twice",
    records: [checkpoint(`${tenant(100, 0)},${tenant(100, 0)}`, "", 1)],
    entry: "entry 1 is inconsistent",
    reason: "duplicate tenant_id in checkpoint: t"
  },
  {
    name: "a checkpoint with a hold id at the next reservation id",
    records: [checkpoint(tenant(50, 50), `{"reservation_id":2,"tenant_id":"t","amount":50}`, 2)],
    entry: "entry 1 is inconsistent",
    reason: "hold 2 is not below the next reservation id 2"
  },
  {
    name: "a checkpoint whose next reservation id is 0",
    records: [checkpoint(tenant(100, 0), "", 0)],
    entry: "entry 1 is inconsistent",
    reason: "the next reservation id is 0 (ids start at 1)"
  },
  // arguments the ledger refuses before anything changes: its writer never journals one
  {
    name: "a top-up under an empty operation id",
    records: [commands(ensure(100), `{"kind":"top_up","tenant_id":"t","amount":5,"operation_id":""}`)],
    entry: "entry 1 (command 2)",
    reason: "top_up of 5 for tenant t has an argument the ledger refuses: invalid operationId \"\""
  },
  {
    name: "a reserve with a duration and no instant",
    records: [commands(ensure(100)), commands(`{"kind":"reserve","tenant_id":"t","amount":5,"ttl_ms":60000}`)],
    entry: "entry 2 (command 1)",
    reason:
      "reserve of 5 for tenant t has an argument the ledger refuses: invalid expiresIn 60000: ttl_ms needs its expires_at_ms"
  },
  {
    name: "an entry of no commands",
    records: [commands(ensure(100)), commands()],
    entry: "entry 2 is inconsistent",
    reason: "the entry holds no command"
  }
] as const

/** A journal file of these records, appended through the WAL (a valid chain). */
const craft = (name: string, records: ReadonlyArray<string>, walKey: Uint8Array | undefined) =>
  Effect.runPromise(
    Effect.gen(function*() {
      const wal = yield* Wal.Wal
      for (const r of records) yield* wal.append(Either.getOrThrow(Json.parse(r)))
      const bytes = Buffer.concat(Chunk.toReadonlyArray(yield* Stream.runCollect(wal.bytes)))
      return write(dir, name, bytes)
    }).pipe(Effect.provide(Wal.layerMemory(walKey === undefined ? {} : { key: walKey })))
  )

describe("budget: an inconsistent journal with a valid chain is refused", () => {
  it("status, prove, certify, reserve and the journal audit exit 1 naming the entry (keyed and unkeyed)", async () => {
    const runs: Array<
      { readonly what: string; readonly args: ReadonlyArray<string>; readonly c: typeof cases[number] }
    > = []
    for (const [i, c] of cases.entries()) {
      const keyedJournal = await craft(`keyed-${i}.jsonl`, c.records, key)
      const unkeyedJournal = await craft(`unkeyed-${i}.jsonl`, c.records, undefined)
      for (const command of [["status"], ["prove"], ["certify"], ["reserve", "--tenant", "t", "--amount", "1"]]) {
        runs.push({
          what: `${c.name}: budget ${command[0]} (keyed)`,
          args: ["budget", ...command, "--journal", keyedJournal, ...keyed],
          c
        })
      }
      runs.push({
        what: `${c.name}: budget prove (unkeyed)`,
        args: ["budget", "prove", "--journal", unkeyedJournal],
        c
      })
      runs.push({
        what: `${c.name}: wal replay --journal (keyed)`,
        args: ["wal", "replay", keyedJournal, "--journal", "--policy", policyFile, ...keyed],
        c
      })
      runs.push({
        what: `${c.name}: wal replay --journal (unkeyed)`,
        args: ["wal", "replay", unkeyedJournal, "--journal", "--policy", policyFile],
        c
      })
    }
    const results = await mapLimit(runs, 4, (run) => calybris(run.args, { env }))
    results.forEach((r, i) => {
      const run = runs[i]
      if (run === undefined) return
      assert.strictEqual(r.code, 1, `${run.what}: ${r.stdout}${r.stderr}`)
      assert.strictEqual(r.stdout, "", run.what)
      assert.include(r.stderr, `LedgerJournalInconsistent: ledger journal ${run.c.entry}`, run.what)
      assert.include(r.stderr, run.c.reason, run.what)
    })
  })
})

describe("budget: the reservation id counter never wraps (a hostile review)", () => {
  it("a checkpoint two ids below u64 max: one more reserve, then each is refused, and the journal still opens", async () => {
    const max = (1n << 64n) - 1n
    const journal = await craft("counter-end.jsonl", [checkpoint(tenant(100, 0), "", max - 1n)], key)
    const reserve = ["reserve", "--tenant", "t", "--amount", "10"]
    const last = await budget(journal, reserve)
    assert.strictEqual(last.code, 0, last.stderr)
    assert.include(last.stdout, "18,446,744,073,709,551,614")
    for (let i = 0; i < 2; i++) {
      const refused = await budget(journal, [...reserve, "--json"])
      assert.strictEqual(
        refused.stdout,
        `{"kind":"Overflow","current_reserved_microcents":10,"reservation_id":null}\n`,
        refused.stderr
      )
    }
    const status = await budget(journal, ["status", "t", "--json"])
    assert.strictEqual(status.code, 0, status.stderr)
    assert.include(status.stdout, `"reserved_microcents":10`)
    assert.include(status.stdout, `"remaining_microcents":90`)
    const prove = await budget(journal, ["prove"])
    assert.strictEqual(prove.code, 0, prove.stderr)
    assert.include(prove.stdout, "balanced")
  })
})

describe("budget: a journal opened once (issue 13) fails as verifying it first did", () => {
  it("a foreign record exits 1 as not a ledger record; a broken chain after it wins with WalChainBroken", async () => {
    const records = [
      commands(ensure(100)),
      `{"app":"a record the ledger did not write"}`,
      commands(`{"kind":"reserve","tenant_id":"t","amount":5}`),
      commands(`{"kind":"reserve","tenant_id":"t","amount":7}`)
    ]
    const foreign = await craft("foreign.jsonl", records, key)
    const bytes = fs.readFileSync(foreign, "utf8")
    // the last entry's amount altered: its MAC no longer matches (line 4)
    const brokenText = bytes.replace(`"amount":7}`, `"amount":8}`)
    assert.notStrictEqual(brokenText, bytes)
    const broken = write(dir, "foreign-broken.jsonl", brokenText)
    const reserve = ["reserve", "--tenant", "t", "--amount", "1"]
    const [a, b, c, d] = await Promise.all([
      budget(foreign, reserve),
      budget(broken, reserve),
      calybris(["wal", "replay", foreign, "--journal", "--policy", policyFile, ...keyed], { env }),
      calybris(["wal", "replay", broken, "--journal", "--policy", policyFile, ...keyed], { env })
    ])
    assert.strictEqual(a.code, 1, a.stderr)
    assert.include(a.stderr, "journal entry 2 is not a ledger record")
    assert.strictEqual(b.code, 1, b.stderr)
    assert.include(b.stderr, "WalChainBroken: WAL chain broken at sequence 4")
    assert.strictEqual(c.code, 1, c.stderr)
    assert.include(c.stderr, "not a ledger journal record")
    assert.strictEqual(d.code, 1, d.stderr)
    assert.include(d.stderr, "WalChainBroken: WAL chain broken at sequence 4")
    // nothing was written to either journal
    assert.strictEqual(fs.readFileSync(foreign, "utf8"), bytes)
    assert.strictEqual(fs.readFileSync(broken, "utf8"), brokenText)
  })
})

// ---------------------------------------------------------------------------------------------
// item 11: read-only commands on a journal another process writes

const fileState = (file: string) => {
  const info = fs.statSync(file)
  return { bytes: fs.readFileSync(file).toString("hex"), mtimeMs: info.mtimeMs, size: info.size }
}

describe("budget: status, prove and certify read a journal another process is writing", () => {
  it("succeed without WalLocked and leave the journal's bytes and mtime unchanged, also mid-write", async () => {
    const journal = path.join(dir, "live.jsonl")
    assert.strictEqual((await budget(journal, ["init"])).code, 0)
    assert.strictEqual((await budget(journal, ["ensure", "--tenant", "acme", "--amount", "1000000"])).code, 0)
    assert.strictEqual((await budget(journal, ["reserve", "--tenant", "acme", "--amount", "2500"])).code, 0)
    // this process becomes the journal's writer (the lock is held until the scope closes)
    const scope = await Effect.runPromise(Scope.make())
    try {
      const writer = await Effect.runPromise(
        Layer.buildWithScope(
          Ledger.layerJournal().pipe(Layer.provideMerge(Wal.layerFile(journal, { key }))),
          scope
        ).pipe(Effect.provide(NodeContext.layer))
      )
      const ledger = (effect: Effect.Effect<unknown, unknown, Ledger.Ledger>) =>
        Effect.runPromise(Effect.provide(effect, writer))
      await ledger(Ledger.reserve(TenantId.make("acme"), Microcents.make(7_000n), { expiresIn: "1 hour" }))
      await ledger(Ledger.ensureTenant(TenantId.make("beta"), Microcents.make(5n)))

      // a writing command is still refused while the writer holds the journal
      const locked = await budget(journal, ["reserve", "--tenant", "acme", "--amount", "1"])
      assert.strictEqual(locked.code, 1, locked.stderr)
      assert.include(locked.stderr, "WalLocked")

      const readAll = async () => {
        const before = fileState(journal)
        const [status, prove, certify, one] = await Promise.all([
          budget(journal, ["status", "--json"]),
          budget(journal, ["prove", "--json"]),
          budget(journal, ["certify"]),
          budget(journal, ["status", "acme"])
        ])
        for (const r of [status, prove, certify, one]) {
          assert.strictEqual(r.code, 0, r.stderr)
          assert.notInclude(r.stderr, "WalLocked")
        }
        assert.deepStrictEqual(fileState(journal), before, "the journal's bytes and mtime are unchanged")
        return { status, prove, certify, one }
      }

      const clean = await readAll()
      assert.include(clean.status.stdout, `"tenant_id":"beta"`)
      assert.include(clean.status.stdout, `"active_reservations":2`)
      assert.include(clean.prove.stdout, `"tenant_count":2`)
      assert.match(clean.certify.stdout, /^balanced: 2 tenants, 2 open reservations,/)
      assert.include(clean.one.stdout, "tenant acme: initial 1,000,000")
      assert.strictEqual(clean.status.stderr, "")

      // the writer's next line, half written: left out, with a note
      const complete = fs.statSync(journal).size
      const half = `{"sequence":6,"previous_hash":"`
      fs.appendFileSync(journal, half)
      const torn = await readAll()
      assert.strictEqual(torn.status.stdout, clean.status.stdout)
      assert.include(
        torn.one.stderr,
        `note: the last line of ${journal} (${half.length} bytes at offset ${complete}) is incomplete`
      )
      assert.include(torn.one.stderr, "this reads the 5 entries before it")
      // with --json too: stdout the same JSON, the note on stderr (it was silent: a helper's hostile review)
      for (const [name, r] of [["status --json", torn.status], ["prove --json", torn.prove]] as const) {
        assert.include(r.stderr, `note: the last line of ${journal} (${half.length} bytes at offset ${complete})`, name)
      }
      assert.strictEqual(torn.prove.stdout, clean.prove.stdout)
    } finally {
      await Effect.runPromise(Scope.close(scope, Exit.void))
    }
  })

  it("succeed while the writer keeps appending", async () => {
    const journal = path.join(dir, "busy.jsonl")
    assert.strictEqual((await budget(journal, ["init"])).code, 0)
    const scope = await Effect.runPromise(Scope.make())
    try {
      const writer = await Effect.runPromise(
        Layer.buildWithScope(
          Ledger.layerJournal({ checkpointEvery: 50 }).pipe(
            Layer.provideMerge(Wal.layerFile(journal, { key, durability: "batch" }))
          ),
          scope
        ).pipe(Effect.provide(NodeContext.layer))
      )
      let stop = false
      let written = 0
      const appending = Effect.runPromise(
        Effect.gen(function*() {
          yield* Ledger.ensureTenant(TenantId.make("busy"), Microcents.make(1_000_000_000n))
          while (!stop) {
            const r = yield* Ledger.reserve(TenantId.make("busy"), Microcents.make(1_000n))
            if (r._tag === "Reserved") yield* Ledger.commit(r.reservation_id, Microcents.make(900n))
            written++
            yield* Effect.sleep("1 millis")
          }
        }).pipe(Effect.provide(writer))
      )
      const reads = await mapLimit(
        [["status", "--json"], ["prove", "--json"], ["certify"], ["status", "busy"], ["prove"], ["status"]],
        3,
        (args) => budget(journal, args)
      )
      stop = true
      await appending
      assert.isAbove(written, 0)
      for (const r of reads) {
        assert.strictEqual(r.code, 0, r.stderr)
        assert.notInclude(r.stderr, "WalLocked")
      }
    } finally {
      await Effect.runPromise(Scope.close(scope, Exit.void))
    }
  })
})

// ---------------------------------------------------------------------------------------------
// issue 13: the retry window is the journal's, across processes

describe("budget: the operation window of a journal holds in every CLI process", () => {
  it("a journal opened once with operationWindow 2: the CLI forgets the third-newest id, remembers the two newest", async () => {
    const journal = path.join(dir, "window.jsonl")
    await Effect.runPromise(
      Ledger.ensureTenant(TenantId.make("t"), Microcents.make(1_000n)).pipe(
        Effect.provide(Ledger.layerJournal({ operationWindow: 2 })),
        Effect.provide(Wal.layerFile(journal, { key })),
        Effect.provide(NodeContext.layer)
      )
    )
    const reserve = async (id: string) => {
      const r = await budget(journal, ["reserve", "--tenant", "t", "--amount", "10", "--id", id, "--json"])
      assert.strictEqual(r.code, 0, r.stderr)
      return r.stdout
    }
    const a = await reserve("a")
    await reserve("b")
    const c = await reserve("c")
    assert.include(a, `"reservation_id":1`)
    // c is in the window: its retry returns the original
    assert.strictEqual(await reserve("c"), c)
    // a left it (two later operations with ids): applied as new
    assert.include(await reserve("a"), `"reservation_id":4`)
    const status = await budget(journal, ["status", "--json"])
    assert.strictEqual(status.code, 0, status.stderr)
    assert.include(status.stdout, `"reserved_microcents":40`)
    // the journal audit replays it from genesis under the same window
    const audit = await calybris(["wal", "replay", "--journal", journal, "--policy", policyFile, ...keyed], { env })
    assert.strictEqual(audit.code, 0, audit.stderr)
  })
})
