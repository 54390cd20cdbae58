/**
 * HMAC keys for keyed logs. A key comes from a file (`--key-file PATH`) or an environment
 * variable (`--key-env NAME`), NEVER from a command-line value (argv is visible to every user
 * of the machine through `ps`, and lands in shell history). The content is the raw key bytes,
 * or `hex:` followed by hex digits (surrounding whitespace and a final newline are ignored in
 * the hex form; the raw form is taken byte for byte). An environment variable's raw value must be
 * valid UTF-8: Node decodes the environment as UTF-8 and turns each invalid byte into U+FFFD, so
 * the bytes set were not the bytes read, and different binary keys read as one (a hostile review:
 * a log keyed `ff fe` failed under those very bytes, and verified under `fd fc` and `80 81`). A
 * value holding U+FFFD is refused (`hex:` carries any bytes).
 *
 * An empty key is refused unless `--allow-empty-key` (an empty-key "keyed" log can be forged by
 * anyone). Key bytes never appear in output, errors or `--json`: errors name the key's source.
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Config from "effect/Config"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import { KeyError, UsageError } from "./CliError.js"
import { readBytes } from "./Files.js"
import { OutputMode } from "./Output.js"

/** The key flags (`Commands.keyOptions`: `--key-file`, `--key-env`, `--allow-empty-key`). */
export interface KeyFlags {
  readonly keyFile: Option.Option<string>
  readonly keyEnv: Option.Option<string>
  readonly allowEmptyKey: boolean
  /** `--max-line-bytes N`, with the key flags on every command that reads a log */
  readonly maxLineBytes?: Option.Option<string> | undefined
}

/** A loaded key (or none: an unkeyed SHA-256 log), with the chain options for the WAL. */
export interface Loaded {
  readonly key: Uint8Array | undefined
  readonly allowEmptyKey: boolean
  /** `HMAC-SHA256` or `SHA-256` */
  readonly chain: string
  /** `--max-line-bytes`: the log's line limit (undefined: the WAL's default, 64 MiB) */
  readonly maxLineBytes: number | undefined
}

/**
 * `--max-line-bytes N`: a positive integer below 2^53, in decimal digits only (a log's line limit,
 * `maxLineBytes` of the WAL's options), else bad usage naming the flag and the value.
 */
const lineLimit = (flags: KeyFlags): Effect.Effect<number | undefined, UsageError> => {
  const given = flags.maxLineBytes
  if (given === undefined || Option.isNone(given)) return Effect.succeed(undefined)
  const n = /^[0-9]{1,16}$/.test(given.value) ? Number(given.value) : Number.NaN
  return Number.isSafeInteger(n) && n >= 1
    ? Effect.succeed(n)
    : Effect.fail(
      new UsageError({
        reason: `--max-line-bytes ${
          JSON.stringify(given.value)
        }: not a line limit (a whole number of bytes, 1 to 2^53-1)`
      })
    )
}

const encoder = new TextEncoder()
const HEX_PREFIX = encoder.encode("hex:")

const nibble = (c: number): number =>
  c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : c >= 0x41 && c <= 0x46 ? c - 0x37 : -1

const isSpace = (c: number): boolean => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d

/** Decode `hex:…` content; the error says what is wrong and where, never which characters. */
const decodeHex = (bytes: Uint8Array): Either.Either<Uint8Array, string> => {
  let start = HEX_PREFIX.length
  let end = bytes.length
  while (start < end && isSpace(bytes[start] as number)) start++
  while (end > start && isSpace(bytes[end - 1] as number)) end--
  const digits = end - start
  // every character first: a stray one (a space between two halves) is named as such, not as an
  // odd count (a helper's review)
  for (let i = 0; i < digits; i++) {
    if (nibble(bytes[start + i] as number) < 0) {
      return Either.left(`the hex key has a non-hex character at position ${i}`)
    }
  }
  if (digits % 2 !== 0) return Either.left("the hex key has an odd number of digits")
  const out = new Uint8Array(digits / 2)
  for (let i = 0; i < digits; i += 2) {
    out[i / 2] = nibble(bytes[start + i] as number) * 16 + nibble(bytes[start + i + 1] as number)
  }
  return Either.right(out)
}

const hasHexPrefix = (bytes: Uint8Array): boolean => HEX_PREFIX.every((b, i) => bytes[i] === b)

/** Key bytes from raw content: `hex:…` is decoded, anything else is the key itself. */
export const keyBytes = (content: Uint8Array): Either.Either<Uint8Array, string> =>
  hasHexPrefix(content) ? decodeHex(content) : Either.right(content)

/**
 * The largest key file read: an HMAC key longer than SHA-256's 64-byte block is hashed down to 32
 * bytes, so a longer key adds no strength, and a file past 64 KiB is not a key (a log or a
 * database dump named by mistake); it is refused before it is read, as `--skey-file`'s is.
 */
export const MAX_KEY_FILE_BYTES = 64 * 1024

/**
 * Whether a value given where a key's file or variable goes looks like a key's bytes as text, and
 * is not repeated by an error naming the source (a hostile review: unpadded and URL-safe keys were
 * echoed whole by "no such file" and "not set"). White space inside is ignored (openssl wraps
 * base64 at 64 columns). A key: 32 hex digits or more (`0x`/`0X` too, or 16 pairs or more apart by
 * ":" or spaces); padded base64 of 16 bytes or more; 32 characters or more of one base64 alphabet —
 * standard (`+`, `/`) or URL-safe (`-`, `_`), never both — mixing upper case, lower case and digits.
 * A path mixing "/" with "-", "_" or "." (`/run/secrets/hmac_key`, `/tmp/…/a-directory`) is named;
 * one of letters, digits and "/" alone (`/Users/alice/Keys/Prod2024…`) is not told from a key and
 * is withheld (the reviews of this rule: every way of exempting paths let keys through). The value
 * is still used as given.
 */
export const looksLikeKey = (value: string): boolean => {
  const v = value.replace(/\s+/g, "")
  if (/^(?:0[xX])?[0-9a-fA-F]{32,}$/.test(v)) return true
  if (/^[0-9a-fA-F]{2}(?:[:\s][0-9a-fA-F]{2}){15,}$/.test(value.trim())) return true
  if (/^[A-Za-z0-9+/]{22,}={1,2}$/.test(v)) return true
  const oneAlphabet = /^[A-Za-z0-9+/]{32,}$/.test(v) || /^[A-Za-z0-9_-]{32,}$/.test(v)
  return oneAlphabet && /[A-Z]/.test(v) && /[a-z]/.test(v) && /[0-9]/.test(v)
}

/** How an error names a key's source: the flag and its value, unless the value looks like a key. */
export const sourceName = (flag: string, value: string): string =>
  looksLikeKey(value) ? `${flag} (the value given, not repeated: it looks like a key)` : `${flag} ${value}`

/** An environment variable's name as POSIX spells one. */
const POSIX_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

/**
 * A `--key-env` / `--skey-env` value that no environment can hold (empty, holding `=` or NUL), or
 * that is no POSIX name and looks like a key (pasted in a variable's place): a `KeyError` that does
 * not repeat it. Any other name is looked up: a POSIX name always (a long mixed-case one that looks
 * like a key is only withheld from the "not set" message: the review of this check refused
 * `MyCompanyWalHmacKeyProduction2024`), names with dots or dashes too.
 */
export const checkVariableName = (flag: string, name: string): Either.Either<void, KeyError> =>
  !POSIX_NAME.test(name) && looksLikeKey(name)
    ? Either.left(
      new KeyError({
        source: flag,
        reason: "the value given looks like a key, not an environment variable's name, and is not repeated"
      })
    )
    : name === "" || name.includes("=") || name.includes("\0")
    ? Either.left(
      new KeyError({ source: `${flag} ${JSON.stringify(name)}`, reason: "not an environment variable's name" })
    )
    : Either.void

const fromFile = (path: string) =>
  readBytes(path, MAX_KEY_FILE_BYTES).pipe(
    Effect.mapError((e) => new KeyError({ source: sourceName("--key-file", path), reason: e.reason })),
    Effect.flatMap((content) =>
      Either.mapLeft(keyBytes(content), (reason) => new KeyError({ source: sourceName("--key-file", path), reason }))
    )
  )

/**
 * An environment variable's value for a key (`--key-env`, `--skey-env`): its name checked
 * (`checkVariableName`); a `KeyError` naming the source when it is not set, or when the value
 * holds U+FFFD (`notUtf8`): Node reads the environment as UTF-8 and turns each invalid byte into
 * U+FFFD, so the bytes set were not the bytes read.
 */
export const variableValue = (
  flag: string,
  name: string,
  notUtf8: string
): Effect.Effect<Redacted.Redacted<string>, KeyError> =>
  Effect.zipRight(checkVariableName(flag, name), Config.redacted(name)).pipe(
    Effect.catchTag(
      "ConfigError",
      () => new KeyError({ source: sourceName(flag, name), reason: "the environment variable is not set" })
    ),
    Effect.filterOrFail(
      (value) => !Redacted.value(value).includes("\uFFFD"),
      () => new KeyError({ source: sourceName(flag, name), reason: notUtf8 })
    )
  )

const fromEnv = (name: string) =>
  Effect.flatMap(
    variableValue(
      "--key-env",
      name,
      "the value is not valid UTF-8 (or holds U+FFFD): the environment is read as UTF-8, so its bytes would not be the key's; give a binary key as hex: followed by its hex digits, or in a --key-file"
    ),
    (value) =>
      Either.mapLeft(
        keyBytes(encoder.encode(Redacted.value(value))),
        (reason) => new KeyError({ source: sourceName("--key-env", name), reason })
      )
  )

/** Load the key the flags name (none when neither flag is given). */
export const load = (flags: KeyFlags): Effect.Effect<Loaded, KeyError | UsageError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    if (Option.isSome(flags.keyFile) && Option.isSome(flags.keyEnv)) {
      return yield* new UsageError({ reason: "give the key with either --key-file or --key-env, not both" })
    }
    const maxLineBytes = yield* lineLimit(flags)
    const source = Option.isSome(flags.keyFile)
      ? { name: sourceName("--key-file", flags.keyFile.value), key: yield* fromFile(flags.keyFile.value) }
      : Option.isSome(flags.keyEnv)
      ? { name: sourceName("--key-env", flags.keyEnv.value), key: yield* fromEnv(flags.keyEnv.value) }
      : undefined
    if (source === undefined) {
      return { key: undefined, allowEmptyKey: flags.allowEmptyKey, chain: "SHA-256", maxLineBytes }
    }
    if (source.key.length === 0 && !flags.allowEmptyKey) {
      return yield* new KeyError({
        source: source.name,
        reason: "the key is empty: refusing it (anyone can forge an empty-key log); --allow-empty-key accepts it"
      })
    }
    return { key: source.key, allowEmptyKey: flags.allowEmptyKey, chain: "HMAC-SHA256", maxLineBytes }
  })

const brokenAtFirstEntry = (e: unknown): boolean =>
  typeof e === "object" && e !== null && "_tag" in e && e._tag === "WalChainBroken" && "sequence" in e &&
  e.sequence === 1n && "expected" in e && e.expected !== "genesis"

/** A line over the reader's limit (`WalLineTooLong`), whatever carries it. */
const lineTooLong = (e: unknown): boolean =>
  typeof e === "object" && e !== null && "_tag" in e && e._tag === "WalLineTooLong"

/**
 * A hint on stderr, before the error itself (text mode only; the key is never shown): a chain
 * broken at its very first entry's hash almost always means the wrong key (or none); a line over
 * the limit may be one a writer with a larger `maxLineBytes` (or the reference, which has none)
 * wrote, which `--max-line-bytes` reads (a helper's hostile review: nothing said how).
 */
export const hintOnFailure = (loaded: Loaded) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.tapError(effect, (e) => {
    const hint = brokenAtFirstEntry(e)
      ? loaded.key === undefined
        ? "hint: the first entry does not hash as an unkeyed (SHA-256) log: is it keyed? give its key with --key-file or --key-env"
        : "hint: the first entry does not verify under this key: a wrong key, an unkeyed log, or a tampered first entry"
      : lineTooLong(e)
      ? "hint: if the log was written with a larger line limit, read it with --max-line-bytes N (the limit guards memory)"
      : undefined
    return hint === undefined
      ? Effect.void
      : Effect.flatMap(Effect.flatMap(OutputMode, Ref.get), (json) => json ? Effect.void : Console.error(hint))
  })
