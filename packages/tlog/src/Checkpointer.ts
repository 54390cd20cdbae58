/**
 * Periodic signed checkpoints (issue 17): a log's owner publishes its head as a C2SP checkpoint
 * (Checkpoint.ts, c2sp.org/tlog-checkpoint) signed as a C2SP signed note (Note.ts), written to
 * the C2SP location `<log>.tlog/checkpoint` (c2sp.org/tlog-tiles), so an operator publishes
 * heads without extra tooling.
 *
 * `make(options, source)` (scoped; needs a `FileSystem`): `source.head` gives the tree's size and
 * root (TreeLog's head); the owner calls `afterAppend(size)` after each acknowledged append.
 * - `every.entries = N`: a checkpoint is signed when the size given to `afterAppend` is N or more
 *   beyond the last checkpoint's size (appended one by one: at N, 2N, 3N… exactly). The signed
 *   head is `source.head` at that moment (≥ the size given, when appends run concurrently).
 * - `every.seconds = T`: a scoped fiber wakes every T seconds on the `Clock` and signs the head
 *   when its size moved since the last checkpoint (no checkpoint of an unchanged head), or when
 *   there is no checkpoint yet (an empty log's is of size 0: C2SP has a log always serve one),
 *   and writes the last one again when its file was removed. Before any checkpoint, a file that is
 *   no longer the last one written is read as at start (below): a checkpoint written there
 *   meanwhile is evidence the head must extend, never overwritten by an older head.
 * - `publish` signs the head now (returns the last checkpoint when the head did not move and it
 *   is on disk); `latest` is the last checkpoint written by this checkpointer (or found on disk at
 *   start, see below).
 * - On scope close (the fiber stopped first), a final checkpoint when the size moved or there is
 *   none yet; its failure is logged (a finalizer cannot fail), the previous checkpoint stays.
 *
 * At start an existing checkpoint file that every one of these signers signed and that has this
 * origin is `latest` (a restart does not re-sign an unchanged head); one that only some of them
 * signed (a signer added) is evidence, and the next checkpoint is signed even at that size. One
 * that only parses as a signed checkpoint (signed with another key — a key rotated —, of another
 * origin, its signature changed) is still evidence: the head must extend it like `latest` (else `CheckpointerHeadRegressed`),
 * the next checkpoint replaces it, and a warning is logged. Before, such a file was ignored, so
 * that a log rolled back and opened with another signer key was signed over its published
 * checkpoint. A file that cannot be read (any error but not-found: permissions, EIO…), is not a
 * regular file (a FIFO would block the open; a device fill memory) or is larger than 1 MiB, or is
 * not a signed checkpoint at all, is not taken for "none" — it may be the published checkpoint a
 * rolled-back log contradicts: it is a pending failure (`CheckpointerWriteFailed`, operation
 * `read`), and every checkpoint reads it again first, signing nothing until it can.
 *
 * Refused, typed, before anything is read or written (`CheckpointerOptionsInvalid`, naming the
 * field and the value): an origin that is not a checkpoint origin line (empty, control
 * characters, not well-formed), no signer, a signer that is not an Ed25519 note key (type 0x01:
 * a cosignature key signs another message), two signers with the same name and key ID, more
 * than `Note.MAX_SIGNATURES` signers, `every` with neither `entries` nor `seconds`, either not a
 * positive safe integer, an empty path or one holding NUL.
 *
 * Never signed (`CheckpointerHeadRegressed`): a head smaller than the last checkpoint's (a
 * rollback), of the same size with another root, or — when the source gives `rootAt` — one
 * whose tree has another root at the last checkpoint's size (a fork): signing any of them would
 * be a split view, the very thing witnesses look for. (Without `rootAt` a bigger head cannot be
 * checked against the last checkpoint: the source is trusted to be append-only.) A checkpoint
 * found at start that the head contradicts is a pending failure from the start (below): the
 * owner's appends fail until an operator looks (e.g. a log restored from an old backup). Every note is verified with the signers' own public
 * keys before it is written (`CheckpointerSignFailed`, reason `self-check`): a broken signer
 * never publishes a checkpoint its verifier key rejects.
 *
 * Atomic write: the note goes to `<path>.tmp` (truncated), is fsynced, then renamed over
 * `<path>`; a crash or a failure at any step leaves the old checkpoint or the new one, never a
 * torn file (the temp file is removed on failure). Gap: `FileSystem` cannot fsync a directory,
 * so after a power loss the rename itself may be lost (the old checkpoint comes back — still a
 * complete, verifying note); the directory must exist (TreeLog creates `<log>.tlog/`).
 *
 * Failures are fail-closed, as the issue prefers for an audited log: a failed checkpoint
 * (signing, writing, the source's head) is kept as the checkpointer's pending failure. A failed
 * periodic checkpoint cannot fail its fiber's owner directly, so it is logged and the NEXT
 * `afterAppend` (and `publish`) retries it first: when the retry succeeds the failure clears,
 * otherwise that call fails with the error. The owner thus learns of every failure on its next
 * append and never silently runs on with heads that are not published, while a transient
 * failure (a full disk freed) heals without a restart. An `afterAppend` that crosses the entries
 * threshold fails directly with its own checkpoint's error. The fiber keeps running after a
 * failure (the next tick retries as well).
 */
import type { PlatformError } from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Checkpoint from "./Checkpoint.js"
import { writeAtomic } from "./internal/atomicFile.js"
import { readBounded } from "./internal/boundedRead.js"
import { equalBytes } from "./internal/hash.js"
import { quote } from "./internal/quote.js"
import * as Note from "./Note.js"

/** The tree a checkpointer signs: its current size and root (TreeLog's `head`). */
export interface Head {
  readonly size: bigint
  readonly root: Uint8Array
}

/** Where the head comes from. */
export interface Source<E = never> {
  readonly head: Effect.Effect<Head, E>
  /**
   * The tree's root at an earlier size, when the source can tell (a tree store answers in
   * O(log n)): before signing a bigger head, the last checkpoint's root must be the tree's root
   * at its size — else the history under the published checkpoint changed (a fork).
   */
  readonly rootAt?: ((size: bigint) => Effect.Effect<Uint8Array, E>) | undefined
}

export interface Options {
  /** The checkpoint's origin line (C2SP: the log's name; SHOULD be the log key's name). */
  readonly origin: string
  /** The log's Ed25519 note signers (at least one). */
  readonly signers: ReadonlyArray<Note.Signer>
  /** Sign every `entries` appended entries and/or every `seconds` (at least one). */
  readonly every: { readonly entries?: number | undefined; readonly seconds?: number | undefined }
  /** The file to write (the C2SP location `<log>.tlog/checkpoint`); its directory must exist. */
  readonly write: string
}

/** A checkpoint signed and written: its body and the signed note's text. */
export class SignedCheckpoint extends Schema.Class<SignedCheckpoint>("SignedCheckpoint")({
  checkpoint: Checkpoint.Checkpoint,
  note: Schema.String
}) {}

/** An option refused by `make`: `field` names it, `value` shows it (never a secret). */
export class CheckpointerOptionsInvalid extends Schema.TaggedError<CheckpointerOptionsInvalid>()(
  "CheckpointerOptionsInvalid",
  { field: Schema.String, value: Schema.String, reason: Schema.String }
) {
  override get message() {
    return `checkpointer option ${this.field} = ${this.value}: ${this.reason}`
  }
}

/** A checkpoint could not be signed; nothing was written. */
export class CheckpointerSignFailed extends Schema.TaggedError<CheckpointerSignFailed>()("CheckpointerSignFailed", {
  reason: Schema.Literal("note-refused", "signer-threw", "self-check"),
  origin: Schema.String,
  size: Schema.BigIntFromSelf,
  cause: Schema.Defect
}) {
  override get message() {
    return `checkpoint of ${JSON.stringify(this.origin)} at size ${this.size} not signed: ${this.reason}: ${
      this.cause instanceof Error ? this.cause.message : String(this.cause)
    }`
  }
}

/**
 * The checkpoint file could not be replaced — or (`read`) the one on disk could not be read to
 * check the head against it; the previous one (if any) is intact.
 */
export class CheckpointerWriteFailed extends Schema.TaggedError<CheckpointerWriteFailed>()(
  "CheckpointerWriteFailed",
  {
    operation: Schema.Literal("read", "open", "write", "sync", "rename"),
    path: Schema.String,
    size: Schema.BigIntFromSelf,
    cause: Schema.Defect
  }
) {
  override get message() {
    return `checkpoint at size ${this.size} not written: ${this.operation} of ${this.path} failed: ${
      this.cause instanceof Error ? this.cause.message : String(this.cause)
    }`
  }
}

/**
 * The head moved backwards (`size-decreased`), changed at the same size (`root-changed`), or the
 * tree's root at the last checkpoint's size is not that checkpoint's (`history-changed`): not signed.
 */
export class CheckpointerHeadRegressed extends Schema.TaggedError<CheckpointerHeadRegressed>()(
  "CheckpointerHeadRegressed",
  {
    reason: Schema.Literal("size-decreased", "root-changed", "history-changed"),
    signedSize: Schema.BigIntFromSelf,
    headSize: Schema.BigIntFromSelf
  }
) {
  override get message() {
    return `head not signed: ${this.reason} (last checkpoint at size ${this.signedSize}, head at size ${this.headSize})`
  }
}

/** Every failure of a checkpoint (besides the source's own). */
export type CheckpointerError = CheckpointerSignFailed | CheckpointerWriteFailed | CheckpointerHeadRegressed

/** A running checkpointer. */
export interface Checkpointer<E = never> {
  /** Call after each acknowledged append with the tree's new size. */
  readonly afterAppend: (size: bigint) => Effect.Effect<void, CheckpointerError | E>
  /**
   * Before the source signs a checkpoint of its own: retries a pending failure, else requires the
   * head to extend the checkpoint on disk (`CheckpointerHeadRegressed`).
   */
  readonly guard: Effect.Effect<void, CheckpointerError | E>
  /** Signs and writes the head now. */
  readonly publish: Effect.Effect<SignedCheckpoint, CheckpointerError | E>
  /** The last checkpoint written (or found valid on disk at start). */
  readonly latest: Effect.Effect<Option.Option<SignedCheckpoint>>
}

// ---------------------------------------------------------------------------------------------
// Options

const invalid = (field: string, value: string, reason: string) =>
  Either.left(new CheckpointerOptionsInvalid({ field, value: quote(value), reason }))

/** The longest `every.seconds`: a timer of 2^31 - 1 ms (Effect's and Node's longest; a longer one never fires). */
export const MAX_EVERY_SECONDS = Math.floor(0x7fffffff / 1000)

const positiveInteger = (
  field: string,
  value: number | undefined,
  max = Number.MAX_SAFE_INTEGER
): CheckpointerOptionsInvalid | undefined =>
  value === undefined || (Number.isSafeInteger(value) && value > 0 && value <= max)
    ? undefined
    : new CheckpointerOptionsInvalid({
      field,
      value: quote(String(value)),
      reason: typeof value !== "number"
        ? `not a number (a ${typeof value})`
        : Number.isSafeInteger(value) && value > max
        ? `more than ${max} (a longer timer never fires: about 24.8 days at most)`
        : "not a positive integer"
    })

const PROBE = new TextEncoder().encode("calybris checkpointer signer probe\n")

/** Why `signer` cannot sign checkpoints `verifier` (its public key's) accepts, or undefined when it can. */
const probe = (signer: Note.Signer, verifier: Note.Verifier): string | undefined => {
  if (verifier.keyId !== signer.keyId) return "its key ID is not the one of its name and public key"
  let signature: Uint8Array
  try {
    signature = signer.sign(PROBE)
  } catch (error) {
    return `it failed to sign: ${error instanceof Error ? error.message : String(error)}`
  }
  return verifier.verify(PROBE, signature) ? undefined : "its signature does not verify with its public key"
}

/** The signers' verifiers (a signer whose public key is not an Ed25519 key verifies nothing). */
const verifiersOf = (signers: ReadonlyArray<Note.Signer>): Array<Note.Verifier> =>
  signers.map((s) =>
    Either.getOrElse(Note.ed25519Verifier(s.name, s.publicKey), (): Note.Verifier => ({
      // a signer whose public key is not a valid Ed25519 key: its notes fail the self-check
      name: s.name,
      keyId: s.keyId,
      type: s.type,
      publicKey: s.publicKey,
      verify: () => false
    }))
  )

/**
 * Checks the options (what `make` does first, before reading or writing anything), each signer
 * signing a probe its public key must verify (a hostile review: a signer whose key did not
 * match was found only after the first append; and `TreeLog.makeFile`, which validates before it
 * opens the log, created the log and its directory before `make` refused the signer).
 */
export const validate = (options: Options): Either.Either<Options, CheckpointerOptionsInvalid> => {
  // the origin is valid when a checkpoint of it is one `Checkpoint.body` signs (the one rule)
  if (typeof options.origin !== "string") return invalid("origin", String(options.origin), "not a string")
  const body = Checkpoint.checkOrigin(options.origin)
  if (Either.isLeft(body)) {
    return invalid(
      "origin",
      JSON.stringify(options.origin),
      body.left.reason === "newline-in-field" ? "holds a newline" : `not a checkpoint origin line: ${body.left.reason}`
    )
  }
  // (a JavaScript caller is not held by the types: one signer, not in an array, or none, died
  // with a TypeError naming neither: a helper's hostile review)
  if (!Array.isArray(options.signers)) {
    return invalid(
      "signers",
      options.signers === undefined ? "undefined" : typeof options.signers,
      "not an array of signers"
    )
  }
  if (options.signers.length === 0) return invalid("signers", "[]", "at least one signer is needed")
  if (options.signers.length > Note.MAX_SIGNATURES) {
    return invalid("signers", `${options.signers.length} signers`, `more than ${Note.MAX_SIGNATURES}`)
  }
  const labels = new Set<string>()
  for (let i = 0; i < options.signers.length; i++) {
    const s = options.signers[i] as Note.Signer
    if (!Note.isValidName(s.name)) return invalid(`signers[${i}].name`, JSON.stringify(s.name), "not a key name")
    const label = Note.keyLabel(s.name, s.keyId)
    if (s.type !== Note.TYPE_ED25519) {
      return invalid(`signers[${i}].type`, `0x${s.type.toString(16).padStart(2, "0")}`, "not an Ed25519 log key (0x01)")
    }
    if (labels.has(label)) return invalid(`signers[${i}]`, label, "two signers with the same name and key ID")
    labels.add(label)
  }
  const verifiers = verifiersOf(options.signers)
  for (let i = 0; i < options.signers.length; i++) {
    const s = options.signers[i] as Note.Signer
    const broken = probe(s, verifiers[i] as Note.Verifier)
    if (broken !== undefined) return invalid(`signers[${i}]`, Note.keyLabel(s.name, s.keyId), broken)
  }
  // (checked as a JavaScript caller or a configuration file may give it, whatever the types say)
  const every: unknown = options.every
  if (typeof every !== "object" || every === null) {
    return invalid("every", String(every), "give every.entries and/or every.seconds")
  }
  const { entries, seconds } = options.every
  if (entries === undefined && seconds === undefined) {
    return invalid("every", "{}", "give every.entries and/or every.seconds")
  }
  const bad = positiveInteger("every.entries", entries) ?? positiveInteger("every.seconds", seconds, MAX_EVERY_SECONDS)
  if (bad !== undefined) return Either.left(bad)
  if (typeof options.write !== "string" || options.write.length === 0 || options.write.includes("\0")) {
    return invalid("write", JSON.stringify(options.write), "not a file path")
  }
  return Either.right(options)
}

// ---------------------------------------------------------------------------------------------
// Signing and writing

const encoder = new TextEncoder()

/** Signs a head's checkpoint and checks the note with the signers' own public keys. */
const signHead = (
  origin: string,
  signers: ReadonlyArray<Note.Signer>,
  verifiers: ReadonlyArray<Note.Verifier>,
  head: Head
): Either.Either<SignedCheckpoint, CheckpointerSignFailed> => {
  const failed = (reason: CheckpointerSignFailed["reason"], cause: unknown) =>
    Either.left(new CheckpointerSignFailed({ reason, origin, size: head.size, cause }))
  const checkpoint = new Checkpoint.Checkpoint({ origin, size: head.size, root: head.root.slice(), extensions: [] })
  let note: Either.Either<string, Note.NoteMalformed>
  try {
    note = Note.sign(Checkpoint.format(checkpoint), signers)
  } catch (cause) {
    return failed("signer-threw", cause)
  }
  if (Either.isLeft(note)) return failed("note-refused", note.left)
  const verified = Checkpoint.verifyCheckpoint(note.right, verifiers, { origin })
  if (Either.isLeft(verified)) return failed("self-check", verified.left)
  if (verified.right.signers.length !== signers.length) {
    return failed("self-check", new Error(`verified by ${verified.right.signers.join(", ")} only`))
  }
  return Either.right(new SignedCheckpoint({ checkpoint, note: note.right }))
}

/** Replaces `path` by `bytes`: temp file, fsync, rename; the temp file is removed on failure. */
const writeAtomically = (fs: FileSystem.FileSystem, path: string, size: bigint, bytes: Uint8Array) =>
  Effect.mapError(
    writeAtomic(fs, path, bytes, true),
    (failure) => new CheckpointerWriteFailed({ ...failure, size })
  )

/** What the checkpoint file found at start holds. */
interface Found {
  /** it verifies with these keys and has this origin: the checkpoint this checkpointer goes on from */
  readonly latest: Option.Option<SignedCheckpoint>
  /** the checkpoint it records, verified or not (another key's, another origin's): the head must extend it */
  readonly evidence: Option.Option<Checkpoint.Checkpoint>
}

/** A checkpoint file larger than this is not one (a note of 100 signature lines is ~20 KB). */
const MAX_CHECKPOINT_BYTES = 1024 * 1024

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })

/**
 * The checkpoint already at `path`: none when there is no file. A file that verifies with these
 * keys and has this origin is `latest`; one that only parses as a signed checkpoint (another
 * signer's key — a key rotated —, another origin, a signature changed) is still evidence: the head
 * must extend it, and the next checkpoint replaces it. Anything else fails — a file that cannot
 * be read, that is not a regular file (a FIFO would block the open forever; a device, fill
 * memory) or is larger than any checkpoint, that is not a signed checkpoint at all: it may be the
 * published checkpoint, and a rolled-back log must not be signed over it.
 */
const readExisting = (
  fs: FileSystem.FileSystem,
  path: string,
  origin: string,
  verifiers: ReadonlyArray<Note.Verifier>
): Effect.Effect<Found, PlatformError | Error> =>
  Effect.gen(function*() {
    // a symbolic link, even one to nothing, is not "no checkpoint" (a rolled-back log would be
    // signed over the checkpoint it names), and is never replaced by the write (a regular file
    // would take its place: a helper's hostile review)
    if (Either.isRight(yield* Effect.either(fs.readLink(path)))) {
      return yield* Effect.fail(
        new Error("a symbolic link: the checkpoint is written as a regular file there (replace the link by its file)")
      )
    }
    const found = yield* readBounded(fs, path, MAX_CHECKPOINT_BYTES)
    if (found._tag === "Missing") return { latest: Option.none(), evidence: Option.none() }
    if (found._tag === "NotRegular") return yield* Effect.fail(new Error(`not a regular file (a ${found.type})`))
    if (found._tag === "TooLarge") {
      return yield* Effect.fail(new Error(`${found.size} bytes: no checkpoint is larger than ${MAX_CHECKPOINT_BYTES}`))
    }
    const bytes = found.bytes
    const text = yield* Effect.try({ try: () => strictUtf8.decode(bytes), catch: () => new Error("not UTF-8") })
    const verified = Checkpoint.verifyCheckpoint(text, verifiers, { origin })
    if (Either.isRight(verified)) {
      const checkpoint = verified.right.checkpoint
      // `latest` only when every signer signed it, as every checkpoint signed here is; one that
      // lacks a signer (a signer added since) is evidence, re-signed even at an unchanged head
      // (before, the new signer's signature was missing until the head moved: a hostile review)
      const signed = new Set(verified.right.signers)
      const everySigner = verifiers.every((v) => signed.has(Note.keyLabel(v.name, v.keyId)))
      return {
        latest: everySigner ? Option.some(new SignedCheckpoint({ checkpoint, note: text })) : Option.none(),
        evidence: Option.some(checkpoint)
      }
    }
    const body = Either.flatMap(Note.parse(text), (note) => Checkpoint.parse(note.text))
    if (Either.isLeft(body)) {
      return yield* Effect.fail(
        new Error(`not a signed checkpoint (${body.left.message}): remove it if it is not the published checkpoint`)
      )
    }
    yield* Effect.logWarning(
      `checkpointer: ${path} does not verify with the log's keys; kept as evidence (the head must extend it), ` +
        `the next checkpoint replaces it`
    ).pipe(Effect.annotateLogs({ reason: verified.left.message }))
    return { latest: Option.none(), evidence: Option.some(body.right) }
  })

// ---------------------------------------------------------------------------------------------
// The checkpointer

interface State {
  /** The checkpoint on disk (written by us, or found valid at start). */
  readonly latest: Option.Option<SignedCheckpoint>
  /**
   * The checkpoint the head must extend: `latest`'s, or the one found at start that does not
   * verify with these keys (replaced by the next one written).
   */
  readonly evidence: Option.Option<Checkpoint.Checkpoint>
  /**
   * The last checkpoint signed here (or found at start signed by every signer: ours): every head
   * must extend it too, whatever the file holds later — a re-read takes the file for the
   * evidence, and a file put back to an older checkpoint, or overwritten with another history's
   * of any size (any key, or none that verifies), lowered it, and a fork was signed (reviews)
   */
  readonly own: Option.Option<Checkpoint.Checkpoint>
  /** The last checkpoint that failed, retried first by the next afterAppend / publish. */
  readonly failure: Option.Option<unknown>
  /** The file found at start could not be read: read again before anything is signed. */
  readonly unread: boolean
}

/**
 * A checkpointer over `source`, writing `options.write`. Fails with `CheckpointerOptionsInvalid`
 * before anything is read or written; stops its fiber and writes a final checkpoint (when the
 * head moved) when its scope closes.
 */
export const make = <E = never>(
  options: Options,
  source: Source<E>
): Effect.Effect<Checkpointer<E>, CheckpointerOptionsInvalid, FileSystem.FileSystem | Scope.Scope> =>
  Effect.gen(function*() {
    const { origin, signers, every, write: path } = yield* validate(options)
    const fs = yield* FileSystem.FileSystem
    const verifiers = verifiersOf(signers)
    // a file that cannot be read is a pending failure (fail closed), read again before signing
    const existing = yield* Effect.either(readExisting(fs, path, origin, verifiers))
    if (Either.isLeft(existing)) {
      yield* Effect.logWarning(`checkpointer: ${path} cannot be read; nothing is signed until it can`).pipe(
        Effect.annotateLogs({ reason: existing.left.message })
      )
    }
    const state = yield* Ref.make<State>({
      latest: Either.isRight(existing) ? existing.right.latest : Option.none(),
      evidence: Either.isRight(existing) ? existing.right.evidence : Option.none(),
      own: Either.isRight(existing) ? Option.map(existing.right.latest, (l) => l.checkpoint) : Option.none(),
      failure: Either.isLeft(existing)
        ? Option.some(new CheckpointerWriteFailed({ operation: "read", path, size: 0n, cause: existing.left }))
        : Option.none(),
      unread: Either.isLeft(existing)
    })
    const lock = yield* Effect.makeSemaphore(1)

    /** A head that must not be signed after `last`: smaller, or another history (when it can tell). */
    const regressed = (last: Checkpoint.Checkpoint, head: Head) =>
      Effect.gen(function*() {
        const refuse = (reason: CheckpointerHeadRegressed["reason"]) =>
          new CheckpointerHeadRegressed({ reason, signedSize: last.size, headSize: head.size })
        if (head.size < last.size) return yield* refuse("size-decreased")
        if (head.size === last.size) {
          if (!equalBytes(head.root, last.root)) return yield* refuse("root-changed")
        } else if (source.rootAt !== undefined && !equalBytes(yield* source.rootAt(last.size), last.root)) {
          return yield* refuse("history-changed")
        }
      })

    /** The head must extend both checkpoints held: the file's (`evidence`) and the last signed here (`own`). */
    const extendsHeld = (s: Pick<State, "evidence" | "own">, head: Head) =>
      Effect.gen(function*() {
        if (Option.isSome(s.evidence)) yield* regressed(s.evidence.value, head)
        if (Option.isSome(s.own)) yield* regressed(s.own.value, head)
      })

    // a checkpoint found at start that the head contradicts (a rolled-back or rewritten log) is a
    // pending failure from the start: every afterAppend fails until an operator sorts it out
    const found = (yield* Ref.get(state)).evidence
    if (Option.isSome(found)) {
      const contradicted = yield* Effect.either(
        Effect.flatMap(source.head, (head) => regressed(found.value, head))
      )
      // (a check that could not be made — the source's head or rootAt failing — is pending too:
      // the head is not let through unchecked)
      if (Either.isLeft(contradicted)) {
        yield* Ref.update(state, (s) => ({ ...s, failure: Option.some(contradicted.left) }))
      }
    }

    /**
     * Whether the file holds `latest`'s note still (one removed or replaced while the log runs is
     * written again, even at an unchanged head: C2SP has a log always serve its checkpoint; before,
     * `publish` returned the checkpoint removed and wrote nothing: a hostile review).
     */
    const onDisk = (latest: SignedCheckpoint): Effect.Effect<boolean> =>
      // read bounded, a regular file only, as at start: a FIFO put there while the log runs hung
      // the append due to sign and the close, a link to /dev/zero filled memory (a helper's
      // hostile review); anything else is "not on disk", and `readExisting` then refuses it
      readBounded(fs, path, MAX_CHECKPOINT_BYTES).pipe(
        Effect.map((found) => found._tag === "Bytes" && equalBytes(found.bytes, encoder.encode(latest.note))),
        Effect.orElseSucceed(() => false)
      )

    /**
     * Signs and writes the head, unless it is the checkpoint on disk and no failure is pending.
     * Under the lock; a failure is kept as the pending one.
     */
    const checkpointHead: Effect.Effect<SignedCheckpoint, CheckpointerError | E> = Effect.gen(function*() {
      const head = yield* source.head
      let current = yield* Ref.get(state)
      if (current.unread) {
        const found = yield* readExisting(fs, path, origin, verifiers).pipe(
          Effect.mapError((cause) => new CheckpointerWriteFailed({ operation: "read", path, size: head.size, cause }))
        )
        current = {
          ...current,
          latest: found.latest,
          evidence: found.evidence,
          own: Option.orElse(current.own, () => Option.map(found.latest, (l) => l.checkpoint)),
          unread: false
        }
        yield* Ref.set(state, current)
      } else if (Option.isSome(current.latest) && !(yield* onDisk(current.latest.value))) {
        // the file changed (or went) since it was written: read as at start, so a checkpoint
        // written there meanwhile (another instance's, further on) is evidence the head must
        // extend, not a file to overwrite (the review of this fix: a later checkpoint was
        // replaced by an older one); a file gone leaves the evidence held
        const found = yield* readExisting(fs, path, origin, verifiers).pipe(
          Effect.mapError((cause) => new CheckpointerWriteFailed({ operation: "read", path, size: head.size, cause }))
        )
        const held = current.evidence
        const shown = current.latest
        // (what the file holds now, or, gone, what was held; the head must extend `own` as well)
        current = { ...current, latest: found.latest, evidence: Option.orElse(found.evidence, () => held) }
        // `latest` as read stays the last written until this checkpoint replaces it (a file removed
        // and written again read as none in between: a CI run caught a test seeing it)
        yield* Ref.set(state, { ...current, latest: Option.orElse(found.latest, () => shown) })
      }
      yield* extendsHeld(current, head)
      // `latest` is the file's note here (written by us, or just read back)
      if (
        Option.isSome(current.latest) && head.size === current.latest.value.checkpoint.size &&
        Option.isNone(current.failure)
      ) {
        yield* Ref.set(state, current)
        return current.latest.value
      }
      const signed = yield* signHead(origin, signers, verifiers, head)
      yield* writeAtomically(fs, path, head.size, encoder.encode(signed.note))
      yield* Ref.set(state, {
        latest: Option.some(signed),
        evidence: Option.some(signed.checkpoint),
        own: Option.some(signed.checkpoint),
        failure: Option.none(),
        unread: false
      })
      return signed
    }).pipe(
      Effect.tapError((error) => Ref.update(state, (s) => ({ ...s, failure: Option.some(error) }))),
      lock.withPermits(1),
      Effect.withSpan("Checkpointer.checkpoint")
    )

    /**
     * Before a checkpoint signed outside the checkpointer (the tree log's own `checkpoint`): a
     * pending failure is retried first (as `afterAppend`); without one, the head must extend the
     * checkpoint on disk. So no signature of this log's key, periodic or asked for, is ever given
     * to a head that contradicts the checkpoint published (a helper's hostile review).
     */
    const guard: Effect.Effect<void, CheckpointerError | E> = Effect.gen(function*() {
      const s = yield* Ref.get(state)
      if (Option.isSome(s.failure)) return yield* Effect.asVoid(checkpointHead)
      if (Option.isSome(s.evidence) || Option.isSome(s.own)) yield* extendsHeld(s, yield* source.head)
    })

    const afterAppend = (size: bigint): Effect.Effect<void, CheckpointerError | E> =>
      Effect.gen(function*() {
        const s = yield* Ref.get(state)
        // fail closed: a pending failure is retried first; if it fails again, so does this call
        if (Option.isSome(s.failure)) return yield* Effect.asVoid(checkpointHead)
        if (every.entries === undefined) return
        const last = Option.match(s.latest, { onNone: () => 0n, onSome: (l) => l.checkpoint.size })
        if (size - last >= BigInt(every.entries)) yield* checkpointHead
      })

    /** Signs when the head moved since the last checkpoint, or a failure is pending (timer, close). */
    const ifMoved = Effect.gen(function*() {
      const head = yield* source.head
      const s = yield* Ref.get(state)
      const moved = Option.match(s.latest, {
        // no checkpoint yet: one is signed even of the empty tree (C2SP tlog-tiles: the log "MUST"
        // serve its signed tree head at <prefix>/checkpoint; before, an empty log served none)
        onNone: () => true,
        onSome: (l) => l.checkpoint.size !== head.size
      })
      // (an unchanged head's checkpoint removed from disk is written again)
      if (moved || Option.isSome(s.failure) || !(yield* onDisk(Option.getOrThrow(s.latest)))) yield* checkpointHead
    }).pipe(
      // the head itself failing is a failed checkpoint too: pending, so the owner's next append learns of it
      Effect.tapError((error) => Ref.update(state, (s) => ({ ...s, failure: Option.some(error) })))
    )

    const logFailure = (what: string) => (error: unknown) =>
      Effect.logError(`checkpointer: ${what} failed`).pipe(
        Effect.annotateLogs({ error: error instanceof Error ? error.message : String(error), path })
      )

    // the final checkpoint (added before the fiber is forked: finalizers run in reverse, so the
    // fiber is interrupted first)
    yield* Effect.addFinalizer(() => ifMoved.pipe(Effect.catchAll(logFailure("final checkpoint"))))
    if (every.seconds !== undefined) {
      const period = Duration.seconds(every.seconds)
      const fiber = yield* Effect.sleep(period).pipe(
        Effect.zipRight(ifMoved.pipe(Effect.catchAll(logFailure("periodic checkpoint")))),
        Effect.forever,
        Effect.forkDaemon
      )
      yield* Effect.addFinalizer(() => Fiber.interrupt(fiber))
    }
    return {
      afterAppend,
      guard,
      publish: checkpointHead,
      // (a plain read, never under the lock: a source's head or rootAt may ask it while a
      // checkpoint is made; the review of a version that waited for the lock found a deadlock)
      latest: Effect.map(Ref.get(state), (s) => s.latest)
    }
  })
