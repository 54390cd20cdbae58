/**
 * The ledger journal's records: versioned Schemas, one tag (`kind`) per command kind, so old
 * journals stay readable. One WAL entry holds one group of commands applied together (a group
 * commit, or an admit with its audited decision), or a checkpoint of the whole state.
 *
 * Version 1: `{"v":1,"commands":[{"kind":"reserve",...},...]}` or `{"v":1,"checkpoint":{...}}`;
 * a refusal remembered under an operation id is `{"kind":"refused","command":{...},"result":{...}}`
 * among the commands (issue 15: no earlier journal holds one).
 */
import * as Codec from "@calybris/core/Codec"
import * as Int from "@calybris/core/Int"
import * as Json from "@calybris/core/Json"
import { jsonObject, JsonValue } from "@calybris/core/JsonSchema"
import { safeNumberOf as small } from "@calybris/core/Word"
import { lineBytes } from "@calybris/wal/Entry"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as AST from "effect/SchemaAST"
import { ReservationId } from "./Arguments.js"
import { boundOf } from "./internal/bounds.js"
import { InvalidArgument } from "./LedgerError.js"
import * as L from "./LedgerState.js"
import * as Snapshot from "./Snapshot.js"

export const VERSION = 1

// ---------------------------------------------------------------------------------------------
// Commands: each the `Command` of its kind (its fields' own schemas), under the reference's
// wire names — `kind` for `_tag`, `tenant_id` for `tenant`, `reservation_id` for `reservation`.

type Tag = L.Command["_tag"]
type MemberOf<T extends Tag> = Extract<typeof L.Command.members[number], { readonly Type: { readonly _tag: T } }>

/** The `Command` schema of one kind. */
const member = <T extends Tag>(tag: T): MemberOf<T> => {
  const found = L.Command.members.find((m) => {
    const ast = m.ast
    const type = ast._tag === "TypeLiteral" ? ast.propertySignatures.find((ps) => ps.name === "_tag")?.type : undefined
    return type?._tag === "Literal" && type.literal === tag
  })
  if (found === undefined) throw new Error(`no command ${tag}`)
  return found as MemberOf<T>
}

/** `_tag: T` in memory is `kind: K` on the wire. */
const kind = <T extends Tag, K extends string>(tag: T, k: K) => ({
  _tag: Schema.propertySignature(Schema.transformLiteral(k, tag)).pipe(Schema.fromKey("kind"))
})
/** A member under another name on the wire. */
const wireName = <S extends Schema.Schema.Any, K extends string>(schema: S, key: K) =>
  Schema.propertySignature(schema).pipe(Schema.fromKey(key))

const EnsureTenant = member("EnsureTenant").fields
const TopUp = member("TopUp").fields
const SetExposureCap = member("SetExposureCap").fields
const Reserve = member("Reserve").fields
const Commit = member("Commit").fields
const Release = member("Release").fields
const Expire = member("Expire").fields
const Admit = member("Admit").fields
const Restore = member("Restore").fields

/**
 * An admit: a reserve's members and the audited decision. Its `binding` (of an operation id to
 * the decision) is not written: replay derives it from the audited record (`decodeReplayable`).
 */
const JournalAdmit = jsonObject({
  ...kind("Admit", "admit"),
  tenant: wireName(Admit.tenant, "tenant_id"),
  amount: Admit.amount,
  operation_id: Admit.operation_id,
  ttl_ms: Admit.ttl_ms,
  expires_at_ms: Admit.expires_at_ms,
  audited: JsonValue
})

/** A result remembered under an operation id, as checkpoints hold it: `_tag`, then its fields in the state machine's order. */
const remembered = <T extends string, F extends Schema.Struct.Fields>(tag: T, fields: F) =>
  jsonObject({ _tag: Schema.Literal(tag), ...fields })

/**
 * The results an operation id can remember, decoded by their schema (never read as whatever
 * object a checkpoint holds): every result of a retry-safe command, what applied (`Reserved`,
 * `Committed`, `Released`, `ToppedUp`) and the refusals (since issue 15; recovery checks that
 * each is a result of its command's kind: `consistency.ts`). `Overflow` has one shape per
 * result family: the most specific is tried first.
 */
export const RememberedResult = Schema.Union(
  remembered("Reserved", {
    reservation_id: Schema.compose(Int.U64, ReservationId),
    remaining_microcents: Int.I64
  }),
  remembered("Committed", { remaining_microcents: Int.I64, actual_microcents: Int.I64 }),
  remembered("Released", { remaining_microcents: Int.I64, returned_microcents: Int.I64 }),
  remembered("ToppedUp", {
    added_microcents: Int.I64,
    new_initial_microcents: Int.I64,
    remaining_microcents: Int.I64
  }),
  remembered("Insufficient", { remaining_microcents: Int.I64, required_microcents: Int.I64 }),
  remembered("ExposureLimitExceeded", { current_reserved_microcents: Int.I64, max_reserved_microcents: Int.I64 }),
  remembered("Overrun", { remaining_microcents: Int.I64 }),
  remembered("Overflow", { current_reserved_microcents: Int.I64 }),
  remembered("Overflow", { remaining_microcents: Int.I64 }),
  remembered("Overflow", {}),
  remembered("MissingTenant", {}),
  remembered("MissingReservation", {}),
  remembered("InvalidAmount", {})
)

const JournalTopUp = jsonObject({
  ...kind("TopUp", "top_up"),
  tenant: wireName(TopUp.tenant, "tenant_id"),
  amount: TopUp.amount,
  operation_id: TopUp.operation_id
})
const JournalReserve = jsonObject({
  ...kind("Reserve", "reserve"),
  tenant: wireName(Reserve.tenant, "tenant_id"),
  amount: Reserve.amount,
  operation_id: Reserve.operation_id,
  ttl_ms: Reserve.ttl_ms,
  expires_at_ms: Reserve.expires_at_ms
})
const JournalCommit = jsonObject({
  ...kind("Commit", "commit"),
  reservation: wireName(Commit.reservation, "reservation_id"),
  actual: Commit.actual,
  operation_id: Commit.operation_id
})
const JournalRelease = jsonObject({
  ...kind("Release", "release"),
  reservation: wireName(Release.reservation, "reservation_id"),
  operation_id: Release.operation_id
})

/**
 * A refusal remembered under an operation id (ours, SPEC §8; no journal before issue 15 holds
 * one): the retry-safe command as it is journaled when it applies (an admit with its audited
 * decision), and the refusal it met, as a checkpoint remembers it. Replay applies the command,
 * which must meet exactly that refusal (it changes nothing but the remembered ids).
 * `{"kind":"refused","command":{"kind":"reserve",…},"result":{"_tag":"Insufficient",…}}`
 */
const JournalRefused = jsonObject({
  _tag: Schema.propertySignature(Schema.transformLiteral("refused", "Refused")).pipe(Schema.fromKey("kind")),
  command: Schema.Union(JournalTopUp, JournalReserve, JournalCommit, JournalRelease, JournalAdmit),
  result: RememberedResult
})

/**
 * One journaled command: in memory the `Command` (an admit with the audited decision it carries
 * on the journal, without its binding), on the wire the reference's record
 * (`{"kind":"reserve","tenant_id":…}`); or a refusal remembered under an operation id.
 */
export const JournalCommand = Schema.Union(
  jsonObject({
    ...kind("EnsureTenant", "ensure_tenant"),
    tenant: wireName(EnsureTenant.tenant, "tenant_id"),
    amount: EnsureTenant.amount
  }),
  JournalTopUp,
  jsonObject({
    ...kind("SetExposureCap", "set_cap"),
    tenant: wireName(SetExposureCap.tenant, "tenant_id"),
    max: SetExposureCap.max
  }),
  JournalReserve,
  JournalCommit,
  JournalRelease,
  jsonObject({ ...kind("Expire", "expire"), reservation: wireName(Expire.reservation, "reservation_id") }),
  jsonObject(kind("TakeSnapshot", "snapshot")),
  jsonObject(kind("VerifyConservation", "verify_conservation")),
  jsonObject(kind("ProveConservation", "prove_conservation")),
  jsonObject(kind("CertifyLedger", "certify")),
  jsonObject({ ...kind("Restore", "restore"), snapshot: Restore.snapshot }),
  JournalAdmit,
  JournalRefused
)
export type JournalCommand = typeof JournalCommand.Type

const Hold = jsonObject({
  reservation_id: Int.U64,
  tenant_id: Schema.String,
  amount: Int.I64,
  expires_at_ms: Schema.optional(Int.I64)
})
const Cap = jsonObject({ tenant_id: Schema.String, max: Int.I64 })
const Operation = jsonObject({ operation_id: Schema.String, fingerprint: Schema.String, result: RememberedResult })

/** The whole ledger state at one point of the journal. */
export const Checkpoint = jsonObject({
  tenants: Schema.Array(Snapshot.TenantBalance),
  holds: Schema.Array(Hold),
  caps: Schema.Array(Cap),
  operations: Schema.Array(Operation),
  /**
   * how many operation ids the ledger remembers from this point of the journal on (absent: the
   * default, `LedgerState.DEFAULT_OPERATION_WINDOW`; a journal without it was written with it)
   */
  operation_window: Schema.optional(Int.U64),
  next_reservation: Int.U64,
  snapshot_version: Int.U64,
  baseline: Int.I64
})
export type Checkpoint = typeof Checkpoint.Type

/** A journal entry. */
const CheckpointEntry = jsonObject({ v: Schema.Literal(VERSION), checkpoint: Checkpoint })
export const JournalEntry = Schema.Union(
  jsonObject({ v: Schema.Literal(VERSION), commands: Schema.Array(JournalCommand) }),
  CheckpointEntry
)
export type JournalEntry = typeof JournalEntry.Type

/**
 * A command with what only the journal carries (the audited decision of an admit; the refusal
 * it met, when it is journaled as a refusal remembered under its operation id).
 */
export interface Journaled {
  readonly command: L.Command
  readonly audited?: Json.Json | undefined
  readonly refused?: L.Result | undefined
}

/** The journal's form of a command: an admit carries its audited decision (`null` when none). */
export const journalCommand = ({ audited, command, refused }: Journaled): JournalCommand => {
  if (refused !== undefined) {
    return {
      _tag: "Refused",
      command: journalCommand({ audited, command }),
      result: refused
    } as unknown as JournalCommand
  }
  if (command._tag !== "Admit") return command
  // (on the journaled admit path: a copy and one store cost a fraction of a spread)
  const admit: { -readonly [K in keyof typeof command]: (typeof command)[K] } & { audited?: Json.Json } = Object
    .assign({}, command)
  admit.audited = audited ?? null
  return admit as JournalCommand
}

/** The checkpoint of a state. */
export const checkpointOf = (s: L.LedgerState): Checkpoint => {
  const holds = [...s.holds].map(([id, h]) => ({
    reservation_id: id,
    tenant_id: h.tenant,
    amount: h.amount,
    ...(h.expiresAt === undefined ? {} : { expires_at_ms: h.expiresAt })
  }))
  return {
    tenants: L.balances(s, s.snapshotVersion).tenants,
    holds,
    caps: [...s.caps].map(([tenant_id, max]) => ({ tenant_id, max })),
    operations: [...s.operations].map(([operation_id, r]) => ({
      operation_id,
      fingerprint: r.fingerprint,
      result: r.result
    })),
    ...(s.operations.limit === L.DEFAULT_OPERATION_WINDOW ? {} : { operation_window: BigInt(s.operations.limit) }),
    next_reservation: s.nextReservation,
    snapshot_version: s.snapshotVersion,
    baseline: s.baseline
  } as unknown as Checkpoint
}

/**
 * The state of a checkpoint (its operation window checked by the caller: `consistency.ts`). A
 * checkpoint written before the window existed remembers every id: the oldest beyond the
 * default window are forgotten as it loads, as its writer would have forgotten them.
 */
export const stateOf = (c: Checkpoint): L.LedgerState => {
  const s = new L.LedgerState()
  if (c.operation_window !== undefined) s.operations.limit = Number(c.operation_window)
  for (const cap of c.caps) s.caps.set(cap.tenant_id, cap.max)
  for (const t of c.tenants) {
    L.putTenant(s, t.tenant_id, {
      initial: t.initial_microcents,
      remaining: t.remaining_microcents,
      reserved: t.reserved_microcents,
      committed: t.committed_microcents
    })
  }
  for (const h of c.holds) {
    L.putHold(
      s,
      h.reservation_id,
      h.tenant_id,
      s.tenants.get(h.tenant_id),
      h.amount,
      small(h.amount),
      h.expires_at_ms
    )
  }
  for (const o of c.operations) {
    s.operations.set(o.operation_id, { fingerprint: o.fingerprint, result: o.result })
  }
  s.nextReservation = c.next_reservation
  s.snapshotVersion = c.snapshot_version
  s.baseline = c.baseline
  return s
}

// the compiled codec: exactly the Schemas' output, or the Schema decides (and words the error)
const encodeEntry = Codec.encodeEither(JournalEntry)
const decodeEntry = Codec.decodeUnknownEither(JournalEntry)

/** A refusal remembered under an operation id, as replay applies it: the command, and the refusal it met. */
export interface Refused {
  readonly _tag: "Refused"
  readonly command: L.Command
  readonly result: L.Result
}

/** A journaled command as replay applies it. */
export type ReplayCommand = L.Command | Refused

/** What recovery needs of a journal entry: its commands, or its checkpoint. */
export type Replayable =
  | { readonly _tag: "Commands"; readonly commands: ReadonlyArray<ReplayCommand> }
  | { readonly _tag: "Checkpoint"; readonly checkpoint: Checkpoint }

/** Give an admit under an operation id the binding its audited decision gives it (in place). */
const bindAdmit = (c: JournalCommand): void => {
  if (c._tag !== "Admit" || c.operation_id === undefined) return
  const binding = L.bindingOfAudited(c.audited)
  if (binding !== undefined) (c as { binding?: string }).binding = binding
}

/**
 * The commands of a decoded group, each admit under an operation id (a refused one too) given
 * the binding its audited decision gives it (what `Ledger.admit` bound the id to:
 * `LedgerState.bindingOfAudited`). The decoded values are fresh: the binding is set on them in place.
 */
const bind = (commands: ReadonlyArray<JournalCommand>): ReadonlyArray<ReplayCommand> => {
  for (const c of commands) bindAdmit(c._tag === "Refused" ? c.command : c)
  return commands as ReadonlyArray<ReplayCommand>
}

/** What replay applies of a decoded entry: its commands (admits bound), or its checkpoint. */
export const replayableOf = (entry: JournalEntry): Replayable =>
  "checkpoint" in entry
    ? { _tag: "Checkpoint", checkpoint: entry.checkpoint }
    : { _tag: "Commands", commands: bind(entry.commands) }

/** Decode a journal entry for replay. */
export const decodeReplayable = (json: Json.Json): Either.Either<Replayable, ParseResult.ParseError> =>
  Either.map(decode(json), replayableOf)

/** The Json of a group of commands. */
export const encodeCommands = (
  commands: ReadonlyArray<Journaled>
): Either.Either<Json.Json, ParseResult.ParseError> => {
  const wire: Array<JournalCommand> = new Array(commands.length)
  for (let i = 0; i < commands.length; i++) wire[i] = journalCommand(commands[i] as Journaled)
  return encodeEntry({ v: VERSION, commands: wire })
}

const utf8Encoder = new TextEncoder()

/** The UTF-8 bytes of one record's data as an entry of its own (its `Json.print`; `Infinity` when it does not encode). */
export const recordBytes = (record: Journaled): number =>
  Either.match(encodeCommands([record]), {
    onLeft: () => Infinity,
    onRight: (json) => utf8Encoder.encode(Json.print(json)).length
  })

/**
 * The most a journal record takes besides an unbounded part (an admit's audited decision, a
 * restore's snapshot): a tenant id (1,024 UTF-8 bytes, 6 a unit at most escaped), an operation
 * id (256), a binding, the integers and member names of any command, a result.
 */
const BOUNDED_RECORD_BYTES = 16 * 1024
/** The longest envelope a WAL line puts around its data: a u64 sequence, two hashes of 64 characters. */
const ENVELOPE_BYTES = lineBytes(2n ** 64n - 1n, "f".repeat(64), "f".repeat(64), 0)

/**
 * What a refused record adds to its command's at most, by kind (journaled only under an
 * operation id): `{"kind":"refused","command":…,"result":…}` around it (~40 bytes), and the
 * kind's longest refusal — a reserve's or admit's `ExposureLimitExceeded` with two i64s (~130),
 * a commit's `Overrun` with one (~62), a top-up's `InvalidAmount` (~24).
 */
const REFUSAL_BYTES: Readonly<Record<string, number>> = {
  Reserve: 192,
  Admit: 192,
  Commit: 128,
  Release: 128,
  TopUp: 96
}

/** What a file journal's record of `command` may add if it is journaled as a refusal (0 without an operation id). */
export const refusalBytes = (command: L.Command): number =>
  (command as { readonly operation_id?: string }).operation_id === undefined ? 0 : REFUSAL_BYTES[command._tag] ?? 0

/** What a PostgreSQL journal's record adds to the command's: `{"v":1,"command":…,"result":R}` (R a result, ~130 bytes at most). */
export const RESULT_BYTES = 256

/**
 * A command whose journal record alone could not fit one WAL line of at most `limit` bytes (with
 * `extra` bytes more: a refusal's or a result's), or undefined: refused before it is applied
 * (applied, it was then refused by the log and failed the ledger closed for every caller — or,
 * in PostgreSQL, journaled in a line no audit reads back: helpers' hostile reviews). Known from
 * the bounds without printing (`internal/bounds.ts`: an admit's metadata measured when
 * checked); else the record is printed once more and measured.
 */
export const lineProblem = (
  command: L.Command,
  audit: unknown,
  audited: Json.Json | undefined,
  limit: number,
  extra: number
): InvalidArgument | undefined => {
  const unbounded = command._tag === "Restore" ? undefined : audited === undefined ? 0 : boundOf(audit)
  if (unbounded !== undefined && ENVELOPE_BYTES + BOUNDED_RECORD_BYTES + unbounded + extra <= limit) return undefined
  const bytes = ENVELOPE_BYTES + recordBytes({ command, audited }) + extra
  if (bytes <= limit) return undefined
  const field = command._tag === "Restore" ? "snapshot" : audited !== undefined ? "audited" : "command"
  return new InvalidArgument({
    field,
    value: Number.isFinite(bytes) ? `${bytes} bytes` : "a record the journal cannot encode",
    reason:
      `its journal line would take up to ${bytes} bytes, more than the journal's line limit (maxLineBytes) of ${limit}: it cannot be journaled (an admit's metadata, a restore's snapshot or an id this large)`
  })
}

/** The Json of a checkpoint. */
export const encodeCheckpoint = (s: L.LedgerState): Either.Either<Json.Json, ParseResult.ParseError> =>
  encodeEntry({ v: VERSION, checkpoint: checkpointOf(s) })

const decodeCheckpointEntry = Codec.decodeUnknownEither(CheckpointEntry)

/**
 * Decode a journal entry. An entry holding a checkpoint (and no commands) that fails is refused
 * with the checkpoint's own error, naming its field and value (the union's error would name the
 * first member's: "commands: is missing").
 */
export const decode = (json: Json.Json): Either.Either<JournalEntry, ParseResult.ParseError> => {
  const entry = decodeEntry(json)
  return Either.isLeft(entry) && json instanceof Map && json.has("checkpoint") && !json.has("commands")
    ? Either.flatMap(decodeCheckpointEntry(json), () => entry)
    : Either.flatMap(entry, (decoded) => exactly(json, decoded))
}

/** The wire member names of a `jsonObject` schema (its struct's encoded side). */
const wireNames = (schema: Schema.Schema.Any): ReadonlySet<string> => {
  const ast = schema.ast
  const encoded = AST.encodedAST(ast._tag === "Transformation" ? ast.to : ast)
  return new Set(encoded._tag === "TypeLiteral" ? encoded.propertySignatures.map((ps) => String(ps.name)) : [])
}
const ENTRY_MEMBERS: ReadonlySet<string> = new Set(["v", "checkpoint"])
const UNKNOWN_MEMBER = "is not a member of a journal record: the writer never writes it"
const CHECKPOINT_MEMBERS = wireNames(Checkpoint)

/**
 * A decoded entry, once it holds no member the writer never writes: the decoder passes over a
 * member it does not know, so a record carrying one is refused, named — an admit's audited
 * decision (`audited`) on a reserve rode through the audit unaudited, the journal verifying (a
 * hostile review). A group of commands must encode back to the members and values it was decoded
 * from (member order not compared); a checkpoint's own members and the entry's are checked by
 * name, not the members of every tenant, hold and remembered result inside it: re-encoding a
 * checkpoint of 100,000 holds tripled its decoding (~150 to ~450 ms here), and what such a member
 * could carry is never applied nor audited (the state is what the checkpoint decodes to, and
 * an audit replays the commands before it and compares). (Only the exact path: the fast path
 * reads the writer's form of plain commands and nothing else.)
 */
const exactly = (json: Json.Json, decoded: JournalEntry): Either.Either<JournalEntry, ParseResult.ParseError> => {
  let found: ReturnType<typeof difference>
  if ("checkpoint" in decoded) {
    const checkpoint = json instanceof Map ? json.get("checkpoint") : undefined
    found = unknownMember(json, ENTRY_MEMBERS, []) ??
      (checkpoint === undefined ? undefined : unknownMember(checkpoint, CHECKPOINT_MEMBERS, ["checkpoint"]))
  } else {
    const encoded = encodeEntry(decoded)
    if (Either.isLeft(encoded)) return Either.left(encoded.left)
    found = difference(json, encoded.right, [])
  }
  if (found === undefined) return Either.right(decoded)
  const [first, ...rest] = found.path
  const issue = new ParseResult.Type(JournalEntry.ast, json, found.message)
  return Either.left(
    new ParseResult.ParseError({
      issue: first === undefined ? issue : new ParseResult.Pointer([first, ...rest], json, issue)
    })
  )
}

/**
 * The first place where `read` (a record as decoded from) and `written` (its decoded value
 * encoded) differ; `path` is the way there (a stack: pushed and popped, copied only for an answer).
 */
const difference = (
  read: Json.Json,
  written: Json.Json,
  path: Array<string | number>
): { readonly path: ReadonlyArray<string | number>; readonly message: string } | undefined => {
  if (read instanceof Map && written instanceof Map) {
    for (const [key, value] of read) {
      const inner = written.get(key)
      path.push(key)
      if (inner === undefined) {
        return { path: [...path], message: UNKNOWN_MEMBER }
      }
      const found = difference(value, inner, path)
      if (found !== undefined) return found
      path.pop()
    }
    if (read.size !== written.size) {
      for (const key of written.keys()) {
        if (!read.has(key)) return { path: [...path, key], message: "is missing" }
      }
    }
    return undefined
  }
  if (Array.isArray(read) && Array.isArray(written) && read.length === written.length) {
    for (let i = 0; i < read.length; i++) {
      path.push(i)
      const found = difference(read[i] as Json.Json, written[i] as Json.Json, path)
      if (found !== undefined) return found
      path.pop()
    }
    return undefined
  }
  return sameLeaf(read, written) ? undefined : { path: [...path], message: "is not what its decoded value encodes to" }
}

/** The first member of the object `json` not in `names`, at `path`. */
const unknownMember = (
  json: Json.Json,
  names: ReadonlySet<string>,
  path: ReadonlyArray<string>
): ReturnType<typeof difference> => {
  if (!(json instanceof Map)) return undefined
  for (const key of json.keys()) {
    if (!names.has(key)) {
      return { path: [...path, key], message: UNKNOWN_MEMBER }
    }
  }
  return undefined
}

/** Two Json leaves alike: the same value, an integer as a number or a bigint alike, else as printed. */
const sameLeaf = (a: Json.Json, b: Json.Json): boolean => {
  if (a === b) return true
  if (typeof a === "bigint" && typeof b === "number") return Number.isSafeInteger(b) && a === BigInt(b)
  if (typeof a === "number" && typeof b === "bigint") return Number.isSafeInteger(a) && BigInt(a) === b
  return Json.print(a) === Json.print(b)
}

// ---------------------------------------------------------------------------------------------
// Recovery's fast decoder: the commands of an entry from its canonical data bytes, without a Json
// value and without the Schema machinery. It reads only the forms the writer writes for the
// plain commands (ensure_tenant, top_up, reserve, commit, release, expire: the wire keys in the
// encoder's order, strings of printable ASCII without escapes, integers within their range)
// and gives up (`undefined`) on anything else — a checkpoint, an admit, a refusal, an unknown
// or missing key, an escape, a number it is not sure of —, which the exact path
// (`decodeReplayable`) then decodes, with its errors. What it returns is what the exact path
// returns for the same text (tested: test/journalFastDecode.test.ts).

const I64_MIN = -(2n ** 63n)
const I64_MAX = 2n ** 63n - 1n
const U64_MAX = 2n ** 64n - 1n
/** ASCII text as bytes. */
const ascii = (text: string): Uint8Array => Uint8Array.from(text, (c) => c.charCodeAt(0))
const ENTRY_HEAD = ascii("{\"v\":1,\"commands\":[")
const ENTRY_END = ascii("]}")
const KIND = ascii("{\"kind\":")
const TENANT_ID = ascii(",\"tenant_id\":")
const AMOUNT = ascii(",\"amount\":")
const OPERATION_ID = ascii(",\"operation_id\":")
const TTL_MS = ascii(",\"ttl_ms\":")
const EXPIRES_AT_MS = ascii(",\"expires_at_ms\":")
const RESERVATION_ID = ascii(",\"reservation_id\":")
const ACTUAL = ascii(",\"actual\":")
const CLOSE = ascii("}")
const KINDS = ["ensure_tenant", "top_up", "reserve", "commit", "release", "expire"] as const
const KIND_WORDS = KINDS.map((k) => ascii(`"${k}"`))
const utf8 = new TextDecoder()

/** A cursor over the canonical data bytes of an entry. */
class FastText {
  at = 0
  /** `build` false: only check (strings read as "", integers as 0n: nothing allocated for them) */
  constructor(readonly bytes: Uint8Array, readonly build: boolean) {}

  /** The string at the cursor (a `"` there), printable ASCII without escapes; else undefined. */
  string(): string | undefined {
    const bytes = this.bytes
    if (bytes[this.at] !== 0x22) return undefined
    const start = this.at + 1
    let i = start
    for (;; i++) {
      const c = bytes[i] as number
      if (c === 0x22) break
      // past the end, a control character, `\` or beyond ASCII: the exact path decides
      if (!(c >= 0x20 && c <= 0x7e) || c === 0x5c) return undefined
    }
    this.at = i + 1
    if (!this.build) return ""
    // printable ASCII: a code unit per byte (a short string built here costs less than a decoder call)
    if (i - start > 32) return utf8.decode(bytes.subarray(start, i))
    let out = ""
    for (let k = start; k < i; k++) out += String.fromCharCode(bytes[k] as number)
    return out
  }

  /** The kind of command at the cursor (a plain one), else undefined. */
  kind(): typeof KINDS[number] | undefined {
    for (let k = 0; k < KINDS.length; k++) if (this.literal(KIND_WORDS[k] as Uint8Array)) return KINDS[k]
    return undefined
  }

  /** The integer at the cursor in the range of `type` (canonical: no `-0`, no leading zero); else undefined. */
  integer(type: "i" | "u"): bigint | undefined {
    const bytes = this.bytes
    const start = this.at
    let i = start
    const negative = bytes[i] === 0x2d
    if (negative) {
      if (type === "u") return undefined
      i++
    }
    const first = bytes[i] as number
    if (!(first >= 0x30 && first <= 0x39)) return undefined
    const digits = i
    i++
    if (first === 0x30) {
      if (negative) return undefined
    } else {
      for (let c = bytes[i] as number; c >= 0x30 && c <= 0x39; c = bytes[++i] as number);
    }
    // only `,` or `}` may follow (a `.`, `e` or anything else: the exact path)
    const next = bytes[i]
    if (next !== 0x2c && next !== 0x7d) return undefined
    this.at = i
    if (i - digits <= 15) {
      if (!this.build) return 0n
      let n = 0
      for (let k = digits; k < i; k++) n = n * 10 + ((bytes[k] as number) - 0x30)
      return BigInt(negative ? -n : n)
    }
    if (i - digits > 20) return undefined
    const value = BigInt(utf8.decode(bytes.subarray(start, i)))
    return (type === "u" ? value <= U64_MAX : value >= I64_MIN && value <= I64_MAX)
      ? this.build ? value : 0n
      : undefined
  }

  /** The literal `word` at the cursor (then past it). */
  literal(word: Uint8Array): boolean {
    const bytes = this.bytes
    const at = this.at
    for (let k = 0; k < word.length; k++) if (bytes[at + k] !== word[k]) return false
    this.at = at + word.length
    return true
  }
}

/** The optional operation id (`,"operation_id":"…"`) at the cursor: its value, null when absent, undefined to give up. */
const optionalId = (t: FastText): string | null | undefined => t.literal(OPERATION_ID) ? t.string() : null

/** What a command checked without building it is read as (never replayed). */
const CHECKED = { _tag: "Expire", reservation: 0n }

/** A command's end (`}`), then the command; undefined to give up. */
const closed = (t: FastText, command: object): L.Command | undefined =>
  t.literal(CLOSE) ? command as L.Command : undefined

/** One plain command at the cursor (a `{` there); undefined when the exact path must decode it. */
const fastCommand = (t: FastText): L.Command | undefined => {
  if (!t.literal(KIND)) return undefined
  const kindName = t.kind()
  switch (kindName) {
    case "ensure_tenant":
    case "top_up":
    case "reserve": {
      if (!t.literal(TENANT_ID)) return undefined
      const tenant = t.string()
      if (tenant === undefined || !t.literal(AMOUNT)) return undefined
      const amount = t.integer("i")
      if (amount === undefined) return undefined
      if (kindName === "ensure_tenant") return closed(t, t.build ? { _tag: "EnsureTenant", tenant, amount } : CHECKED)
      const id = optionalId(t)
      if (id === undefined) return undefined
      if (kindName === "top_up") {
        return closed(
          t,
          !t.build
            ? CHECKED
            : id === null
            ? { _tag: "TopUp", tenant, amount }
            : { _tag: "TopUp", tenant, amount, operation_id: id }
        )
      }
      const command: ({ _tag: "Reserve"; tenant: string; amount: bigint } & Record<string, unknown>) | undefined =
        t.build ? { _tag: "Reserve", tenant, amount } : undefined
      if (command !== undefined && id !== null) command.operation_id = id
      if (t.literal(TTL_MS)) {
        const ttl = t.integer("i")
        if (ttl === undefined) return undefined
        if (command !== undefined) command.ttl_ms = ttl
      }
      if (t.literal(EXPIRES_AT_MS)) {
        const expires = t.integer("i")
        if (expires === undefined) return undefined
        if (command !== undefined) command.expires_at_ms = expires
      }
      return closed(t, command ?? CHECKED)
    }
    case "commit":
    case "release":
    case "expire": {
      if (!t.literal(RESERVATION_ID)) return undefined
      const reservation = t.integer("u")
      if (reservation === undefined) return undefined
      if (kindName === "expire") return closed(t, t.build ? { _tag: "Expire", reservation } : CHECKED)
      if (kindName === "release") {
        const id = optionalId(t)
        if (id === undefined) return undefined
        return closed(
          t,
          !t.build
            ? CHECKED
            : id === null
            ? { _tag: "Release", reservation }
            : { _tag: "Release", reservation, operation_id: id }
        )
      }
      if (!t.literal(ACTUAL)) return undefined
      const actual = t.integer("i")
      if (actual === undefined) return undefined
      const id = optionalId(t)
      if (id === undefined) return undefined
      return closed(
        t,
        !t.build
          ? CHECKED
          : id === null
          ? { _tag: "Commit", reservation, actual }
          : { _tag: "Commit", reservation, actual, operation_id: id }
      )
    }
    default:
      return undefined
  }
}

/**
 * The commands of the entry at the start of `t`, pushed on `out` when given (else only
 * checked): how many, or undefined to give up.
 */
const fastCommands = (t: FastText, out: Array<ReplayCommand> | undefined): number | undefined => {
  const bytes = t.bytes
  if (!t.literal(ENTRY_HEAD)) return undefined
  let count = 0
  if (bytes[t.at] !== 0x5d) {
    for (;;) {
      const command = fastCommand(t)
      if (command === undefined) return undefined
      if (out !== undefined) out.push(command)
      count++
      if (bytes[t.at] !== 0x2c) break
      t.at++
    }
  }
  return t.literal(ENTRY_END) && t.at === bytes.length ? count : undefined
}

/**
 * The commands of an entry whose canonical data (its UTF-8 bytes) is `data`, when it holds only plain
 * commands in the writer's form: what `decodeReplayable` would return for it; else undefined
 * (the exact path decides, and words any error).
 */
export const fastReplayable = (data: Uint8Array): Replayable | undefined => {
  const commands: Array<ReplayCommand> = []
  return fastCommands(new FastText(data, true), commands) === undefined ? undefined : { _tag: "Commands", commands }
}

/**
 * How many commands `fastReplayable` would return for `data`, checked as it checks them without
 * building them (for entries that a later checkpoint may make unnecessary to replay), or
 * undefined exactly when it would return undefined.
 */
export const fastCount = (data: Uint8Array): number | undefined => fastCommands(new FastText(data, false), undefined)
