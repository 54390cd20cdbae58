/**
 * C2SP signed notes (c2sp.org/signed-note; Go's golang.org/x/mod/sumdb/note), Ed25519 keys.
 *
 * A note is a text — UTF-8, ending in "\n", no ASCII control character (below U+0020) but "\n"
 * — then one blank line, then signature lines `— <name> <base64(keyID[4] ‖ signature)>\n` (U+2014 EM DASH and a
 * space). The note is split at its LAST "\n\n", so the text may itself hold blank lines; a
 * signature covers the text including its final "\n".
 *
 * Keys: a verifier key is `name+hex8(keyID)+base64(type ‖ public key)`, split on its first two
 * '+' only (base64 holds '+'); an Ed25519 key has type 0x01 and key ID
 * SHA-256(name ‖ 0x0A ‖ 0x01 ‖ pub)[:4], big-endian. A signer key is Go's
 * `PRIVATE+KEY+name+hex8(keyID)+base64(0x01 ‖ seed)`; its seed is held in `Redacted` and
 * appears in no error, no `toString` and no JSON. Other signature types (cosignature/v1, 0x04)
 * plug in as `Verifier`s (see Cosignature.ts).
 *
 * `open(note, verifiers)`: a line whose (name, key ID) no verifier knows is ignored (returned
 * as unverified: ECDSA lines of Rekor v1, RFC 6962 lines of static-CT, other witnesses); a
 * known key whose signature fails rejects the whole note; a note no known key signed is
 * rejected. Every distinct known line is verified, also a second line of the same key (x/mod
 * checks only the first line of a key: stricter here); a line identical to one verified already
 * is not verified again (a note repeating a valid line 100 times costs one verification), and
 * identical repeated lines are reported once.
 *
 * Refused as malformed, with the line number and the value: invalid UTF-8 or lone surrogates;
 * an ASCII control character (below U+0020) other than "\n" — C2SP's rule, and x/mod's: DEL
 * (U+007F) is allowed; no "\n\n"; no signature line or a signature block not ending in "\n"; a
 * line not starting with "— "; a key name that is empty, holds a Unicode space (the White_Space
 * property: x/mod's `unicode.IsSpace`) or '+'; base64 that is not canonical standard base64 (x/mod accepts
 * non-zero trailing bits: refused here so a signature has one spelling); a signature shorter
 * than key ID + 1 byte; more than 100 signature lines (x/mod's limit; C2SP requires accepting
 * 16). No limit on the text's length (the caller bounds what it reads).
 */
import * as Hash from "@calybris/core/Hash"
import * as Either from "effect/Either"
import { NodeInspectSymbol } from "effect/Inspectable"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Ed25519 from "./Ed25519.js"
import * as Base64 from "./internal/base64.js"
import { isIterable, kindOf, quote } from "./internal/quote.js"

/** Most signature lines a note may carry (x/mod's limit). */
export const MAX_SIGNATURES = 100

/** Signature type of an Ed25519 note signature (the byte in front of the public key). */
export const TYPE_ED25519 = 0x01

/** A note that does not follow the format: `reason` says which rule, `line` (1-based) where. */
export class NoteMalformed extends Schema.TaggedError<NoteMalformed>()("NoteMalformed", {
  reason: Schema.Literal(
    "invalid-utf8",
    "control-character",
    "no-signature-block",
    "no-final-newline",
    "not-a-signature-line",
    "invalid-key-name",
    "invalid-base64",
    "signature-too-short",
    "too-many-signatures",
    "empty-text"
  ),
  line: Schema.Number,
  value: Schema.String
}) {
  override get message() {
    return `malformed note: ${this.reason} at line ${this.line}: ${JSON.stringify(this.value)}`
  }
}

/** A known key's signature does not verify: the whole note is rejected. */
export class NoteInvalidSignature extends Schema.TaggedError<NoteInvalidSignature>()("NoteInvalidSignature", {
  keyName: Schema.String,
  keyId: Schema.String,
  line: Schema.Number
}) {
  override get message() {
    return `invalid signature for key ${this.keyName}+${this.keyId} at line ${this.line}`
  }
}

/** No signature of the note is by a known key. `unverified` lists the lines' `name+keyID`. */
export class NoteNotVerified extends Schema.TaggedError<NoteNotVerified>()("NoteNotVerified", {
  unverified: Schema.Array(Schema.String)
}) {
  override get message() {
    return `note has no verifiable signatures (signed by: ${this.unverified.join(", ") || "nobody"})`
  }
}

/** Two verifiers share a name and a key ID: a signature line would not say which one it is. */
export class NoteAmbiguousKey extends Schema.TaggedError<NoteAmbiguousKey>()("NoteAmbiguousKey", {
  keyName: Schema.String,
  keyId: Schema.String
}) {
  override get message() {
    return `two verifier keys are named ${this.keyName}+${this.keyId}`
  }
}

/** A verifier or signer key that does not parse; `field` names the part, `value` shows it (never a secret). */
export class NoteKeyInvalid extends Schema.TaggedError<NoteKeyInvalid>()("NoteKeyInvalid", {
  reason: Schema.Literal(
    "missing-part",
    "invalid-key-name",
    "invalid-key-id",
    "invalid-base64",
    "unknown-type",
    "invalid-key-length",
    "invalid-public-key",
    "key-id-mismatch",
    "not-a-private-key",
    "not-a-string",
    "not-a-verifier"
  ),
  field: Schema.String,
  value: Schema.String
}) {
  override get message() {
    return `invalid note key: ${this.reason} in ${this.field}: ${JSON.stringify(this.value)}`
  }
}

/** Every failure of `open` (`NoteKeyInvalid`: the verifiers given are not a list of verifiers). */
export type OpenError = NoteMalformed | NoteInvalidSignature | NoteNotVerified | NoteAmbiguousKey | NoteKeyInvalid

/** A key that checks one kind of signature line. */
export interface Verifier {
  readonly name: string
  /** The key ID as an unsigned 32-bit number. */
  readonly keyId: number
  /** The signature type byte of the key (0x01 Ed25519, 0x04 cosignature/v1). */
  readonly type: number
  readonly publicKey: Uint8Array
  /** Checks `signature` (the line's bytes after the key ID) over the note text's UTF-8 bytes. */
  readonly verify: (text: Uint8Array, signature: Uint8Array) => boolean
}

/** A key that signs note texts. Its secret stays inside `sign`. */
export interface Signer {
  readonly name: string
  readonly keyId: number
  readonly type: number
  readonly publicKey: Uint8Array
  /** The line's bytes after the key ID, over the text's UTF-8 bytes. */
  readonly sign: (text: Uint8Array) => Uint8Array
}

/** One signature line of a note. */
export interface Signature {
  readonly name: string
  readonly keyId: number
  /** The decoded bytes after the key ID. */
  readonly signature: Uint8Array
  /** The base64 of the line, as written. */
  readonly base64: string
  /** 1-based line number in the note. */
  readonly line: number
}

/** A note split into its text and signature lines, nothing verified. */
export interface Parsed {
  readonly text: string
  readonly signatures: ReadonlyArray<Signature>
}

/** The outcome of `open`: the text, the lines known keys verified, and the others. */
export interface Opened {
  readonly text: string
  readonly verified: ReadonlyArray<Signature>
  readonly unverified: ReadonlyArray<Signature>
}

const sha256 = Hash.defaultHash.sha256
const encoder = new TextEncoder()
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })

/** `name+hex8`: how errors and reports name a key. */
export const keyLabel = (name: string, keyId: number): string => `${name}+${hex8(keyId)}`

/** Eight lowercase hex digits of a key ID. */
export const hex8 = (keyId: number): string => keyId.toString(16).padStart(8, "0")

/** SHA-256(name ‖ 0x0A ‖ type ‖ key)[:4] as a big-endian u32: the key ID of every C2SP key type. */
export const keyIdFor = (name: string, type: number, key: Uint8Array): number => {
  const nameBytes = encoder.encode(name)
  const buffer = new Uint8Array(nameBytes.length + 2 + key.length)
  buffer.set(nameBytes)
  buffer[nameBytes.length] = 0x0a
  buffer[nameBytes.length + 1] = type
  buffer.set(key, nameBytes.length + 2)
  const h = sha256(buffer)
  return (((h[0] as number) << 24) | ((h[1] as number) << 16) | ((h[2] as number) << 8) | (h[3] as number)) >>> 0
}

/**
 * A key name: non-empty, well-formed, no Unicode space (the White_Space property, as x/mod's
 * `unicode.IsSpace`: not JavaScript's `\s`, which adds U+FEFF and leaves out U+0085), no '+'
 * (C2SP; x/mod's isValidName), and no ASCII control character (a note could not carry it).
 */
export const isValidName = (name: string): boolean =>
  name.length > 0 && !/[\p{White_Space}+]/u.test(name) && name.isWellFormed() && controlIndex(name) < 0

/** The first ASCII control character (below U+0020) other than "\n", as an index, or -1. */
const controlIndex = (text: string): number => {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c < 0x20 && c !== 0x0a) return i
  }
  return -1
}

/** A character as errors show it: `U+xxxx` (a control character is invisible as itself). */
const codePoint = (text: string, index: number): string => `U+${text.charCodeAt(index).toString(16).padStart(4, "0")}`

const lineOf = (text: string, index: number): number => {
  let line = 1
  for (let i = 0; i < index; i++) if (text.charCodeAt(i) === 0x0a) line++
  return line
}

const malformed = (reason: NoteMalformed["reason"], line: number, value: string) =>
  Either.left(new NoteMalformed({ reason, line, value: quote(value) }))

/**
 * Checks a note text on its own (what `sign` accepts, and the text part of a parsed note):
 * well-formed, ends in "\n", no ASCII control character but "\n".
 */
export const checkText = (text: string): Either.Either<string, NoteMalformed> => {
  if (!text.isWellFormed()) return malformed("invalid-utf8", 1, text)
  if (text.length === 0) return malformed("empty-text", 1, text)
  const bad = controlIndex(text)
  if (bad >= 0) return malformed("control-character", lineOf(text, bad), codePoint(text, bad))
  if (!text.endsWith("\n")) return malformed("no-final-newline", lineOf(text, text.length), text)
  return Either.right(text)
}

const SIG_PREFIX = "\u2014 "

/** Splits a note into its text and signature lines, without verifying anything. */
export const parse = (note: string | Uint8Array): Either.Either<Parsed, NoteMalformed> => {
  let message: string
  if (typeof note === "string") {
    if (!note.isWellFormed()) return malformed("invalid-utf8", 1, "lone surrogate")
    message = note
  } else if (!Hash.isBytes(note)) {
    // (an ArrayBuffer, a number, null: from a JavaScript caller)
    return malformed("invalid-utf8", 1, `${kindOf(note)}, not a string nor a Uint8Array`)
  } else {
    try {
      message = utf8.decode(note)
    } catch {
      return malformed("invalid-utf8", 1, "not UTF-8")
    }
  }
  const bad = controlIndex(message)
  if (bad >= 0) {
    return malformed("control-character", lineOf(message, bad), codePoint(message, bad))
  }
  const split = message.lastIndexOf("\n\n")
  if (split < 0) return malformed("no-signature-block", lineOf(message, message.length), "")
  const text = message.slice(0, split + 1)
  const block = message.slice(split + 2)
  const firstLine = lineOf(text, text.length) + 1
  if (block.length === 0) return malformed("no-signature-block", firstLine, "")
  if (!block.endsWith("\n")) return malformed("no-final-newline", firstLine, block.slice(block.lastIndexOf("\n") + 1))
  const lines = block.slice(0, -1).split("\n")
  if (lines.length > MAX_SIGNATURES) {
    return malformed("too-many-signatures", firstLine + MAX_SIGNATURES, `${lines.length} lines`)
  }
  const signatures: Array<Signature> = []
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i] as string
    const line = firstLine + i
    if (!raw.startsWith(SIG_PREFIX)) return malformed("not-a-signature-line", line, raw)
    const rest = raw.slice(SIG_PREFIX.length)
    const space = rest.indexOf(" ")
    const name = space < 0 ? rest : rest.slice(0, space)
    const b64 = space < 0 ? "" : rest.slice(space + 1)
    if (!isValidName(name)) return malformed("invalid-key-name", line, name)
    const bytes = Base64.decodeStrict(b64)
    if (bytes === undefined) return malformed("invalid-base64", line, b64)
    if (bytes.length < 5) return malformed("signature-too-short", line, b64)
    const keyId = (((bytes[0] as number) << 24) | ((bytes[1] as number) << 16) | ((bytes[2] as number) << 8) |
      (bytes[3] as number)) >>> 0
    signatures.push({ name, keyId, signature: bytes.subarray(4), base64: b64, line })
  }
  return Either.right({ text, signatures })
}

/**
 * Opens a note: parses it and checks every line a verifier knows (by name and key ID). Unknown
 * lines are returned as unverified; a known key's failing signature rejects the note; a note
 * without a verified signature is rejected.
 */
export const open = (
  note: string | Uint8Array,
  verifiers: ReadonlyArray<Verifier>
): Either.Either<Opened, OpenError> => {
  // any iterable (a JavaScript caller's Set), as the loop over it took before this check
  const given: unknown = verifiers
  if (!isIterable(given)) return keyError("not-a-verifier", "verifiers", `${kindOf(given)}, not a list of verifiers`)
  const known = new Map<string, Verifier>()
  for (const [i, v] of Array.from(given).entries()) {
    const problem = notAVerifier(v)
    if (problem !== undefined) return keyError("not-a-verifier", `verifiers[${i}]`, problem)
    const verifier = v as Verifier
    const label = keyLabel(verifier.name, verifier.keyId)
    if (known.has(label)) {
      return Either.left(new NoteAmbiguousKey({ keyName: verifier.name, keyId: hex8(verifier.keyId) }))
    }
    known.set(label, verifier)
  }
  const parsed = parse(note)
  if (Either.isLeft(parsed)) return Either.left(parsed.left)
  const { signatures, text } = parsed.right
  const textBytes = encoder.encode(text)
  const verified: Array<Signature> = []
  const unverified: Array<Signature> = []
  const seenLines = new Set<string>()
  const seenKeys = new Set<string>()
  for (const sig of signatures) {
    const label = keyLabel(sig.name, sig.keyId)
    const lineKey = `${sig.name} ${sig.base64}`
    const repeated = seenLines.has(lineKey)
    seenLines.add(lineKey)
    const verifier = known.get(label)
    if (verifier === undefined) {
      if (!repeated) unverified.push(sig)
      continue
    }
    // the same line of a known key again: verified already (a failure returned at once)
    if (repeated) continue
    if (!verifier.verify(textBytes, sig.signature)) {
      return Either.left(new NoteInvalidSignature({ keyName: sig.name, keyId: hex8(sig.keyId), line: sig.line }))
    }
    if (!seenKeys.has(label)) verified.push(sig)
    seenKeys.add(label)
  }
  if (verified.length === 0) {
    return Either.left(new NoteNotVerified({ unverified: unverified.map((s) => keyLabel(s.name, s.keyId)) }))
  }
  return Either.right({ text, verified, unverified })
}

/**
 * Why a value given as a verifier is none (undefined: it has a verifier's members): a JavaScript
 * caller's `undefined` from a key map failed with a `TypeError` (a hostile review).
 */
const notAVerifier = (v: unknown): string | undefined => {
  if (typeof v !== "object" || v === null) return `${kindOf(v)}, not a verifier`
  const { keyId, name, publicKey, type, verify } = v as Partial<Record<keyof Verifier, unknown>>
  if (typeof name !== "string") return `its name is ${kindOf(name)}`
  if (typeof keyId !== "number" || keyId >>> 0 !== keyId) return "its keyId is not a u32"
  if (typeof type !== "number") return `its type is ${kindOf(type)}`
  if (typeof verify !== "function") return `its verify is ${kindOf(verify)}`
  if (!Hash.isBytes(publicKey)) return `its publicKey is ${kindOf(publicKey)}, not bytes`
  return undefined
}

/** Formats one signature line (without its "\n"). */
export const signatureLine = (name: string, keyId: number, signature: Uint8Array): string => {
  const bytes = new Uint8Array(4 + signature.length)
  bytes[0] = keyId >>> 24
  bytes[1] = (keyId >>> 16) & 0xff
  bytes[2] = (keyId >>> 8) & 0xff
  bytes[3] = keyId & 0xff
  bytes.set(signature, 4)
  return `${SIG_PREFIX}${name} ${Base64.encode(bytes)}`
}

/**
 * Signs a text with each signer: the text, a blank line, one line per signer, in order. Refuses
 * what `open` would refuse: a text `checkText` refuses, no signer (an empty signature block,
 * `no-signature-block`: not a signed note), a signer name that is not a key name, more than
 * `MAX_SIGNATURES` signers.
 */
export const sign = (text: string, signers: ReadonlyArray<Signer>): Either.Either<string, NoteMalformed> => {
  const checked = checkText(text)
  if (Either.isLeft(checked)) return checked
  if (signers.length === 0) return malformed("no-signature-block", lineOf(text, text.length) + 1, "no signer")
  if (signers.length > MAX_SIGNATURES) {
    return malformed("too-many-signatures", lineOf(text, text.length) + 1 + MAX_SIGNATURES, `${signers.length} signers`)
  }
  const bad = signers.find((s) => !isValidName(s.name))
  if (bad !== undefined) return malformed("invalid-key-name", lineOf(text, text.length) + 1, bad.name)
  const bytes = encoder.encode(text)
  let out = text + "\n"
  for (const s of signers) out += signatureLine(s.name, s.keyId, s.sign(bytes)) + "\n"
  return Either.right(out)
}

const keyError = (reason: NoteKeyInvalid["reason"], field: string, value: string) =>
  Either.left(new NoteKeyInvalid({ reason, field, value: quote(value) }))

/** The parts of a verifier key `name+hex8+base64(type ‖ key)`, its key ID checked against them. */
export interface VerifierKeyParts {
  readonly name: string
  readonly keyId: number
  readonly type: number
  readonly key: Uint8Array
}

const HEX8 = /^[0-9a-fA-F]{8}$/

/** Splits a verifier key on its first two '+' and checks name, key ID (= the hash of the rest) and base64. */
export const decodeVerifierKey = (vkey: string): Either.Either<VerifierKeyParts, NoteKeyInvalid> => {
  if (typeof vkey !== "string") return keyError("not-a-string", "vkey", kindOf(vkey))
  const first = vkey.indexOf("+")
  const second = first < 0 ? -1 : vkey.indexOf("+", first + 1)
  if (first < 0 || second < 0) return keyError("missing-part", "vkey", vkey)
  const name = vkey.slice(0, first)
  const id = vkey.slice(first + 1, second)
  const b64 = vkey.slice(second + 1)
  if (!isValidName(name)) return keyError("invalid-key-name", "name", name)
  if (!HEX8.test(id)) return keyError("invalid-key-id", "keyId", id)
  const bytes = Base64.decodeStrict(b64)
  if (bytes === undefined || bytes.length < 1) return keyError("invalid-base64", "key", b64)
  const type = bytes[0] as number
  const key = bytes.slice(1)
  const keyId = Number.parseInt(id, 16) >>> 0
  if (keyIdFor(name, type, key) !== keyId) return keyError("key-id-mismatch", "keyId", id)
  return Either.right({ name, keyId, type, key })
}

/** A checked Ed25519 public key as a note verifier. */
export const ed25519Verifier = (name: string, publicKey: Uint8Array): Either.Either<Verifier, NoteKeyInvalid> => {
  if (typeof name !== "string") return keyError("not-a-string", "name", kindOf(name))
  if (!isValidName(name)) return keyError("invalid-key-name", "name", name)
  if (!Hash.isBytes(publicKey)) return keyError("invalid-key-length", "key", `${kindOf(publicKey)}, not bytes`)
  if (publicKey.length !== Ed25519.KEY_BYTES) return keyError("invalid-key-length", "key", `${publicKey.length} bytes`)
  if (!Ed25519.isValidPublicKey(publicKey)) return keyError("invalid-public-key", "key", Base64.encode(publicKey))
  // its own copy, and another for `publicKey`: neither the caller's array nor the one it is
  // given back changes what verifies
  const key = publicKey.slice()
  return Either.right({
    name,
    keyId: keyIdFor(name, TYPE_ED25519, key),
    type: TYPE_ED25519,
    publicKey: key.slice(),
    verify: (text, signature) => Ed25519.verify(key, text, signature)
  })
}

/** Parses an Ed25519 verifier key `name+hex8(keyID)+base64(0x01 ‖ pub)`. */
export const parseVerifierKey = (vkey: string): Either.Either<Verifier, NoteKeyInvalid> =>
  Either.flatMap(decodeVerifierKey(vkey), (parts) =>
    parts.type !== TYPE_ED25519
      ? keyError("unknown-type", "type", `0x${parts.type.toString(16).padStart(2, "0")}`)
      : ed25519Verifier(parts.name, parts.key))

/** The verifier key text of a key: `name+hex8(keyID)+base64(type ‖ pub)`. */
export const formatVerifierKey = (
  key: { readonly name: string; readonly type: number; readonly publicKey: Uint8Array }
): string => {
  const bytes = new Uint8Array(1 + key.publicKey.length)
  bytes[0] = key.type
  bytes.set(key.publicKey, 1)
  return `${key.name}+${hex8(keyIdFor(key.name, key.type, key.publicKey))}+${Base64.encode(bytes)}`
}

/** A signer whose printed forms never show its secret. */
class SecretSigner implements Signer {
  constructor(
    readonly name: string,
    readonly keyId: number,
    readonly type: number,
    readonly publicKey: Uint8Array,
    readonly sign: (text: Uint8Array) => Uint8Array
  ) {}
  toString() {
    return `Signer(${keyLabel(this.name, this.keyId)})`
  }
  toJSON() {
    return { _id: "Signer", name: this.name, keyId: hex8(this.keyId) }
  }
  [NodeInspectSymbol]() {
    return this.toJSON()
  }
}

/** A signer from any signing function: its printed forms show the name and key ID only. */
export const makeSigner = (
  name: string,
  type: number,
  publicKey: Uint8Array,
  signFn: (text: Uint8Array) => Uint8Array
): Signer => new SecretSigner(name, keyIdFor(name, type, publicKey), type, publicKey, signFn)

/** An Ed25519 signer for a 32-byte seed. */
export const ed25519Signer = (
  name: string,
  seed: Redacted.Redacted<Uint8Array>
): Either.Either<Signer, NoteKeyInvalid> => {
  if (!isValidName(name)) return keyError("invalid-key-name", "name", name)
  // (a JavaScript caller's seed that is no Redacted bytes: a typed error, never a throw)
  const given: unknown = Redacted.isRedacted(seed) ? Redacted.value(seed) : undefined
  // (bytes from another realm too: `instanceof` refused them; the review of this check)
  if (!Hash.isBytes(given)) return keyError("invalid-key-length", "seed", "not Redacted bytes")
  if (given.length !== Ed25519.KEY_BYTES) {
    return keyError("invalid-key-length", "seed", `${given.length} bytes`)
  }
  const own = Redacted.make(Redacted.value(seed).slice())
  return Either.right(
    makeSigner(name, TYPE_ED25519, Ed25519.publicKeyOf(own), (text) => Ed25519.sign(own, text))
  )
}

/**
 * The signer key text of an Ed25519 seed, `PRIVATE+KEY+name+hex8(keyID)+base64(0x01 ‖ seed)`
 * (Go's x/mod form, what `parseSignerKey` reads), held in `Redacted`. The name must be a key name.
 */
export const formatSignerKey = (
  name: string,
  seed: Redacted.Redacted<Uint8Array>
): Either.Either<Redacted.Redacted<string>, NoteKeyInvalid> =>
  Either.map(ed25519Signer(name, seed), (signer) => {
    const bytes = new Uint8Array(1 + Ed25519.KEY_BYTES)
    bytes[0] = TYPE_ED25519
    bytes.set(Redacted.value(seed), 1)
    const text = `PRIVATE+KEY+${keyLabel(signer.name, signer.keyId)}+${Base64.encode(bytes)}`
    bytes.fill(0)
    return Redacted.make(text)
  })

/**
 * Parses a signer key `PRIVATE+KEY+name+hex8(keyID)+base64(0x01 ‖ seed)` (Go's x/mod form). The
 * key ID must match the public key derived from the seed. Errors name the field and never show
 * a part of the text: a key whose name or key ID is missing shifts its parts, so the part read as
 * a name or a key ID may be part of the seed (its base64 holds '+'). A key ID that does not match
 * shows the one the seed's public key has.
 */
export const parseSignerKey = (
  skey: Redacted.Redacted<string> | string
): Either.Either<Signer, NoteKeyInvalid> => {
  const text: unknown = Redacted.isRedacted(skey) ? Redacted.value(skey) : skey
  // (its kind only: a caller's stray value may be a secret of another shape)
  if (typeof text !== "string") return keyError("not-a-string", "skey", kindOf(text))
  const parts: Array<string> = []
  let rest = text
  for (let i = 0; i < 4; i++) {
    const plus = rest.indexOf("+")
    if (plus < 0) return keyError("missing-part", "skey", hidden(`'+'-separated parts: ${i + 1} of at least 5`))
    parts.push(rest.slice(0, plus))
    rest = rest.slice(plus + 1)
  }
  const [p1, p2, name, id] = parts as [string, string, string, string]
  if (p1 !== "PRIVATE" || p2 !== "KEY") return keyError("not-a-private-key", "prefix", "expected PRIVATE+KEY+")
  if (!isValidName(name)) return keyError("invalid-key-name", "name", hidden(`${name.length} characters`))
  if (!HEX8.test(id)) return keyError("invalid-key-id", "keyId", hidden(`${id.length} characters, not 8 hex digits`))
  const bytes = Base64.decodeStrict(rest)
  if (bytes === undefined || bytes.length < 1) return keyError("invalid-base64", "key", hidden("the secret part"))
  if (bytes[0] !== TYPE_ED25519) {
    return keyError("unknown-type", "type", `0x${(bytes[0] as number).toString(16).padStart(2, "0")}`)
  }
  const seed = Redacted.make(bytes.slice(1))
  bytes.fill(0)
  return Either.flatMap(ed25519Signer(name, seed), (signer) =>
    signer.keyId !== (Number.parseInt(id, 16) >>> 0)
      ? keyError("key-id-mismatch", "keyId", hidden(`the seed's public key has key ID ${hex8(signer.keyId)}`))
      : Either.right(signer))
}

/** A signer key's part, described and not shown. */
const hidden = (what: string): string => `(not shown: ${what})`
