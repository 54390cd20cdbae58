/**
 * C2SP checkpoints (c2sp.org/tlog-checkpoint): a log's signed statement of its size and root.
 *
 * The body — the text of a signed note — is `origin\n`, the tree size in decimal (no sign, no
 * leading zero, ≤ 2^64−1) and `\n`, the base64 of the 32-byte RFC 6962 root and `\n`, then
 * optional extension lines, each non-empty and ending in "\n". `parse` refuses anything else
 * (stricter than transparency-dev/formats, which accepts roots of any length and empty
 * trailing lines); `format` writes exactly that form, and `parse ∘ format` is the identity.
 *
 * `verifyCheckpoint(note, verifiers)` opens the note with the given keys (Note.open: unknown
 * lines ignored, a known key's bad signature rejects, nothing known rejects), parses its body,
 * and requires at least one verified log signature (type 0x01); witness cosignatures (type
 * 0x04, Cosignature.ts) verify when their keys are among `verifiers` and are reported with
 * their timestamps. The origin SHOULD equal the log key's name, but real logs break this
 * (sum.golang.org signs the origin `go.sum database tree`), so the rule is an option:
 * `keyNameIsOrigin: true` counts only log signatures whose key name is the origin; `origin`
 * requires a given origin (what an auditor who holds keys of several logs should pass).
 */
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as Cosignature from "./Cosignature.js"
import * as Base64 from "./internal/base64.js"
import { isIterable, kindOf, quote } from "./internal/quote.js"
import * as Note from "./Note.js"

/** Length of the root hash (SHA-256). */
export const ROOT_BYTES = 32

const U64_MAX = (1n << 64n) - 1n

/** A checkpoint body. */
export class Checkpoint extends Schema.Class<Checkpoint>("Checkpoint")({
  origin: Schema.String,
  size: Schema.BigIntFromSelf,
  root: Schema.Uint8ArrayFromSelf,
  extensions: Schema.Array(Schema.String)
}) {}

/** A body that does not follow the format: `reason` says which rule, `line` (1-based) where. */
export class CheckpointMalformed extends Schema.TaggedError<CheckpointMalformed>()("CheckpointMalformed", {
  reason: Schema.Literal(
    "too-few-lines",
    "no-final-newline",
    "empty-origin",
    "invalid-size",
    "size-out-of-range",
    "invalid-root",
    "invalid-root-length",
    "empty-extension-line",
    "invalid-text",
    "newline-in-field"
  ),
  line: Schema.Number,
  value: Schema.String
}) {
  override get message() {
    return `malformed checkpoint: ${this.reason} at line ${this.line}: ${JSON.stringify(this.value)}`
  }
}

/** The note verified, but no log signature (type 0x01) that counts. */
export class CheckpointNotSigned extends Schema.TaggedError<CheckpointNotSigned>()("CheckpointNotSigned", {
  reason: Schema.Literal("no-log-signature", "key-name-is-not-origin"),
  origin: Schema.String,
  verified: Schema.Array(Schema.String)
}) {
  override get message() {
    return `checkpoint of ${JSON.stringify(this.origin)} not signed by a log key: ${this.reason} (verified: ${
      this.verified.join(", ") || "none"
    })`
  }
}

/** Fewer of the witness keys given cosigned the checkpoint than `VerifyOptions.witnesses` requires. */
export class CheckpointNotCosigned extends Schema.TaggedError<CheckpointNotCosigned>()("CheckpointNotCosigned", {
  origin: Schema.String,
  required: Schema.Number,
  /** the distinct witness public keys that cosigned (what `required` counts) */
  cosignedKeys: Schema.Number,
  /** the witness keys (`name+keyID`) whose cosignature verified */
  cosigned: Schema.Array(Schema.String),
  missing: Schema.Array(Schema.String)
}) {
  override get message() {
    const shared = this.cosignedKeys < this.cosigned.length
      ? ` (${this.cosigned.length} names, one public key counted once)`
      : ""
    return `checkpoint of ${
      JSON.stringify(this.origin)
    } cosigned by ${this.cosignedKeys} of the witness keys given${shared}, ${
      Number.isFinite(this.required)
        ? this.required
        : "an impossible number (the witnesses option is not \"all\" or a count)"
    } required (no cosignature from: ${this.missing.join(", ") || "none"})`
  }
}

/** The checkpoint's origin is not the one asked for. */
export class CheckpointOriginMismatch extends Schema.TaggedError<CheckpointOriginMismatch>()(
  "CheckpointOriginMismatch",
  { expected: Schema.String, actual: Schema.String }
) {
  override get message() {
    return `checkpoint origin ${JSON.stringify(this.actual)} is not ${JSON.stringify(this.expected)}`
  }
}

/** `verifyCheckpoint`'s options are not options (a JavaScript caller is not held by the types). */
export class CheckpointOptionsInvalid extends Schema.TaggedError<CheckpointOptionsInvalid>()(
  "CheckpointOptionsInvalid",
  { field: Schema.String, reason: Schema.String }
) {
  override get message() {
    return `invalid checkpoint verification options: ${this.field}: ${this.reason}`
  }
}

export type VerifyError =
  | Note.OpenError
  | CheckpointOptionsInvalid
  | CheckpointMalformed
  | CheckpointNotSigned
  | CheckpointNotCosigned
  | CheckpointOriginMismatch

const malformed = (reason: CheckpointMalformed["reason"], line: number, value: string) =>
  Either.left(new CheckpointMalformed({ reason, line, value: quote(value) }))

const DECIMAL = /^(?:0|[1-9][0-9]*)$/

/** Parses a checkpoint body (a note's text). */
export const parse = (text: string): Either.Either<Checkpoint, CheckpointMalformed> => {
  if (typeof text !== "string") return malformed("invalid-text", 1, `${kindOf(text)}, not a string`)
  const checked = Note.checkText(text)
  if (Either.isLeft(checked)) {
    return checked.left.reason === "no-final-newline"
      ? malformed("no-final-newline", checked.left.line, text.slice(text.lastIndexOf("\n") + 1))
      : malformed("invalid-text", checked.left.line, `${checked.left.reason}: ${checked.left.value}`)
  }
  const lines = text.slice(0, -1).split("\n")
  if (lines.length < 3) return malformed("too-few-lines", lines.length, text)
  const [origin, sizeText, rootText] = lines as [string, string, string]
  if (origin.length === 0) return malformed("empty-origin", 1, origin)
  if (!DECIMAL.test(sizeText)) return malformed("invalid-size", 2, sizeText)
  // u64 has at most 20 digits: longer is refused before BigInt (linear in the digits, and more)
  if (sizeText.length > 20 || BigInt(sizeText) > U64_MAX) return malformed("size-out-of-range", 2, sizeText)
  const size = BigInt(sizeText)
  const root = Base64.decodeStrict(rootText)
  if (root === undefined) return malformed("invalid-root", 3, rootText)
  if (root.length !== ROOT_BYTES) return malformed("invalid-root-length", 3, `${root.length} bytes`)
  const extensions = lines.slice(3)
  const empty = extensions.indexOf("")
  if (empty >= 0) return malformed("empty-extension-line", 4 + empty, "")
  return Either.right(new Checkpoint({ origin, size, root, extensions }))
}

/** The body of a checkpoint, in the one form `parse` accepts. */
export const format = (checkpoint: Checkpoint): string =>
  `${checkpoint.origin}\n${checkpoint.size.toString()}\n${Base64.encode(checkpoint.root)}\n` +
  checkpoint.extensions.map((line) => line + "\n").join("")

/**
 * The body of a checkpoint to sign: `format`'s text, refused unless `parse` reads back exactly
 * this checkpoint. So an origin or extension holding "\n" (`newline-in-field`: it would add lines
 * to the signed body, a size and a root of its writer's choosing), an empty origin or extension
 * line, a control character, a root not of 32 bytes or a size outside u64 is never signed.
 */
export const body = (checkpoint: Checkpoint): Either.Either<string, CheckpointMalformed> => {
  const fields = [checkpoint.origin, ...checkpoint.extensions]
  const broken = fields.findIndex((field) => field.includes("\n"))
  if (broken >= 0) {
    return malformed("newline-in-field", broken === 0 ? 1 : 3 + broken, fields[broken] as string)
  }
  // without a newline in a field, the lines are the fields: parse checks each
  const text = format(checkpoint)
  return Either.map(parse(text), () => text)
}

/**
 * `origin` when a checkpoint of it is one `body` signs (one non-empty line, no control character):
 * what a signer checks before it writes or signs anything.
 */
export const checkOrigin = (origin: string): Either.Either<string, CheckpointMalformed> =>
  Either.map(
    body(new Checkpoint({ origin, size: 0n, root: new Uint8Array(ROOT_BYTES), extensions: [] })),
    () => origin
  )

/** A witness's verified cosignature. */
export interface Cosigned {
  readonly name: string
  readonly keyId: number
  readonly timestamp: bigint
}

/** A verified checkpoint: the body, the note, the log keys and the witnesses that signed it. */
export interface Verified {
  readonly checkpoint: Checkpoint
  readonly note: Note.Opened
  /** `name+keyID` of each log key (type 0x01) whose signature verified. */
  readonly signers: ReadonlyArray<string>
  readonly cosignatures: ReadonlyArray<Cosigned>
}

export interface VerifyOptions {
  /** Require this origin. */
  readonly origin?: string
  /** Count only log signatures by a key named as the origin (C2SP's SHOULD). Default false. */
  readonly keyNameIsOrigin?: boolean
  /**
   * How many of the witness keys given (type 0x04) must have cosigned: a number, or "all".
   * Default 0: a witness key given only lets its cosignature be checked and reported, and a
   * note without it still verifies (whoever strips a cosignature line leaves a valid note).
   */
  readonly witnesses?: number | "all"
}

/** A public key as a string, to tell keys apart. */
const keyText = (key: Uint8Array): string => String.fromCharCode(...key)

/** Parses a verifier key of a log (0x01) or a witness (0x04). */
export const parseVerifierKey = (vkey: string): Either.Either<Note.Verifier, Note.NoteKeyInvalid> =>
  Either.flatMap(Note.decodeVerifierKey(vkey), (parts) =>
    parts.type === Cosignature.TYPE_COSIGNATURE_V1
      ? Cosignature.makeVerifier(parts.name, parts.key)
      : Note.parseVerifierKey(vkey))

/** Verifies a signed checkpoint with the given log and witness keys. */
export const verifyCheckpoint = (
  note: string | Uint8Array,
  verifiers: ReadonlyArray<Note.Verifier>,
  options: VerifyOptions = {}
): Either.Either<Verified, VerifyError> => {
  // options that are not an object (a JavaScript caller's origin given in their place) would pin
  // nothing: refused, not read as none
  const tag = Object.prototype.toString.call(options).slice(8, -1)
  if (tag !== "Object") {
    return Either.left(
      new CheckpointOptionsInvalid({
        field: "options",
        reason: `${
          typeof options !== "object" || options === null || Array.isArray(options) ? kindOf(options) : `a ${tag}`
        }, not a plain object of options`
      })
    )
  }
  if (options.origin !== undefined && typeof options.origin !== "string") {
    return Either.left(
      new CheckpointOptionsInvalid({ field: "origin", reason: `${kindOf(options.origin)}, not a string` })
    )
  }
  // read once (a generator, `Map.values()`: a second read is empty; the review of the iterable's
  // acceptance), the same list to `open` and to the count of signers; what is no iterable `open` refuses
  const given: ReadonlyArray<Note.Verifier> = isIterable(verifiers) ? Array.from(verifiers) : verifiers
  const opened = Note.open(note, given)
  if (Either.isLeft(opened)) return Either.left(opened.left)
  const body = parse(opened.right.text)
  if (Either.isLeft(body)) return Either.left(body.left)
  const checkpoint = body.right
  if (options.origin !== undefined && options.origin !== checkpoint.origin) {
    return Either.left(new CheckpointOriginMismatch({ expected: options.origin, actual: checkpoint.origin }))
  }
  const types = new Map(given.map((v) => [Note.keyLabel(v.name, v.keyId), v.type]))
  const signers: Array<string> = []
  const cosignatures: Array<Cosigned> = []
  let logSigned = false
  for (const sig of opened.right.verified) {
    const label = Note.keyLabel(sig.name, sig.keyId)
    const type = types.get(label)
    if (type === Cosignature.TYPE_COSIGNATURE_V1) {
      cosignatures.push({ name: sig.name, keyId: sig.keyId, timestamp: Cosignature.timestampOf(sig.signature) ?? 0n })
    } else if (type === Note.TYPE_ED25519) {
      signers.push(label)
      if (options.keyNameIsOrigin !== true || sig.name === checkpoint.origin) logSigned = true
    }
  }
  if (!logSigned) {
    return Either.left(
      new CheckpointNotSigned({
        reason: signers.length > 0 ? "key-name-is-not-origin" : "no-log-signature",
        origin: checkpoint.origin,
        verified: opened.right.verified.map((s) => Note.keyLabel(s.name, s.keyId))
      })
    )
  }
  // witnesses are counted by public key: one key given under two names counts once (C2SP
  // tlog-cosignature: the signed message does not commit to the cosigner's name, so one line
  // copied under the other name verifies too)
  const witnessKeys = given.filter((v) => v.type === Cosignature.TYPE_COSIGNATURE_V1)
  const keyOf = new Map(witnessKeys.map((v) => [Note.keyLabel(v.name, v.keyId), keyText(v.publicKey)]))
  const cosignedKeys = new Set(cosignatures.map((c) => keyOf.get(Note.keyLabel(c.name, c.keyId))))
  const asked = options.witnesses ?? 0
  // anything but "all" or a count (NaN, a negative or a fraction, from a JavaScript caller) fails
  // closed: no number of cosignatures satisfies it
  const required = asked === "all"
    ? new Set(keyOf.values()).size
    : Number.isSafeInteger(asked) && asked >= 0
    ? asked
    : Number.POSITIVE_INFINITY
  if (cosignedKeys.size < required) {
    const cosigned = new Set(cosignatures.map((c) => Note.keyLabel(c.name, c.keyId)))
    return Either.left(
      new CheckpointNotCosigned({
        origin: checkpoint.origin,
        required,
        cosignedKeys: cosignedKeys.size,
        cosigned: [...cosigned],
        // the witness keys whose key cosigned under no name
        missing: witnessKeys.filter((v) => !cosignedKeys.has(keyText(v.publicKey))).map((v) =>
          Note.keyLabel(v.name, v.keyId)
        )
      })
    )
  }
  return Either.right({ checkpoint, note: opened.right, signers, cosignatures })
}
