/**
 * `calybris demo`: the two reference use cases end to end, on a keyed journal.
 *
 * In a fresh temporary folder (or `--dir`):
 * 1. write a random 32-byte HMAC key to `journal.key` (mode 0600), the two policies and their
 *    requests (so every step can be re-run with the other commands);
 * 2. as the operator: open the journal (`Ledger.layerJournalFile` with the key: the ledger owns it),
 *    fund the tenants, and run every request through `Ledger.admit` — LLM routing over a
 *    six-model catalog, then a pre-trade guard over five venues with an exposure cap — settling
 *    some holds;
 * 3. as an auditor, with the key read back from the key file: reopen the journal (recovery
 *    verifies it), prove conservation, then, the ledger closed, verify the chain (`Wal.verify`)
 *    and audit-replay every admitted decision under both policies (`JournalAudit.auditFile`);
 * 4. print a short report (or `--json`), ending with the next commands to run on the folder, ready
 *    to paste as printed: the CLI as the user started it, every path shell-quoted (`Invocation`).
 *
 * Fails closed like every other command: a failed verification, audit or proof is exit 1.
 */
import { Microcents, TenantId } from "@calybris/budget/Arguments"
import * as JournalAudit from "@calybris/budget/JournalAudit"
import * as Ledger from "@calybris/budget/Ledger"
import type * as Snapshot from "@calybris/budget/Snapshot"
import * as Decision from "@calybris/core/Decision"
import * as Digest from "@calybris/core/Digest"
import * as Input from "@calybris/core/Input"
import type * as Json from "@calybris/core/Json"
import * as JsonSchema from "@calybris/core/JsonSchema"
import * as Policy from "@calybris/core/Policy"
import * as Wal from "@calybris/wal/Wal"
import * as WalNode from "@calybris/wal/WalNode"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { IoError, UsageError } from "./CliError.js"
import type * as Commands from "./Commands.js"
import * as DatabaseUrl from "./DatabaseUrl.js"
import { platformReason } from "./Files.js"
import * as Format from "./Format.js"
import * as Data from "./internal/demoData.js"
import * as Invocation from "./Invocation.js"
import * as Key from "./Key.js"
import { admitJson, encodeProof } from "./LedgerOutput.js"
import { emit, obj, setJson } from "./Output.js"

// ---------------------------------------------------------------------------------------------
// Building the wire values from the demo data (decoded like any untrusted input)

const members = (record: object, skip: ReadonlyArray<string> = []): Json.JsonObject =>
  new Map(Object.entries(record).filter(([k]) => !skip.includes(k)) as Array<[string, Json.Json]>)

const decodePolicy = Schema.decodeUnknownSync(Policy.PolicySnapshot)
const decodeInput = Schema.decodeUnknownSync(Input.Input)
const encodePolicy = JsonSchema.encodeText(Policy.PolicySnapshot)
const encodeInput = JsonSchema.encodeText(Input.Input)

/** The checked policy of a scenario. */
const policyOf = (data: Data.PolicyData): Effect.Effect<Policy.Policy> =>
  Effect.orDie(Effect.suspend(() => {
    const wire = members({ ...data, models: data.models.map((m) => members(m, ["name"])) })
    return Policy.make(decodePolicy(wire))
  }))

const inputOf = (data: Data.InputData): Input.Input => decodeInput(members(data))

// ---------------------------------------------------------------------------------------------
// The run

interface Outcome {
  readonly request: Data.Request
  readonly input: Input.Input
  readonly outcome: Ledger.AdmitOutcome
  /** how the hold was settled, when it was */
  readonly settlement: { readonly kind: string; readonly amount: bigint } | null
}

interface ScenarioRun {
  readonly scenario: Data.Scenario
  readonly policy: Policy.Policy
  readonly outcomes: ReadonlyArray<Outcome>
}

const runScenario = (scenario: Data.Scenario, policy: Policy.Policy) =>
  Effect.gen(function*() {
    // the demo's own data: `make` checks it (and throws on a bug in it)
    for (const t of scenario.tenants) {
      const id = TenantId.make(t.id)
      yield* Ledger.ensureTenant(id, Microcents.make(t.funds))
      if (t.cap !== undefined) yield* Ledger.setExposureCap(id, Microcents.make(t.cap))
    }
    const outcomes: Array<Outcome> = []
    for (const request of scenario.requests) {
      const input = inputOf(request.input)
      const outcome = yield* Ledger.admit(policy, TenantId.make(request.tenant), input, {
        metadata: obj([["tenant", request.tenant], ["label", request.label]])
      })
      let settlement: Outcome["settlement"] = null
      if (outcome._tag === "Admitted" && request.settle !== undefined) {
        if (request.settle === "release") {
          const r = yield* Ledger.release(outcome.reservation_id)
          settlement = { kind: r._tag, amount: r._tag === "Released" ? r.returned_microcents : 0n }
        } else {
          const r = yield* Ledger.commit(outcome.reservation_id, Microcents.make(request.settle))
          settlement = { kind: r._tag, amount: r._tag === "Committed" ? r.actual_microcents : 0n }
        }
      }
      outcomes.push({ request, input, outcome, settlement })
    }
    return { scenario, policy, outcomes } satisfies ScenarioRun
  })

const modelOf = (scenario: Data.Scenario, id: number): Data.NamedModel | undefined =>
  scenario.policy.models.find((m) => m.model_id === id)

/** The catalog entry's full name (`openai/gpt-4o`, `IEX`). */
const nameOf = (scenario: Data.Scenario, id: number): string => {
  const m = modelOf(scenario, id)
  return m === undefined ? `model ${id}` : m.vendor === undefined ? m.name : `${m.vendor}/${m.name}`
}

/** The catalog entry's short name, for tables (`gpt-4o`). */
const shortNameOf = (scenario: Data.Scenario, id: number): string => modelOf(scenario, id)?.name ?? `model ${id}`

// ---------------------------------------------------------------------------------------------
// The report

const holdText = (o: Outcome): string => {
  const x = o.outcome
  switch (x._tag) {
    case "Rejected":
      return "nothing held"
    case "CostTooLarge":
      return "nothing held (a cost above the largest hold)"
    case "HoldFailed": {
      const h = x.hold
      switch (h._tag) {
        case "Insufficient":
          return `Insufficient: ${Format.usd(h.remaining_microcents)} left`
        case "ExposureLimitExceeded":
          return `ExposureLimitExceeded: ${Format.usd(h.current_reserved_microcents)} open, cap ${
            Format.usd(h.max_reserved_microcents)
          }`
        default:
          return h._tag
      }
    }
    case "Admitted": {
      const s = o.settlement
      const settled = s === null
        ? "open"
        : s.kind === "Committed"
        ? `committed ${Format.usd(s.amount)}`
        : s.kind === "Released"
        ? "released"
        : s.kind
      return `#${x.reservation_id} ${settled}`
    }
  }
}

/** `openai (gpt-4o-mini, gpt-4o), anthropic (…)`, or just the names when there are no vendors. */
const catalogText = (s: Data.Scenario): string => {
  const vendors = new Map<string, Array<string>>()
  for (const m of s.policy.models) {
    const v = m.vendor ?? ""
    vendors.set(v, [...(vendors.get(v) ?? []), m.name])
  }
  return [...vendors].map(([v, names]) => (v === "" ? names.join(", ") : `${v} (${names.join(", ")})`)).join(", ")
}

const scenarioText = (run: ScenarioRun, index: number): Array<string> => {
  const s = run.scenario
  const tenants = s.tenants.map((t) =>
    `${t.id} has ${Format.usd(t.funds)}${t.cap === undefined ? "" : ` (exposure cap ${Format.usd(t.cap)})`}`
  )
  const rows = run.outcomes.map((o, i) => {
    const d = o.outcome.decision
    return [
      String(i + 1),
      o.request.label,
      shortNameOf(s, o.input.requested_model_id),
      d.action === "Reject" ? `Reject (${Decision.reasonDisplay(d.reason)})` : d.action,
      d.action === "Reject" ? "-" : shortNameOf(s, d.selected_model_id),
      d.action === "Reject" ? "-" : Format.usd(d.estimated_cost_microunits),
      holdText(o)
    ]
  })
  return [
    `${index}. ${s.title}: ${s.policy.models.length} ${
      s.policy.models.some((m) => m.vendor !== undefined) ? "models from" : "venues:"
    } ${catalogText(s)}`,
    `   ${tenants.join("; ")}; policy ${s.policyFile} (digest ${Format.short(Digest.policyDigest(run.policy))})`,
    "",
    ...Format.table(
      ["#", "request", "asked for", "decision", "chosen", "cost", "hold"],
      rows,
      ["right", "left", "left", "left", "left", "right", "left"]
    ).map((line) => `   ${line}`),
    ""
  ]
}

const outcomeJson = (run: ScenarioRun, o: Outcome): Json.Json =>
  obj([
    ["label", o.request.label],
    ["tenant", o.request.tenant],
    ["requested", nameOf(run.scenario, o.input.requested_model_id)],
    [
      "chosen",
      o.outcome.decision.action === "Reject" ? null : nameOf(run.scenario, o.outcome.decision.selected_model_id)
    ],
    ["outcome", admitJson(o.outcome)],
    [
      "settlement",
      o.settlement === null ? null : obj([["kind", o.settlement.kind], ["amount_microcents", o.settlement.amount]])
    ]
  ])

const scenarioJson = (run: ScenarioRun): Json.Json =>
  obj([
    ["title", run.scenario.title],
    ["policy_file", run.scenario.policyFile],
    ["policy_digest_hex", Digest.policyDigest(run.policy)],
    ["requests", run.outcomes.map((o) => outcomeJson(run, o))]
  ])

// ---------------------------------------------------------------------------------------------
// Files

const writeNew = (path: string, text: string, mode = 0o644) =>
  Effect.flatMap(
    FileSystem.FileSystem,
    (fs) => fs.writeFile(path, new TextEncoder().encode(text), { flag: "wx", mode })
  ).pipe(
    Effect.mapError((e) => new IoError({ operation: "write", path, reason: platformReason(e) }))
  )

/** A fresh random 32-byte key (Web Crypto's CSPRNG: Effect's `Random` is not for keys). */
const randomKey = Effect.sync(() => globalThis.crypto.getRandomValues(new Uint8Array(32)))

const toHex = (bytes: Uint8Array): string => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")

const prepareDir = (dir: Option.Option<string>) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const io = (operation: string, target: string) => (e: Parameters<typeof platformReason>[0]) =>
      new IoError({ operation, path: target, reason: platformReason(e) })
    if (Option.isNone(dir)) {
      return yield* fs.makeTempDirectory({ prefix: "calybris-demo-" }).pipe(
        Effect.mapError(io("create a temporary folder", "(tmp)"))
      )
    }
    const target = path.resolve(dir.value)
    // --dir naming a file, or a path through one, is bad usage (exit 2), not a failed I/O
    const misuse = (reason: string) => new UsageError({ reason: `--dir ${target}: ${reason}` })
    const existing = yield* fs.stat(target).pipe(
      Effect.map(Option.some),
      Effect.catchIf((e) => e._tag === "SystemError" && e.reason === "NotFound", () => Effect.succeedNone),
      Effect.mapError((e) => misuse(platformReason(e)))
    )
    if (Option.isSome(existing) && existing.value.type !== "Directory") {
      return yield* misuse("it exists and is not a directory")
    }
    yield* fs.makeDirectory(target, { recursive: true }).pipe(
      Effect.mapError((e) =>
        platformReason(e) === "a component of the path is not a directory"
          ? misuse(platformReason(e))
          : io("create", target)(e)
      )
    )
    // any file the demo writes already there (a demo's, a stray key or policy, a symbolic link even
    // to nothing): bad usage before anything is written, not an I/O failure half way, nor a journal
    // written through a link outside --dir (reviews: a stray journal.key, then a stray policy, exited
    // 1 with the key written; a dangling journal.jsonl link was followed)
    for (const name of DEMO_FILES) {
      const file = path.join(target, name)
      const link = Either.isRight(yield* Effect.either(fs.readLink(file)))
      if (link || (yield* fs.exists(file).pipe(Effect.mapError(io("stat", file))))) {
        return yield* new UsageError({ reason: `${target} already holds ${name}: give an empty --dir` })
      }
    }
    return target
  })

/** The files the demo writes in its folder besides the scenarios' policies and requests. */
const JOURNAL_FILE = "journal.jsonl"
const KEY_FILE = "journal.key"
const EXPLAIN_INPUT_FILE = "llm-request-2.json"

/** Every file the demo writes in its folder. */
const DEMO_FILES: ReadonlyArray<string> = [
  JOURNAL_FILE,
  KEY_FILE,
  Data.llm.policyFile,
  Data.llm.requestsFile,
  Data.trade.policyFile,
  Data.trade.requestsFile,
  EXPLAIN_INPUT_FILE
]

// ---------------------------------------------------------------------------------------------
// The command

/** The demo's tenants already in the database: the demo runs on a database that has none of them. */
const demoTenantsIn = Effect.map(
  Ledger.balances,
  (snapshot) => {
    const ours = new Set([...Data.llm.tenants, ...Data.trade.tenants].map((t) => t.id))
    return snapshot.tenants.map((t) => t.tenant_id).filter((id) => ours.has(id))
  }
)

/** `calybris demo` (options: `Commands.demoOptions`). */
export const run = (flags: Commands.FlagsOf<typeof Commands.demoOptions>) =>
  Effect.gen(function*() {
    yield* setJson(flags.json)
    const path = yield* Path.Path
    // a database (checked before anything is written), or the journal file in the folder
    const database = Option.isSome(flags.database)
      ? Option.some(yield* DatabaseUrl.database(flags.database.value, "--database"))
      : Option.none()
    const dir = yield* prepareDir(flags.dir)
    const journal = path.join(dir, JOURNAL_FILE)
    const keyFile = path.join(dir, KEY_FILE)

    // 1. key (for a journal), policies, requests
    const key = yield* randomKey
    if (Option.isNone(database)) yield* writeNew(keyFile, `hex:${toHex(key)}\n`, 0o600)
    const llmPolicy = yield* policyOf(Data.llm.policy)
    const tradePolicy = yield* policyOf(Data.trade.policy)
    for (const [scenario, policy] of [[Data.llm, llmPolicy], [Data.trade, tradePolicy]] as const) {
      yield* writeNew(path.join(dir, scenario.policyFile), `${encodePolicy(policy.snapshot)}\n`)
      yield* writeNew(
        path.join(dir, scenario.requestsFile),
        scenario.requests.map((r) => `${encodeInput(inputOf(r.input))}\n`).join("")
      )
    }
    const explainInput = path.join(dir, EXPLAIN_INPUT_FILE)
    const second = Data.llm.requests[1]
    if (second !== undefined) yield* writeNew(explainInput, `${encodeInput(inputOf(second.input))}\n`)
    const scenarios = Effect.all([runScenario(Data.llm, llmPolicy), runScenario(Data.trade, tradePolicy)])
    const llmPolicyFile = path.join(dir, Data.llm.policyFile)

    if (Option.isSome(database)) {
      // 2–3 on PostgreSQL: migrate, every request through Ledger.admit, then the proof, all from the database
      const db = database.value
      const Db = yield* Effect.promise(() => import("./Database.js"))
      const { proof, runs } = yield* Db.withLedger(
        db,
        "demo",
        Effect.gen(function*() {
          const present = yield* demoTenantsIn
          if (present.length > 0) {
            return yield* new UsageError({
              reason: `${DatabaseUrl.targetText(db.target)} already holds the demo's tenants (${
                present.join(", ")
              }): give a database without them`
            })
          }
          const runs = yield* scenarios
          return { runs, proof: yield* Ledger.proveConservation }
        }),
        { migrate: true }
      )
      const invocation = yield* Invocation.Invocation
      const next: ReadonlyArray<ReadonlyArray<string>> = [
        ["budget", "status"],
        ["budget", "prove"],
        ["explain", "--policy", llmPolicyFile, "--input", explainInput],
        ["prescribe", "--policy", llmPolicyFile, "--inputs", path.join(dir, Data.llm.requestsFile), "--trace"]
      ]
      const target = DatabaseUrl.targetText(db.target)
      return yield* report(flags.json, {
        on: "a PostgreSQL database",
        dir,
        runs,
        proof,
        ledger: [
          `  database ${target} (PostgreSQL, migrated), shared by every process on it`
        ],
        proofs: [
          "3. Proofs — from the database",
          ...proofLines(proof)
        ],
        next: [
          `Next, with the CLI (with ${DatabaseUrl.ENV} set to the database's URL):`,
          ...next.map((args) => `  ${Invocation.commandLine(invocation, args)}`)
        ],
        json: [
          ["database", target],
          ["journal", null],
          ["key_file", null],
          ["chain", null],
          ["verified", null],
          ["audited_decisions", null],
          ["next", next.map((args) => Invocation.commandLine(invocation, args))]
        ]
      })
    }

    // 2. the operator: every request through Ledger.admit on the keyed journal
    const operator = Ledger.layerJournalFile(journal, { key, durability: "always" }).pipe(Layer.provide(WalNode.layer))
    const runs = yield* Effect.provide(scenarios, operator)

    // 3. the auditor: the key from the key file, the journal from disk
    const loaded = yield* Key.load({
      keyFile: Option.some(keyFile),
      keyEnv: Option.none(),
      allowEmptyKey: false
    })
    const options = { key: loaded.key, allowEmptyKey: loaded.allowEmptyKey }
    const proof = yield* Effect.provide(
      Ledger.proveConservation,
      Ledger.layerJournalFile(journal, { ...options, durability: "always" })
    )
    // the ledger is closed: the journal's chain, then the audit of every admit, from the file
    const verified = yield* Effect.provide(Wal.verify, Wal.layerFile(journal, options))
    const verdicts = yield* JournalAudit.auditFile(journal, [llmPolicy, tradePolicy], options)

    // what to run next, with the CLI as it was started: each one a command line a shell runs as printed
    const invocation = yield* Invocation.Invocation
    const keyArgs = ["--key-file", keyFile]
    const next: ReadonlyArray<ReadonlyArray<string>> = [
      ["wal", "verify", journal, ...keyArgs],
      [
        "wal",
        "replay",
        journal,
        ...keyArgs,
        "--policy",
        llmPolicyFile,
        "--policy",
        path.join(dir, Data.trade.policyFile)
      ],
      ["budget", "status", "--journal", journal, ...keyArgs],
      ["explain", "--policy", llmPolicyFile, "--input", explainInput],
      ["prescribe", "--policy", llmPolicyFile, "--inputs", path.join(dir, Data.llm.requestsFile), "--trace"]
    ]
    yield* report(flags.json, {
      on: "a keyed journal",
      dir,
      runs,
      proof,
      ledger: [
        `  journal  journal.jsonl, keyed: HMAC-SHA256 under a fresh random 32-byte key in journal.key (mode 0600)`
      ],
      proofs: [
        "3. Proofs — the journal reopened from disk with the key file, as an auditor would",
        `   verified: ${
          Format.int(verified.count)
        } journal entries, chain intact (HMAC-SHA256), last hash ${verified.lastHash}`,
        `   audited:  ${verdicts.length} admitted decisions replayed bit for bit under their policies (digests match);`,
        "             rejected requests and failed holds change nothing, so they are decided but not journaled",
        ...proofLines(proof)
      ],
      next: ["Next, with the CLI:", ...next.map((args) => `  ${Invocation.commandLine(invocation, args)}`)],
      json: [
        ["journal", journal],
        ["key_file", keyFile],
        ["chain", "HMAC-SHA256"],
        ["verified", obj([["entries", verified.count], ["last_hash", verified.lastHash]])],
        ["audited_decisions", verdicts.length],
        ["next", next.map((args) => Invocation.commandLine(invocation, args))]
      ]
    })
  })

/** The conservation lines of the report. */
const proofLines = (p: Snapshot.ConservationProof): ReadonlyArray<string> => [
  `   balanced: ${Format.count(p.tenant_count, "tenant")}, ${Format.count(p.active_reservations, "open hold")}, funds ${
    Format.usd(p.total_initial_microcents)
  }, spent ${Format.usd(p.total_committed_microcents)}`,
  `   ledger digest ${p.ledger_digest_hex} (snapshot version ${p.snapshot_version})`
]

/**
 * Print the report: the scenarios, then what the ledger (`ledger`: where it is) proved
 * (`proofs`), the tallies, the next commands; in JSON, `json` says where the ledger is and what
 * was verified, between the scenarios and the proof.
 */
const report = (json: boolean, r: {
  readonly on: string
  readonly dir: string
  readonly runs: ReadonlyArray<ScenarioRun>
  readonly proof: Snapshot.ConservationProof
  readonly ledger: ReadonlyArray<string>
  readonly proofs: ReadonlyArray<string>
  readonly next: ReadonlyArray<string>
  readonly json: ReadonlyArray<readonly [string, Json.Json]>
}) => {
  const all = r.runs.flatMap((run) => run.outcomes)
  const count = (f: (o: Outcome) => boolean) => all.filter(f).length
  const at = (name: string) => r.json.find(([k]) => k === name)?.[1] ?? null
  return emit(
    json,
    () => [
      `Calybris demo: two reference use cases through Ledger.admit on ${r.on}`,
      `  folder   ${Format.visible(r.dir)}`,
      ...r.ledger,
      "",
      ...r.runs.flatMap((run, i) => scenarioText(run, i + 1)),
      ...r.proofs,
      "",
      `   decisions: ${
        count((o) => o.outcome.decision.action === "ExecuteRequested")
      } ExecuteRequested (reason: requested_model_maximizes_utility), ${
        count((o) => o.outcome.decision.action === "Substitute")
      } Substitute (alternative_maximizes_utility), ${count((o) => o.outcome.decision.action === "Reject")} Reject`,
      `   holds:     ${count((o) => o.outcome._tag === "Admitted")} taken, ${
        count((o) => o.outcome._tag === "HoldFailed")
      } refused by the ledger`,
      "",
      ...r.next
    ],
    () =>
      obj([
        ["dir", r.dir],
        ...(r.json.some(([k]) => k === "database") ? [["database", at("database")] as const] : []),
        ["journal", at("journal")],
        ["key_file", at("key_file")],
        ["chain", at("chain")],
        ["scenarios", r.runs.map(scenarioJson)],
        ["verified", at("verified")],
        ["audited_decisions", at("audited_decisions")],
        ["conservation", encodeProof(r.proof)],
        ["next", at("next")]
      ])
  )
}
