/**
 * `calybris budget …`: the per-tenant budget ledger, journaled in a (keyed) WAL file.
 *
 * Every command that changes the ledger opens the journal with `Ledger.layerJournalFile(journal,
 * {key, durability})` — which takes the one-writer lock, verifies the whole chain and recovers the
 * ledger in the same pass over the file — runs one operation, and closes it. `status`,
 * `prove` and `certify` only read: they recover a copy of the ledger from the journal's verified
 * prefix (`LedgerView`) without the lock and without writing, so they work while another process
 * writes the journal (their snapshot, and a certificate's baseline rotation, are not journaled).
 * A journal that does not verify, or whose content does not hold together, is refused (exit 1).
 * `init` creates a journal whose first entry is a checkpoint of the empty ledger, so the key is
 * bound from the first line.
 *
 * Results print in words, or with `--json` as the reference's encodings
 * (`{"kind":"Reserved","remaining_microcents":…,"reservation_id":…}`), through our Json printer
 * so i64/u64 amounts stay exact. A refused operation (Insufficient, ExposureLimitExceeded,
 * MissingTenant, …) is a result, printed with exit 0: check `kind`.
 */
import * as Arguments from "@calybris/budget/Arguments"
import * as Journal from "@calybris/budget/Journal"
import * as Ledger from "@calybris/budget/Ledger"
import { InvalidArgument } from "@calybris/budget/LedgerError"
import * as L from "@calybris/budget/LedgerState"
import * as LedgerView from "@calybris/budget/LedgerView"
import * as Json from "@calybris/core/Json"
import * as Chain from "@calybris/wal/Chain"
import * as Entry from "@calybris/wal/Entry"
import * as Wal from "@calybris/wal/Wal"
import * as WalNode from "@calybris/wal/WalNode"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as Clock from "effect/Clock"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import { CertificateUnbalanced, InputError, IoError, UsageError } from "./CliError.js"
import type * as Commands from "./Commands.js"
import * as DatabaseUrl from "./DatabaseUrl.js"
import { readInput, readPolicy } from "./Documents.js"
import { firstEntry, notRegular, platformReason, requireFile, STDIN, stdinOnce } from "./Files.js"
import * as Format from "./Format.js"
import * as Key from "./Key.js"
import {
  admitJson,
  admitText,
  balanceText,
  encodeBalance,
  encodeCertificate,
  encodeProof,
  encodeSnapshot,
  kindedText,
  reserveJson,
  settlementJson,
  topUpJson
} from "./LedgerOutput.js"
import { emit, obj, setJson } from "./Output.js"

// ---------------------------------------------------------------------------------------------
// Options shared by every budget command

type Common = Key.KeyFlags & {
  readonly journal: Option.Option<string>
  readonly database: Option.Option<Redacted.Redacted<string>>
  readonly durability: Wal.Durability
  readonly json: boolean
}

type OnFile = Key.KeyFlags & {
  readonly journal: string
  readonly durability: Wal.Durability
}

const opts = (id: Option.Option<string>) => (Option.isSome(id) ? { operationId: id.value } : {})

/**
 * The ledger over its journal file (which it opens, verifies and recovers in one pass, and owns),
 * flushed by `WalNode` (`writeSync` + `fdatasync` on the descriptor; under "always" in the
 * append's own call: a command has nothing else to do meanwhile).
 */
const ledgerLayer = (flags: OnFile, loaded: Key.Loaded) =>
  Ledger.layerJournalFile(flags.journal, {
    key: loaded.key,
    allowEmptyKey: loaded.allowEmptyKey,
    maxLineBytes: loaded.maxLineBytes,
    durability: flags.durability
  }).pipe(Layer.provide(WalNode.layer))

/**
 * A command's tenant id and operation id (`--tenant`, `--id`), checked before the ledger is
 * opened or the database connected: a bad one is refused (`InvalidArgument`, exit 2) with nothing
 * changed — opening a database's ledger pins its journal key (a helper's hostile review: an
 * over-long `--id` pinned it, then failed).
 */
const argumentsFirst = (flags: object) => {
  const given = flags as { readonly tenant?: unknown; readonly id?: unknown }
  const id = Option.isOption(given.id) && Option.isSome(given.id) ? given.id.value : undefined
  return Either.all([
    typeof given.tenant === "string" ? Arguments.checkTenant(given.tenant) : Either.void,
    id === undefined ? Either.void : Arguments.checkOperationId(id),
    typeof given.tenant === "string" ? notReplaced("tenant", given.tenant) : Either.void,
    typeof id === "string" ? notReplaced("operationId", id) : Either.void
  ])
}

/**
 * An id from the command line holding U+FFFD is refused: bytes that are not UTF-8 in an argument
 * reach the program as U+FFFD, so `$'\xff'` and `$'\xfe'` would be one tenant, or one operation
 * id (a helper's hostile review: a top-up credited another tenant, a second one was taken for a
 * retry). The original bytes are gone by then: no other check can tell them apart.
 */
const notReplaced = (field: string, value: string) =>
  value.includes("\uFFFD")
    ? Either.left(
      new InvalidArgument({
        field,
        value: Arguments.excerpt(value),
        reason: "holds U+FFFD, which is what bytes that are not UTF-8 on a command line become: give ids as UTF-8 text"
      })
    )
    : Either.void

/**
 * Run `operation` (named `name` in a database's errors) on the ledger the flags name
 * (`DatabaseUrl.select`): a journal file (`onFile`), or a PostgreSQL database — the ledger
 * shared by every process on it, loaded with the client only then (`Database`), its journal
 * keyed with the key of `--key-file` / `--key-env` when one is given (loaded first, under the
 * journal file's rules: a key that cannot be read, or is empty, is refused before connecting).
 */
const onLedger = <A, E, R, E2, R2>(
  flags: Common,
  name: string,
  onFile: (flags: OnFile) => Effect.Effect<A, E2, R2>,
  operation: Effect.Effect<A, E, R | Ledger.Ledger>,
  options: { readonly readOnly?: boolean; readonly maintenance?: boolean } = {}
) =>
  Effect.gen(function*() {
    yield* setJson(flags.json)
    yield* argumentsFirst(flags)
    const source = yield* DatabaseUrl.select(flags)
    if (source._tag === "Journal") return yield* onFile({ ...flags, journal: source.journal })
    const loaded = yield* Key.load(flags)
    const database = yield* Effect.promise(() => import("./Database.js"))
    return yield* database.withLedger(source, name, operation, { key: loaded.key, ...options })
  })

/** Run an operation on the journal's ledger (the journal must exist: see `init`), or on the database's. */
const withLedger = <A, E, R>(flags: Common, name: string, operation: Effect.Effect<A, E, R | Ledger.Ledger>) =>
  onLedger(flags, name, (file) =>
    Effect.gen(function*() {
      const loaded = yield* Key.load(file)
      yield* requireJournal(file.journal)
      return yield* Effect.provide(operation, ledgerLayer(file, loaded)).pipe(Key.hintOnFailure(loaded))
    }), operation)

/**
 * The journal must be a regular file that `init` made (see `init`): a missing journal, a
 * directory or a FIFO (opening one waits for a writer) is bad input, exit 2, and so is one without
 * an entry — `init` writes a first entry (the checkpoint that binds the key), so a journal without
 * one was never initialised, or was emptied: read as a fresh ledger, a wiped journal's balances
 * were gone while `status` and `prove` reported a balanced ledger, and the next writer started a
 * new chain under whatever key it was given (a hostile review). The check of `withLedger` and
 * `withView`.
 */
const requireJournal = (journal: string) =>
  requireFile(journal).pipe(
    Effect.mapError((e) =>
      e.reason === "no such file"
        ? new InputError({
          file: journal,
          reason: "no such journal (create it with: calybris budget init --journal FILE)"
        })
        : e
    ),
    // no entry: an empty file, or blank lines only (a file the reader reads as no entry at all:
    // one wiped to "\n" passed a size check; a helper's review), or an incomplete line only (a
    // torn tail and nothing before it: read as an empty ledger by status, prove and certify, whose
    // view leaves a torn line out, with any key or none — a hostile review). A complete first
    // line that does not parse is left to the verifying open, which names it.
    Effect.zipRight(
      Effect.flatMap(
        firstEntry(journal).pipe(
          Effect.map((entry) => Option.isSome(entry) ? "entry" as const : "none" as const),
          Effect.catchTag("WalTornTail", (torn) => Effect.succeed(torn)),
          Effect.orElseSucceed(() => "entry" as const)
        ),
        (first) =>
          first === "entry" ? Effect.void : Effect.fail(
            new InputError({
              file: journal,
              reason: `the journal has no entry${
                first === "none"
                  ? ""
                  : ` (its only line, ${
                    Format.count(first.length, "byte")
                  } at offset ${first.offset}, is incomplete: a writer is appending the first entry right now, or a crash tore it — calybris wal repair saves it aside and removes it, then init can run)`
              }: never initialised (calybris budget init --journal FILE writes its first entry), or emptied since; refusing to read it as an empty ledger`
            })
          )
      )
    )
  )

/**
 * Run an operation on a read-only copy of the ledger of the journal's verified prefix
 * (`LedgerView`): no writer lock, nothing written — it works while another process writes the
 * journal. A final line being written (or torn) is left out, with a note on stderr. On a
 * database, the operation runs on the database's ledger; with `readOnly` (`status`: queries only)
 * on a reader (`LedgerPg.makeReadOnly`) whose key is compared, never pinned — `status` on a ledger
 * no writer had opened pinned its key (or none), refusing the operator's key afterwards; with
 * `maintenance` (`prove`, `certify`: they advance the version) on `LedgerPg.makeMaintenance`,
 * whose key is compared, never pinned, too.
 */
const withView = <A, E, R>(
  flags: Common,
  name: string,
  operation: Effect.Effect<A, E, R | Ledger.Ledger>,
  options: { readonly readOnly?: boolean; readonly maintenance?: boolean } = {}
) =>
  onLedger(
    flags,
    name,
    (file) =>
      Effect.gen(function*() {
        const loaded = yield* Key.load(file)
        yield* requireJournal(file.journal)
        const view = yield* LedgerView.recoverLedger(file.journal, {
          key: loaded.key,
          allowEmptyKey: loaded.allowEmptyKey,
          maxLineBytes: loaded.maxLineBytes
        }).pipe(Key.hintOnFailure(loaded))
        // (with --json too: stdout stays the JSON, and a script watching a live journal learns that
        // the figures leave a line out — a helper's hostile review found --json silent about it)
        if (view.torn !== undefined) {
          yield* Console.error(
            `note: the last line of ${file.journal} (${
              Format.count(view.torn.length, "byte")
            } at offset ${view.torn.offset}) is incomplete — a writer is appending it, or a crash tore it (calybris wal repair removes a torn line); this reads the ${
              Format.count(view.entries, "entry", "entries")
            } before it`
          )
        }
        return yield* Effect.provideService(operation, Ledger.Ledger, view.ledger)
      }),
    operation,
    options
  )

/** How a command names the ledger it ran on (`no tenant x in …`): the journal's path, or the database's target. */
const ledgerName = (flags: Common): string => Option.isSome(flags.journal) ? flags.journal.value : "the database"

/**
 * A hold's expiry, epoch milliseconds (an i64): an ISO date where JavaScript's dates reach
 * (±8.64e15 ms), else the number itself (a hold may expire later than any date can say).
 */
const expiryText = (ms: bigint): string => {
  const date = new Date(Number(ms))
  return Number.isNaN(date.getTime()) ? `${ms} ms after the epoch` : date.toISOString()
}

const balanceOf = (name: string) => Effect.map(Ledger.balances, (s) => s.tenants.find((t) => t.tenant_id === name))

// ---------------------------------------------------------------------------------------------
// Commands

/** `calybris budget init`. */
export const init = (flags: Commands.FlagsOf<typeof Commands.budgetOptions.init>) =>
  Effect.gen(function*() {
    yield* setJson(flags.json)
    const loaded = yield* Key.load(flags)
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    // what is at the path (and its folder) is checked first: misuse is bad input (exit 2)
    const refused = (reason: string) => new InputError({ file: flags.journal, reason })
    const info = yield* fs.stat(flags.journal).pipe(
      Effect.map(Option.some),
      Effect.catchIf((e) => e._tag === "SystemError" && e.reason === "NotFound", () => Effect.succeedNone),
      Effect.mapError((e) => refused(platformReason(e)))
    )
    if (Option.isNone(info)) {
      const folder = path.dirname(flags.journal)
      const parent = yield* fs.stat(folder).pipe(
        Effect.mapError((e) =>
          refused(
            e._tag === "SystemError" && e.reason === "NotFound" ? `no such directory ${folder}` : platformReason(e)
          )
        )
      )
      if (parent.type !== "Directory") return yield* refused(`${folder} is not a directory`)
    } else {
      const why = notRegular(info.value.type)
      if (why !== undefined) return yield* refused(why)
      if (info.value.size > 0) {
        // a file of white space only holds no entry: every other command calls it "never
        // initialised" and sends the operator here (a helper's review: the two sent each other
        // in a circle); say what to do with it
        const blank = info.value.size <= 16_777_216n &&
          (yield* Effect.orElseSucceed(fs.readFile(flags.journal), () => Uint8Array.of(0x78))).every((b) =>
            b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d
          )
        return yield* new UsageError({
          reason: blank
            ? `${flags.journal} holds no entry but is not empty (white space only): remove it, then init the journal there`
            : `${flags.journal} already exists and is not empty: refusing to init it`
        })
      }
    }
    const checkpoint = yield* Either.mapLeft(
      Journal.encodeCheckpoint(new L.LedgerState()),
      (e) => new IoError({ operation: "encode checkpoint", path: flags.journal, reason: e.message })
    )
    // a line limit the first entry does not fit is refused before the journal is made (the
    // append's refusal left an empty file behind: a review of this session's --max-line-bytes)
    if (loaded.maxLineBytes !== undefined) {
      const tooLong = Entry.tooLong(
        1n,
        Chain.GENESIS,
        "0".repeat(64),
        new TextEncoder().encode(Json.print(checkpoint)).length,
        loaded.maxLineBytes
      )
      if (tooLong !== undefined) {
        return yield* new UsageError({
          reason:
            `--max-line-bytes ${loaded.maxLineBytes}: the journal's first entry (the empty ledger's checkpoint) is a line of ${tooLong.lineBytes} bytes; give at least that`
        })
      }
    }
    // checked again under the journal's lock, which the open takes: another command may have
    // written it since the look above (an append there would be lost under the empty-ledger
    // checkpoint; a helper's hostile review found such a race)
    const sealed = yield* Effect.gen(function*() {
      const head = yield* Wal.head
      if (head.sequence !== 0n) {
        return yield* new UsageError({
          reason:
            `${flags.journal} already exists and is not empty (${head.sequence} entries, written since it was looked at): refusing to init it`
        })
      }
      return yield* Wal.append(checkpoint)
    }).pipe(
      Effect.provide(
        Wal.layerFile(flags.journal, {
          key: loaded.key,
          allowEmptyKey: loaded.allowEmptyKey,
          maxLineBytes: loaded.maxLineBytes,
          durability: "always"
        })
          .pipe(
            Layer.provide(WalNode.layer)
          )
      )
    )
    yield* emit(
      flags.json,
      () => [
        `initialized ${
          Format.visible(flags.journal)
        } (${loaded.chain}): entry ${sealed.sequence}, hash ${sealed.entry_hash}`
      ],
      () =>
        obj([["kind", "Initialized"], ["chain", loaded.chain], ["entries", sealed.sequence], [
          "last_hash",
          sealed.entry_hash
        ]])
    )
  })

/** `calybris budget ensure`. */
export const ensure = (flags: Commands.FlagsOf<typeof Commands.budgetOptions.ensure>) =>
  withLedger(
    flags,
    "ensure",
    Effect.gen(function*() {
      const before = yield* balanceOf(flags.tenant)
      yield* Ledger.ensureTenant(yield* Arguments.tenantId(flags.tenant), flags.amount)
      const after = yield* balanceOf(flags.tenant)
      if (after === undefined) {
        return yield* new UsageError({ reason: `tenant ${Format.name(flags.tenant)} was not created` })
      }
      const created = before === undefined
      yield* emit(
        flags.json,
        () => [`${created ? "created" : "exists (unchanged)"}: ${balanceText(after)}`],
        () => obj([["created", created], ["tenant", encodeBalance(after)]])
      )
    })
  )

/** `calybris budget top-up`. */
export const topUp = (flags: Commands.FlagsOf<typeof Commands.budgetOptions.topUp>) =>
  withLedger(
    flags,
    "top-up",
    Effect.gen(function*() {
      const r = yield* Ledger.topUp(yield* Arguments.tenantId(flags.tenant), flags.amount, opts(flags.id))
      const wire = topUpJson(r)
      yield* emit(flags.json, () => [kindedText(wire)], () => wire)
    })
  )

/** `calybris budget cap`. */
export const cap = (flags: Commands.FlagsOf<typeof Commands.budgetOptions.cap>) =>
  withLedger(
    flags,
    "cap",
    Effect.gen(function*() {
      yield* Ledger.setExposureCap(yield* Arguments.tenantId(flags.tenant), flags.max)
      const max = flags.max > 0n ? flags.max : null
      yield* emit(
        flags.json,
        () => [
          max === null
            ? `exposure cap of ${Format.name(flags.tenant)} removed`
            : `exposure cap of ${Format.name(flags.tenant)}: ${Format.int(max)} microcents open at most`
        ],
        () => obj([["tenant_id", flags.tenant], ["max_reserved_microcents", max]])
      )
    })
  )

/** `calybris budget reserve`. */
export const reserve = (flags: Commands.FlagsOf<typeof Commands.budgetOptions.reserve>) =>
  withLedger(
    flags,
    "reserve",
    Effect.gen(function*() {
      const r = yield* Ledger.reserve(yield* Arguments.tenantId(flags.tenant), flags.amount, {
        ...opts(flags.id),
        ...(Option.isSome(flags.expires) ? { expiresIn: flags.expires.value } : {})
      })
      const wire = reserveJson(r)
      yield* emit(flags.json, () => [kindedText(wire)], () => wire)
    })
  )

const settle = (r: L.SettlementResult, json: boolean) => {
  const wire = settlementJson(r)
  return emit(json, () => [kindedText(wire)], () => wire)
}

/** `calybris budget commit`. */
export const commit = (flags: Commands.FlagsOf<typeof Commands.budgetOptions.commit>) =>
  withLedger(
    flags,
    "commit",
    Effect.flatMap(
      Ledger.commit(flags.reservation, flags.amount, opts(flags.id)),
      (r) => settle(r, flags.json)
    )
  )

/** `calybris budget release`. */
export const release = (flags: Commands.FlagsOf<typeof Commands.budgetOptions.release>) =>
  withLedger(
    flags,
    "release",
    Effect.flatMap(Ledger.release(flags.reservation, opts(flags.id)), (r) => settle(r, flags.json))
  )

/**
 * Run `effect` with the Clock stopped at its current reading, so that several queries answer as
 * of one instant (a hold expiring between two of them would make them disagree).
 */
const atOneInstant = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.flatMap(Effect.clock, (clock) =>
    Effect.flatMap(clock.currentTimeMillis, (ms) => {
      const nanos = BigInt(ms) * 1_000_000n
      const stopped: Clock.Clock = {
        [Clock.ClockTypeId]: Clock.ClockTypeId,
        unsafeCurrentTimeMillis: () => ms,
        currentTimeMillis: Effect.succeed(ms),
        unsafeCurrentTimeNanos: () => nanos,
        currentTimeNanos: Effect.succeed(nanos),
        sleep: (duration) => clock.sleep(duration)
      }
      return Effect.withClock(effect, stopped)
    }))

/** `calybris budget status`. */
export const status = (flags: Commands.FlagsOf<typeof Commands.budgetOptions.status>) =>
  withView(
    flags,
    "status",
    // every query as of one Clock instant (expired holds released): balances and holds agree
    atOneInstant(Effect.gen(function*() {
      if (Option.isSome(flags.name)) {
        const name = flags.name.value
        const { balance, cap, holds } = yield* Effect.all({
          balance: Ledger.balance(name),
          cap: Ledger.exposureCap(name),
          holds: Ledger.holds(name)
        })
        if (Option.isNone(balance)) {
          return yield* new UsageError({ reason: `no tenant ${Format.name(name)} in ${ledgerName(flags)}` })
        }
        const t = balance.value
        return yield* emit(
          flags.json,
          () => [
            balanceText(t),
            ...(Option.isNone(cap) ? [] : [`exposure cap: ${Format.int(cap.value)} microcents`]),
            ...holds.map((h) =>
              `hold ${h.reservation_id}: ${Format.int(h.amount_microcents)} microcents${
                Option.isNone(h.expires_at_ms)
                  ? ""
                  : ` (expires at ${expiryText(h.expires_at_ms.value)})`
              }`
            )
          ],
          () => encodeBalance(t)
        )
      }
      const { caps, snapshot } = yield* Effect.all({
        snapshot: Ledger.balances,
        caps: Effect.map(
          Ledger.exposureCaps,
          (all) => new Map(all.map((c) => [c.tenant_id, c.max_reserved_microcents] as const))
        )
      })
      yield* emit(
        flags.json,
        () => [
          `${Format.count(snapshot.tenants.length, "tenant")}, ${
            Format.count(snapshot.active_reservations, "open reservation")
          }, snapshot version ${snapshot.version}`,
          "",
          ...Format.table(
            ["tenant", "initial", "remaining", "reserved", "committed", "cap"],
            snapshot.tenants.map((t) => [
              Format.name(t.tenant_id),
              Format.int(t.initial_microcents),
              Format.int(t.remaining_microcents),
              Format.int(t.reserved_microcents),
              Format.int(t.committed_microcents),
              caps.has(t.tenant_id) ? Format.int(caps.get(t.tenant_id) ?? 0n) : ""
            ]),
            ["left", "right", "right", "right", "right", "right"]
          )
        ],
        () => encodeSnapshot(snapshot)
      )
    })),
    { readOnly: true }
  )

/** `calybris budget prove`. */
export const prove = (flags: Commands.FlagsOf<typeof Commands.budgetOptions.prove>) =>
  withView(
    flags,
    "prove",
    Effect.gen(function*() {
      const p = yield* Ledger.proveConservation
      yield* emit(
        flags.json,
        () => [
          `balanced: ${Format.count(p.tenant_count, "tenant")}, ${
            Format.count(p.active_reservations, "open reservation")
          }, total initial ${Format.int(p.total_initial_microcents)}, total committed ${
            Format.int(p.total_committed_microcents)
          } microcents`,
          `ledger digest ${p.ledger_digest_hex} (snapshot version ${p.snapshot_version})`
        ],
        () => encodeProof(p)
      )
    }),
    { maintenance: true }
  )

/** `calybris budget certify`. */
export const certify = (flags: Commands.FlagsOf<typeof Commands.budgetOptions.certify>) =>
  withView(
    flags,
    "certify",
    Effect.gen(function*() {
      const c = yield* Ledger.certify
      yield* emit(
        flags.json,
        () => [
          `${c.conservation_balanced ? "balanced" : "NOT BALANCED"}: ${Format.count(c.tenant_count, "tenant")}, ${
            Format.count(c.active_reservations, "open reservation")
          }, total initial ${Format.int(c.total_initial_microcents)}, total committed ${
            Format.int(c.total_committed_microcents)
          }, committed since last certificate ${Format.int(c.committed_since_last_certificate)} microcents`,
          `ledger digest ${c.ledger_digest_hex} (snapshot version ${c.snapshot_version})`
        ],
        () => encodeCertificate(c)
      )
      if (!c.conservation_balanced) return yield* new CertificateUnbalanced({ ledger_digest_hex: c.ledger_digest_hex })
    }),
    { maintenance: true }
  )

/** `calybris budget admit`. */
export const admit = (flags: Commands.FlagsOf<typeof Commands.budgetOptions.admit>) =>
  Effect.gen(function*() {
    yield* setJson(flags.json)
    // the cheap, failure-prone documents and arguments first (exit 2 on a bad one), before the
    // key is loaded and the journal opened and recovered: a bad policy is reported as such,
    // whatever the journal's state (held by another writer, broken, missing)
    yield* stdinOnce([["--policy", flags.policy === STDIN], ["--input", flags.input === STDIN]])
    const policy = yield* readPolicy(flags.policy)
    const input = yield* readInput(flags.input)
    const tenant = yield* Arguments.tenantId(flags.tenant)
    yield* Arguments.checkOperationId(Option.getOrUndefined(flags.id))
    return yield* withLedger(
      flags,
      "admit",
      Effect.gen(function*() {
        const outcome = yield* Ledger.admit(policy, tenant, input, opts(flags.id))
        yield* emit(flags.json, () => [admitText(outcome)], () => admitJson(outcome))
      })
    )
  })
