/**
 * The durable ledger's crash test: a child applies a random command sequence with durability
 * "always" and is SIGKILLed at random moments. After each kill we recover the journal and
 * check: the state equals the acknowledged commands applied in order (plus, possibly, the one
 * in flight, which may have reached the disk before its acknowledgement), conservation holds,
 * nothing acknowledged is lost; then the next round RETRIES from the first unacknowledged
 * command with the same operation ids, and at the end every command has applied exactly once.
 *
 * The sequence includes admits (decide-and-hold, with operation ids). Each round's child first
 * replays retries of every admit acknowledged before: each must return the original decision and
 * reservation, and the same id with another input must be an IdempotencyConflict — after a kill,
 * from the replayed journal or a checkpoint (see ledger-child.ts); the state comparisons then
 * show that no retry applied anything.
 */
import * as Journal from "@calybris/budget/Journal"
import * as Ledger from "@calybris/budget/Ledger"
import * as L from "@calybris/budget/LedgerState"
import * as LedgerView from "@calybris/budget/LedgerView"
import * as Snapshot from "@calybris/budget/Snapshot"
import * as Digest from "@calybris/core/Digest"
import * as Json from "@calybris/core/Json"
import * as Kernel from "@calybris/core/Kernel"
import * as Audited from "@calybris/wal/Audited"
import * as Wal from "@calybris/wal/Wal"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { input, policy } from "./admit-fixtures.js"
import { prng, runAndKill } from "./crash.js"

const key = new Uint8Array(32).fill(5)
const ROUNDS = Number(process.env["CRASH_ROUNDS"] ?? "6")
const encode = Schema.encodeSync(Journal.JournalCommand)

/** Random commands, generated against the pure state machine so ids refer to real holds. */
const generate = (count: number, seed: number): Array<Journal.Journaled> => {
  const random = prng(seed)
  const model = new L.LedgerState()
  const out: Array<Journal.Journaled> = []
  const tenants = ["a", "b", "c"]
  const open: Array<bigint> = []
  const push = (c: L.Command, audited?: Json.Json) => {
    const r = L.step(model, c)
    out.push({ command: c, audited })
    if (typeof r === "object" && r !== null && "_tag" in r && r._tag === "Reserved") open.push(r.reservation_id)
  }
  /** an admit as `Ledger.admit` journals it: the decision's cost, its binding and its audited record */
  const admit = (tenant: string, sequence: bigint, tokens: number, operation_id: string) => {
    const request = input(sequence, tokens)
    const decision = Kernel.prescribe(policy, request)
    const metadata = `request ${sequence}`
    const audited = Either.getOrThrow(Audited.record(policy, request, decision, metadata))
    const binding = L.admitBinding(Digest.policyDigest(policy), Digest.inputDigest(request), metadata)
    push(
      {
        _tag: "Admit",
        tenant,
        amount: decision.estimated_cost_microunits as bigint,
        operation_id,
        binding
      } as L.Command,
      audited
    )
  }
  for (const t of tenants) push({ _tag: "EnsureTenant", tenant: t, amount: 1_000_000n } as L.Command)
  push({ _tag: "SetExposureCap", tenant: "c", max: 50_000n } as L.Command)
  for (let i = 0; out.length < count; i++) {
    const op = `op-${i}`
    const pick = random(10)
    const tenant = tenants[random(3)] ?? "a"
    if (pick < 2) {
      admit(tenant, BigInt(i), 500 + random(4_000), op)
    } else if (pick < 4 || open.length === 0) {
      push({ _tag: "Reserve", tenant, amount: BigInt(1 + random(20_000)), operation_id: op } as L.Command)
    } else if (pick < 7) {
      const id = open.splice(random(open.length), 1)[0] ?? 0n
      push({ _tag: "Commit", reservation: id, actual: BigInt(random(25_000)), operation_id: op } as L.Command)
    } else if (pick < 9) {
      const id = open.splice(random(open.length), 1)[0] ?? 0n
      push({ _tag: "Release", reservation: id, operation_id: op } as L.Command)
    } else {
      push({ _tag: "TopUp", tenant, amount: BigInt(1 + random(5_000)), operation_id: op } as L.Command)
    }
  }
  return out
}

const modelAfter = (commands: ReadonlyArray<Journal.Journaled>, n: number): string => {
  const s = new L.LedgerState()
  for (const c of commands.slice(0, n)) L.step(s, c.command)
  return stateText(s)
}

const stateText = (s: L.LedgerState): string =>
  Json.print(Schema.encodeSync(Snapshot.Snapshot)(L.balances(s, 0n))) + ` next=${s.nextReservation}`

const recovered = (file: string) =>
  Effect.gen(function*() {
    yield* Wal.repair(file, { key })
    yield* Ledger.proveConservation.pipe(
      Effect.provide(Ledger.layerJournalFile(file, { key, durability: "never", checkpointEvery: 25 }))
    )
    // the whole state the journal recovers to (the same recovery, read-only, once the writer closed)
    return stateText((yield* LedgerView.recoverFile(file, { key })).state)
  }).pipe(Effect.provide(NodeContext.layer))

describe("durable ledger crash safety (SIGKILL)", () => {
  it("state = acknowledged commands, nothing lost, nothing applied twice", { timeout: 300_000 }, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "calybris-ledger-crash-"))
    const file = path.join(dir, "journal.jsonl")
    const commandsFile = path.join(dir, "commands.jsonl")
    const reportFile = path.join(dir, "retries.txt")
    const commands = generate(400, 3)
    const admits = commands.filter((c) => c.command._tag === "Admit").length
    assert.isAbove(admits, 40, "the sequence admits")
    fs.writeFileSync(
      commandsFile,
      commands.map((c) => Json.print(encode(Journal.journalCommand(c)))).join("\n") + "\n"
    )
    const random = prng(99)
    let next = 0
    try {
      for (let round = 0; round < ROUNDS && next < commands.length; round++) {
        const killed = await runAndKill(
          "test/crash/ledger-child.ts",
          [file, commandsFile, String(next), reportFile],
          20 + random(200)
        )
        assert.notInclude(killed.stderr, "RETRY", `round ${round}: a retried admit did not return the original`)
        const acked = killed.acks.map((l) => Number(l.split(" ")[1]))
        const done = killed.acks.length > 0 && killed.stderr === "" && killed.exitedEarly
        if (acked.length > 0) next = Math.max(...acked) + 1
        const state = await Effect.runPromise(recovered(file))
        const exact = modelAfter(commands, next)
        const withInFlight = modelAfter(commands, next + 1)
        assert.isTrue(
          state === exact || state === withInFlight,
          `round ${round}: recovered state is not the acknowledged prefix`
        )
        if (done) break
      }
      // finish the sequence (retrying from the first unacknowledged command) and compare with one application of each
      const final = await runAndKill(
        "test/crash/ledger-child.ts",
        [file, commandsFile, String(next), reportFile],
        120_000,
        120_000
      )
      assert.isTrue(final.exitedEarly, `final run did not finish: ${final.stderr}`)
      assert.strictEqual(final.stderr, "")
      // every child reports how many acknowledged admits it retried (each returned the original)
      const retried = fs.readFileSync(reportFile, "utf8").split("\n").filter((l) => l.startsWith("RETRIED "))
      assert.isTrue(
        retried.some((l) => Number(l.split(" ")[1]) > 0),
        `acknowledged admits were retried: ${retried.join(", ")}`
      )
      const state = await Effect.runPromise(recovered(file))
      assert.strictEqual(state, modelAfter(commands, commands.length))
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
