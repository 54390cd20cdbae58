/**
 * The command line's surface: every command's name, options, arguments and help. This module is
 * all `calybris` loads at start-up (with `Cli` and `bin`); each command's handler lives in its
 * own module (`Prescribe`, `Explain`, `PolicyCommand`, `WalCommand`, `BudgetCommand`, `Demo`),
 * loaded with `import()` only when that command runs. So `--help`, `--version` and a usage
 * error never load the kernel, the WAL or the ledger, and a command loads only what it uses (in
 * the shipped bundle each handler module is a chunk of its own: `packages/cli/scripts/bundle.mjs`).
 *
 * Keep it light: no import of `@calybris/*` modules or of a handler module here (types only).
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import * as Effect from "effect/Effect"
import * as ParseResult from "effect/ParseResult"
import type * as Schema from "effect/Schema"
import type * as Types from "effect/Types"
import type * as Flags from "./Flags.js"

/** The flags a command's handler receives, parsed from its options. */
export type FlagsOf<Config extends Command.Command.Config> = Types.Simplify<Command.Command.ParseConfig<Config>>

/**
 * A command whose handler is loaded when the command runs (a module is evaluated once, on its
 * first `import()`). A failed load is a defect: the bundle is broken.
 */
const lazy = <Name extends string, const Config extends Command.Command.Config, E, R>(
  name: Name,
  config: Config,
  load: () => Promise<(flags: FlagsOf<Config>) => Effect.Effect<void, E, R>>
) => Command.make(name, config, (flags) => Effect.flatMap(Effect.promise(load), (handler) => handler(flags)))

/**
 * `Options.withSchema(schema(Flags))` (the same parse, the same one-line error), with `Flags` —
 * whose schemas build on the ledger's argument types — loaded only when the option is parsed.
 */
const withFlag =
  <A>(schema: (flags: typeof Flags) => Schema.Schema<A, string>) =>
  (self: Options.Options<string>): Options.Options<A> =>
    Options.mapEffect(
      self,
      (text) =>
        Effect.flatMap(Effect.promise(() => import("./Flags.js")), (flags) =>
          Effect.mapError(
            ParseResult.decode(schema(flags))(text),
            (issue) => ValidationError.invalidValue(HelpDoc.p(ParseResult.TreeFormatter.formatIssueSync(issue)))
          ))
    )

// ---------------------------------------------------------------------------------------------
// Options shared by several commands

/** The key flags every command that reads or writes a log takes (`Key.KeyFlags`; see `Key`). */
export const keyOptions = {
  keyFile: Options.text("key-file").pipe(
    Options.withPseudoName("PATH"),
    Options.withDescription("Read the HMAC key from this file: raw bytes, or `hex:` followed by hex digits."),
    Options.optional
  ),
  keyEnv: Options.text("key-env").pipe(
    Options.withPseudoName("NAME"),
    Options.withDescription(
      "Read the HMAC key from this environment variable (its UTF-8 bytes, or `hex:` followed by hex digits)."
    ),
    Options.optional
  ),
  allowEmptyKey: Options.boolean("allow-empty-key").pipe(
    Options.withDescription("Accept an empty HMAC key (legacy logs only: such a log can be forged by anyone).")
  ),
  maxLineBytes: Options.text("max-line-bytes").pipe(
    Options.withPseudoName("N"),
    Options.withDescription(
      "The longest log line read or written, in bytes (default 67108864, 64 MiB): raise it for a log written with a larger maxLineBytes (the reference sets no limit). A journal file's, and a database journal's audit (budget journal audit); a database's ledger otherwise ignores it."
    ),
    Options.optional
  )
}

/** `--policy FILE`: the policy snapshot a command decides or checks under. */
export const policyOption = Options.text("policy").pipe(
  Options.withPseudoName("FILE"),
  Options.withDescription("The policy snapshot (JSON); - reads it from stdin.")
)

// ---------------------------------------------------------------------------------------------
// prescribe, explain

export const prescribeOptions = {
  policy: policyOption,
  input: Options.text("input").pipe(
    Options.withPseudoName("FILE"),
    Options.withDescription("One input (a JSON document); - reads it from stdin."),
    Options.optional
  ),
  inputs: Options.text("inputs").pipe(
    Options.withPseudoName("FILE.jsonl"),
    Options.withDescription("Many inputs, one JSON object per line (JSON Lines), streamed; - reads stdin."),
    Options.optional
  ),
  trace: Options.boolean("trace").pipe(Options.withDescription("Add the per-gate trace of each decision.")),
  audit: Options.boolean("audit").pipe(
    Options.withDescription("Add the audit bundle (policy, input and decision digests; replay_valid).")
  ),
  json: Options.boolean("json").pipe(
    Options.withDescription("Print failures as JSON too (results are always JSON Lines).")
  )
}

const prescribe = lazy("prescribe", prescribeOptions, () => import("./Prescribe.js").then((m) => m.run)).pipe(
  Command.withDescription(
    "Decide inputs under a policy: one JSON decision per input line (with --trace/--audit: {\"decision\",\"trace\",\"audit\"})."
  )
)

export const explainOptions = {
  policy: policyOption,
  input: Options.text("input").pipe(
    Options.withPseudoName("FILE"),
    Options.withDescription("The input to explain (JSON); - reads it from stdin.")
  ),
  json: Options.boolean("json").pipe(Options.withDescription("Print the explanation as JSON."))
}

const explain = lazy("explain", explainOptions, () => import("./Explain.js").then((m) => m.run)).pipe(
  Command.withDescription(
    "Explain one decision: per model, the gate it failed or its cost, utility and rank; the winner, runner-up and tie-break."
  )
)

// ---------------------------------------------------------------------------------------------
// policy

export const policyOptions = {
  file: Args.text({ name: "FILE" }).pipe(
    Args.withDescription("The policy snapshot (JSON); - reads it from stdin.")
  ),
  json: Options.boolean("json").pipe(Options.withDescription("Print the result as JSON."))
}

const policy = Command.make("policy").pipe(
  Command.withDescription("Policy snapshots: validate, digest."),
  Command.withSubcommands([
    lazy("validate", policyOptions, () => import("./PolicyCommand.js").then((m) => m.validate)).pipe(
      Command.withDescription("Validate a policy as the reference does: prints ok, or its message (exit 2).")
    ),
    lazy("digest", policyOptions, () => import("./PolicyCommand.js").then((m) => m.digest)).pipe(
      Command.withDescription(
        "Print the policy's canonical digest (SHA-256 over its fixed byte layout; not validated)."
      )
    )
  ])
)

// ---------------------------------------------------------------------------------------------
// wal

const logFile = Args.text({ name: "FILE" }).pipe(Args.withDescription("The log (JSON Lines)."))
const resultJson = Options.boolean("json").pipe(Options.withDescription("Print the result as JSON."))

export const walOptions = {
  verify: { file: logFile, json: resultJson, ...keyOptions },
  show: {
    file: logFile,
    json: resultJson,
    from: Options.text("from").pipe(
      Options.withPseudoName("N"),
      withFlag((F) => F.u64("from", "a sequence number")),
      Options.withDescription("First sequence to show."),
      Options.optional
    ),
    to: Options.text("to").pipe(
      Options.withPseudoName("N"),
      withFlag((F) => F.u64("to", "a sequence number")),
      Options.withDescription("Last sequence to show."),
      Options.optional
    ),
    unverified: Options.boolean("unverified").pipe(
      Options.withDescription("Read WITHOUT verifying sequences and hashes (forensics on a broken log only).")
    ),
    ...keyOptions
  },
  replay: {
    file: logFile,
    json: resultJson,
    policy: Options.text("policy").pipe(
      Options.withPseudoName("FILE"),
      Options.withDescription(
        "A policy the decisions were made under (repeat it for a ledger journal whose admits used several); - reads one from stdin."
      ),
      Options.repeated
    ),
    journal: Options.boolean("journal").pipe(
      Options.withDescription("The log is a budget ledger journal (detected from the first entry otherwise).")
    ),
    checkpoint: Options.text("checkpoint").pipe(
      Options.withPseudoName("FILE"),
      Options.withDescription(
        "Cite this signed checkpoint (calybris log checkpoint): the log's Merkle root at its size must equal its root, else exit 1."
      ),
      Options.optional
    ),
    ...keyOptions
  },
  repair: { file: logFile, json: resultJson, ...keyOptions }
}

const wal = Command.make("wal").pipe(
  Command.withDescription("Hash-chained logs: verify, show, replay, repair."),
  Command.withSubcommands([
    lazy("verify", walOptions.verify, () => import("./WalCommand.js").then((m) => m.verify)).pipe(
      Command.withDescription(
        "Verify a log's hash chain (HMAC with --key-file/--key-env): exit 0 with the count and last hash, or exit 1."
      )
    ),
    lazy("show", walOptions.show, () => import("./WalCommand.js").then((m) => m.show)).pipe(
      Command.withDescription(
        "Print a log's entries (verified as they are read; --unverified for forensics): #sequence, hash, data; --json: each entry's line in canonical form (as writers write it; wal verify notes a line re-spelt since)."
      )
    ),
    lazy("replay", walOptions.replay, () => import("./WalCommand.js").then((m) => m.replay)).pipe(
      Command.withDescription(
        "Audited replay: verify the chain, then replay every logged decision under the policy and check its digests (exit 1 on the first failure)."
      )
    ),
    lazy("repair", walOptions.repair, () => import("./WalCommand.js").then((m) => m.repair)).pipe(
      Command.withDescription(
        "Remove a torn final line (a crash mid-write), saving it next to the log; anything else is refused (exit 1)."
      )
    )
  ])
)

// ---------------------------------------------------------------------------------------------
// log (a transparency log over a WAL file: LogCommand)

const logPath = Options.text("log").pipe(
  Options.withPseudoName("FILE"),
  Options.withDescription("The WAL file (read and verified, with --key-file/--key-env when keyed).")
)
const signerKey = {
  skeyFile: Options.text("skey-file").pipe(
    Options.withPseudoName("PATH"),
    Options.withDescription("Read the note signer key (PRIVATE+KEY+…, from log keygen) from this file."),
    Options.optional
  ),
  skeyEnv: Options.text("skey-env").pipe(
    Options.withPseudoName("NAME"),
    Options.withDescription("Read the note signer key (PRIVATE+KEY+…) from this environment variable."),
    Options.optional
  )
}

export const logOptions = {
  vkey: signerKey,
  checkpoint: {
    log: logPath,
    ...signerKey,
    origin: Options.text("origin").pipe(
      Options.withPseudoName("ORIGIN"),
      Options.withDescription("The checkpoint's origin line (default: the signer key's name)."),
      Options.optional
    ),
    previous: Options.text("previous").pipe(
      Options.withPseudoName("CP"),
      Options.withDescription(
        "A checkpoint signed before (the last one published): the log must extend it — same origin, its size at most the log's, its root the log's root at that size — or nothing is signed."
      ),
      Options.optional
    ),
    ...keyOptions
  },
  prove: {
    seq: Args.text({ name: "SEQ" }).pipe(
      Args.withDescription("The entry's WAL sequence (from 1): its leaf index is SEQ-1.")
    ),
    log: logPath,
    checkpoint: Options.text("checkpoint").pipe(
      Options.withPseudoName("FILE"),
      Options.withDescription(
        "Prove against this signed checkpoint's size (its root must be the log's); default: the head."
      ),
      Options.optional
    ),
    ...keyOptions
  },
  consistency: {
    old: Args.text({ name: "OLD_CHECKPOINT" }).pipe(Args.withDescription("The older signed checkpoint.")),
    new: Args.text({ name: "NEW_CHECKPOINT" }).pipe(Args.withDescription("The newer signed checkpoint.")),
    log: logPath,
    ...keyOptions
  },
  verify: {
    vkey: Options.text("vkey").pipe(
      Options.withPseudoName("KEY"),
      Options.withDescription(
        "A verifier key name+hex8+base64 (the log's; repeat it for witnesses: every key given must have signed or cosigned)."
      ),
      Options.repeated
    ),
    checkpoint: Options.text("checkpoint").pipe(
      Options.withPseudoName("FILE"),
      Options.withDescription(
        "A signed checkpoint to verify (with --proof: the checkpoint the proof is checked against)."
      ),
      Options.optional
    ),
    proof: Options.text("proof").pipe(
      Options.withPseudoName("FILE"),
      Options.withDescription(
        "A proof file (from log prove or log consistency) to verify against its signed checkpoint(s)."
      ),
      Options.optional
    ),
    entry: Options.text("entry").pipe(
      Options.withPseudoName("FILE"),
      Options.withDescription(
        "With an inclusion --proof: the entry's WAL line (one line; a final newline is dropped). It must be the proved leaf (SHA-256(0x00 ‖ line) = the proof's leaf_hash) with sequence index+1, and the leaf must be in the signed tree: the auditor's whole check of one entry."
      ),
      Options.optional
    ),
    entryLine: Options.text("entry-line").pipe(
      Options.withPseudoName("LINE"),
      Options.withDescription("As --entry, the WAL line given as the argument itself (without its newline)."),
      Options.optional
    ),
    origin: Options.text("origin").pipe(
      Options.withPseudoName("ORIGIN"),
      Options.withDescription(
        "Require every checkpoint to be of this log (its origin line): a key that signs several logs (log checkpoint --origin) cannot then pass another log's checkpoint or proof."
      ),
      Options.optional
    ),
    json: resultJson
  },
  keygen: {
    name: Options.text("name").pipe(Options.withPseudoName("NAME"), Options.withDescription("The key's name.")),
    out: Options.text("out").pipe(
      Options.withPseudoName("FILE"),
      Options.withDescription(
        "Write the signer key to this new file (mode 0600; an existing file is refused; the key is never printed, so - is refused)."
      )
    )
  }
}

const loadLog = () => import("./LogCommand.js")

const log = Command.make("log").pipe(
  Command.withDescription(
    "A transparency log over a WAL file (leaf i = the line of sequence i+1): signed checkpoints, inclusion and consistency proofs, verification with a public key."
  ),
  Command.withSubcommands([
    lazy("checkpoint", logOptions.checkpoint, () => loadLog().then((m) => m.checkpoint)).pipe(
      Command.withDescription("Verify the log and sign its head: prints the signed note (C2SP checkpoint).")
    ),
    lazy("prove", logOptions.prove, () => loadLog().then((m) => m.prove)).pipe(
      Command.withDescription("Inclusion proof of entry SEQ as JSON (hashes in lowercase hex).")
    ),
    lazy("consistency", logOptions.consistency, () => loadLog().then((m) => m.consistency)).pipe(
      Command.withDescription("Consistency proof between two signed checkpoints of the log, as JSON.")
    ),
    lazy("verify", logOptions.verify, () => loadLog().then((m) => m.verify)).pipe(
      Command.withDescription(
        "Verify a signed checkpoint, or a proof against its signed checkpoint(s), with public keys only; with --entry/--entry-line, that this WAL line is the entry an inclusion proof proves in the signed tree (exit 1 when anything does not verify)."
      )
    ),
    lazy("keygen", logOptions.keygen, () => loadLog().then((m) => m.keygen)).pipe(
      Command.withDescription("Generate a note signer key into a new file (mode 0600); prints the verifier key only.")
    ),
    lazy("vkey", logOptions.vkey, () => loadLog().then((m) => m.vkey)).pipe(
      Command.withDescription(
        "Print the verifier key (name+keyid+base64, public) of a note signer key read from --skey-file or --skey-env: the one keygen printed, again (a keygen stopped after it wrote the key, before it printed)."
      )
    )
  ])
)

// ---------------------------------------------------------------------------------------------
// budget

/** Options shared by every budget command. */
const common = {
  journal: Options.text("journal").pipe(
    Options.withPseudoName("FILE"),
    Options.withDescription("The ledger journal (a WAL file).")
  ),
  ...keyOptions,
  durability: Options.choice("durability", ["always", "batch", "never"]).pipe(
    Options.withDescription(
      "When an operation is acknowledged: after its entry's own fsync (always), after a group fsync (batch), or at once, before its entry is written and with no fsync (never). WARNING: never LOSES ACKNOWLEDGED OPERATIONS on a process crash (a kill, an out-of-memory kill) or a power loss: an operation reported done may be missing from the journal. Use it only for ledgers you can afford to lose."
    ),
    Options.withDefault("always" as const)
  ),
  json: Options.boolean("json").pipe(Options.withDescription("Print the result as JSON (the reference's fields)."))
}

/**
 * `--database URL`: the ledger on PostgreSQL instead of a journal file (`--journal`). The URL is
 * a secret (it may carry a password): parsed as `Redacted`, never printed (errors name its host,
 * port and database only). `CALYBRIS_DATABASE_URL` is read when neither `--database` nor
 * `--journal` is given (the handler reads it: `Database.select`).
 */
const database = Options.redacted("database").pipe(
  Options.withPseudoName("URL"),
  Options.withDescription(
    "The ledger on PostgreSQL (postgres://user@host:port/database) instead of --journal; default: the CALYBRIS_DATABASE_URL environment variable. A secret: never printed (errors name host, port and database only). Run calybris budget migrate once first."
  ),
  Options.optional
)

/** The options of every budget command that reads or changes the ledger: a journal file or a database. */
const ledgerCommon = {
  journal: Options.text("journal").pipe(
    Options.withPseudoName("FILE"),
    Options.withDescription("The ledger journal (a WAL file); or --database."),
    Options.optional
  ),
  database,
  ...keyOptions,
  durability: common.durability,
  json: common.json
}

const tenant = Options.text("tenant").pipe(Options.withPseudoName("TENANT"), Options.withDescription("The tenant id."))
const operationId = Options.text("id").pipe(
  Options.withPseudoName("OP"),
  Options.withDescription("A client operation id: a retry with the same id and arguments returns the first result."),
  Options.optional
)
const amount = (sign: Flags.Sign, description: string) =>
  Options.text("amount").pipe(
    Options.withPseudoName("MICROCENTS"),
    withFlag((F) => F.microcents("amount", sign)),
    Options.withDescription(description)
  )
const reservation = Options.text("reservation").pipe(
  Options.withPseudoName("ID"),
  withFlag((F) => F.reservationId("reservation")),
  Options.withDescription("The reservation id (from reserve or admit).")
)

export const budgetOptions = {
  init: common,
  migrate: {
    database,
    json: Options.boolean("json").pipe(Options.withDescription("Print the result as JSON."))
  },
  ensure: {
    ...ledgerCommon,
    tenant,
    amount: amount("non-negative", "The tenant's initial funds in microcents (when it does not exist yet).")
  },
  topUp: {
    ...ledgerCommon,
    tenant,
    amount: amount("positive", "Funds to add, in microcents."),
    id: operationId
  },
  cap: {
    ...ledgerCommon,
    tenant,
    max: Options.text("max").pipe(
      Options.withPseudoName("MICROCENTS"),
      withFlag((F) => F.microcents("max", "non-negative")),
      Options.withDescription("The most the tenant may hold open at once, in microcents (0 removes the cap).")
    )
  },
  reserve: {
    ...ledgerCommon,
    tenant,
    amount: amount("positive", "The amount to hold, in microcents."),
    id: operationId,
    expires: Options.text("expires").pipe(
      Options.withPseudoName("DURATION"),
      withFlag((F) => F.duration("expires")),
      Options.withDescription("Release the hold automatically after this long, e.g. \"30 seconds\", \"5 minutes\"."),
      Options.optional
    )
  },
  commit: {
    ...ledgerCommon,
    reservation,
    amount: amount("non-negative", "The actual amount spent, in microcents (the rest of the hold returns)."),
    id: operationId
  },
  release: { ...ledgerCommon, reservation, id: operationId },
  status: {
    ...ledgerCommon,
    name: Args.text({ name: "TENANT" }).pipe(Args.withDescription("Only this tenant."), Args.optional)
  },
  prove: ledgerCommon,
  certify: ledgerCommon,
  admit: {
    ...ledgerCommon,
    policy: policyOption,
    input: Options.text("input").pipe(
      Options.withPseudoName("FILE"),
      Options.withDescription("The input (JSON); - reads it from stdin.")
    ),
    tenant,
    id: operationId
  }
}

/** `budget journal …`: the database's per-tenant journal. */
export const journalOptions = {
  export: {
    database,
    tenant: Options.text("tenant").pipe(
      Options.withPseudoName("TENANT"),
      Options.withDescription("The tenant whose chain to export.")
    ),
    out: Options.text("out").pipe(
      Options.withPseudoName("FILE"),
      Options.withDescription(
        "Write the chain to this file (replaced atomically: a temporary file beside it, synced, then renamed; never half-written; an existing file only when empty or an earlier export of this chain that no writer holds) instead of stdout; - is stdout."
      ),
      Options.optional
    )
  },
  audit: {
    database,
    tenant: Options.text("tenant").pipe(
      Options.withPseudoName("TENANT"),
      Options.withDescription("Audit only this tenant's chain (default: every tenant's)."),
      Options.optional
    ),
    ...keyOptions,
    json: Options.boolean("json").pipe(
      Options.withDescription("Print one JSON object per tenant (and a failure as JSON on stderr).")
    )
  }
}

const loadJournal = () => import("./JournalCommand.js")

const journal = Command.make("journal").pipe(
  Command.withDescription(
    "The per-tenant journal of the ledger on a PostgreSQL database (--database or CALYBRIS_DATABASE_URL): export, audit."
  ),
  Command.withSubcommands([
    lazy("export", journalOptions.export, () => loadJournal().then((m) => m.exportTenant)).pipe(
      Command.withDescription(
        "Write a tenant's hash chain as WAL JSONL, exactly as stored (stdout, or --out FILE): calybris wal verify [--key-file] checks it offline."
      )
    ),
    lazy("audit", journalOptions.audit, () => loadJournal().then((m) => m.audit)).pipe(
      Command.withDescription(
        "Verify every tenant's chain (or --tenant's; keyed with --key-file/--key-env) and replay it against the tenant's row: one line per tenant; exit 1 with JournalAuditFailed naming the tenant and sequence on the first failure."
      )
    )
  ])
)

const loadBudget = () => import("./BudgetCommand.js")

const budget = Command.make("budget").pipe(
  Command.withDescription(
    "The per-tenant budget ledger, journaled in a WAL file (--journal), or shared by many processes in a PostgreSQL database (--database)."
  ),
  Command.withSubcommands([
    lazy("init", budgetOptions.init, () => loadBudget().then((m) => m.init)).pipe(
      Command.withDescription("Create a ledger journal (its first entry is a checkpoint of the empty ledger).")
    ),
    lazy("migrate", budgetOptions.migrate, () => import("./Database.js").then((m) => m.migrate)).pipe(
      Command.withDescription(
        "Create or update the ledger's tables in a PostgreSQL database (--database or CALYBRIS_DATABASE_URL): prints the migrations applied, or that none was pending. Safe to run again, and from many instances at once (one migrates, the others wait and find nothing to do)."
      )
    ),
    lazy("ensure", budgetOptions.ensure, () => loadBudget().then((m) => m.ensure)).pipe(
      Command.withDescription("Create a tenant with initial funds (no-op when it exists).")
    ),
    lazy("top-up", budgetOptions.topUp, () => loadBudget().then((m) => m.topUp)).pipe(
      Command.withDescription("Add funds to a tenant.")
    ),
    lazy("cap", budgetOptions.cap, () => loadBudget().then((m) => m.cap)).pipe(
      Command.withDescription("Cap a tenant's open holds (exposure).")
    ),
    lazy("reserve", budgetOptions.reserve, () => loadBudget().then((m) => m.reserve)).pipe(
      Command.withDescription("Hold funds for a tenant.")
    ),
    lazy("commit", budgetOptions.commit, () => loadBudget().then((m) => m.commit)).pipe(
      Command.withDescription("Settle a hold with the actual amount.")
    ),
    lazy("release", budgetOptions.release, () => loadBudget().then((m) => m.release)).pipe(
      Command.withDescription("Release a hold (its amount returns to the tenant).")
    ),
    lazy("status", budgetOptions.status, () => loadBudget().then((m) => m.status)).pipe(
      Command.withDescription(
        "Balances (microcents) of every tenant, or of one. Read-only: reads the journal's verified prefix without the writer lock, so it works while another process writes it (on a database: one SELECT, a state the ledger was in)."
      )
    ),
    lazy("prove", budgetOptions.prove, () => loadBudget().then((m) => m.prove)).pipe(
      Command.withDescription(
        "Prove conservation (remaining + reserved + committed = initial for every tenant); exit 1 when violated. Read-only on a journal (like status): the proof's snapshot is not journaled. On a database, the proof's snapshot takes the database's next snapshot version."
      )
    ),
    lazy("certify", budgetOptions.certify, () => loadBudget().then((m) => m.certify)).pipe(
      Command.withDescription(
        "Issue a financial certificate of the ledger; exit 1 when it is not balanced. Read-only on a journal (like status): its snapshot and baseline rotation are not journaled, so committed_since_last_certificate counts from the last journaled certificate. On a database, the snapshot version and the baseline are the database's, advanced for every process."
      )
    ),
    lazy("admit", budgetOptions.admit, () => loadBudget().then((m) => m.admit)).pipe(
      Command.withDescription(
        "Decide and hold: prescribe, and unless rejected hold the estimated cost; the audited decision and the hold are one journal entry."
      )
    ),
    journal
  ])
)

// ---------------------------------------------------------------------------------------------
// demo

export const demoOptions = {
  dir: Options.text("dir").pipe(
    Options.withPseudoName("DIR"),
    Options.withDescription(
      "Run in this folder (created if needed; must not hold a demo yet). Default: a new temporary folder."
    ),
    Options.optional
  ),
  database: Options.redacted("database").pipe(
    Options.withPseudoName("URL"),
    Options.withDescription(
      "Run the ledger part on this PostgreSQL database (migrated first; it must not hold the demo's tenants yet) instead of a journal file. A secret: never printed. The environment's CALYBRIS_DATABASE_URL is not used here."
    ),
    Options.optional
  ),
  json: Options.boolean("json").pipe(Options.withDescription("Print the report as JSON."))
}

const demo = lazy("demo", demoOptions, () => import("./Demo.js").then((m) => m.run)).pipe(
  Command.withDescription(
    "Run LLM routing and a pre-trade guard end to end on a keyed journal (or a PostgreSQL database: --database), then verify, audit and prove it."
  )
)

/**
 * The groups inside a group, by their path (`budget journal`): `@effect/cli`'s descriptor of a
 * group lists such a member as its own command only, without its subcommands, so the help finds
 * them here.
 */
export const nestedGroups: ReadonlyArray<readonly [path: string, command: typeof journal]> = [[
  "budget journal",
  journal
]]

/** The root's commands, in the order its help lists them. */
export const commands = [prescribe, explain, policy, wal, log, budget, demo] as const
