/**
 * Reading a log (SPEC §5): split on LF (a CR before it is dropped), skip lines that are only
 * Unicode White_Space, parse each entry, and fail on the first problem — a line that is not
 * UTF-8, a malformed entry, a sequence out of order, a broken chain — or, with verification
 * off, only on the first two. A final line without its newline that is not a complete entry
 * but the start of the next entry as a writer spells it, cut (verifying; without verification,
 * any start), is a torn tail (`WalTornTail`), reported apart from corruption — also when it is
 * longer than the line limit: such a line is not kept but scanned (`LongLine`), and unless it
 * may still be a complete entry (then it is `WalLineTooLong`) it is a torn tail that `repair`
 * can remove.
 *
 * The core is a synchronous state machine fed with byte chunks, so a multi-GB log verifies in
 * bounded memory and without an Effect per line; `Stream` wrappers sit on top.
 */
import * as Hash from "@calybris/core/Hash"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Stream from "effect/Stream"
import * as Chain from "./Chain.js"
import type { Entry } from "./Entry.js"
import { type ParsedLine, parseLine } from "./internal/envelope.js"
import {
  dataOffsetOf,
  ENTRY_TO_DATA,
  fastPath,
  HASH_LENGTH,
  matchLineBytes,
  readData,
  Sequence
} from "./internal/fastLine.js"
import { LongLine, utf8Lead } from "./internal/longLine.js"
import { judgedLength, startsNextEntry } from "./internal/nextEntry.js"
import {
  WalChainBroken,
  WalParseError,
  WalReadError,
  WalSequenceError,
  WalTornTail,
  type WalVerifyError
} from "./WalError.js"
import { WalLineTooLong, WalOptionsInvalid } from "./WalError.js"

export interface ReaderOptions {
  /** the chain to verify against; `undefined` reads without verification (never the default) */
  readonly chain: Chain.Chain | undefined
  /** longest line accepted, in bytes (default 64 MiB) */
  readonly maxLineBytes?: number | undefined
  /**
   * Each entry's line bytes (without LF, and without a CR before it), with its sequence, as the
   * reader accepts it (fast path and exact path alike): a view valid during the call (`WalOptions.onLine`).
   */
  readonly onLine?: OnLine | undefined
}

/**
 * An entry's line bytes (a view valid during the call), its sequence, and whether the line is
 * exactly its entry's canonical form — `{"sequence":N,"previous_hash":"P","entry_hash":"E","data":D}`
 * with D canonical JSON, what every writer writes. The chain hashes the canonical form of `data`
 * (SPEC §5), so a line re-spelt without the key (whitespace, escapes, member order, unknown or
 * repeated members) still verifies; whoever commits to the line's bytes (a Merkle tree) can refuse
 * it. Known when verifying (`chain` given); `false` when reading without verification.
 */
export type OnLine = (line: Uint8Array, sequence: bigint, canonical: boolean) => void

/** Whether a line (without LF / CR) is exactly the canonical form of the entry parsed from it. */
const isCanonicalLine = (text: string, envelope: ParsedLine): boolean =>
  envelope.dataCanonical && envelope.dataText !== undefined &&
  text ===
    `{"sequence":${envelope.sequence},"previous_hash":"${envelope.previous_hash}","entry_hash":"${envelope.entry_hash}","data":${envelope.dataText}}`

/** What a complete verification found. */
export interface Verified {
  readonly count: bigint
  readonly lastHash: string
  /** byte length of the log */
  readonly bytes: number
  /** the last line lacks its newline (a complete entry) */
  readonly missingNewline: boolean
  /**
   * the log ends with bytes after its last LF (`missingNewline`'s entry, or a blank line's white
   * space): a writer adds an LF before appending — else its first entry would follow those bytes
   * on their line (a hostile review: a final U+00A0, blank to the reader, not JSON white space,
   * made the next appended line unreadable)
   */
  readonly unterminated: boolean
}

/** The longest line a reader accepts unless told otherwise (`maxLineBytes`), and so a writer writes. */
export const DEFAULT_MAX_LINE_BYTES = 64 * 1024 * 1024

/**
 * `maxLineBytes` checked: undefined (the default) or a positive safe integer, else
 * `WalOptionsInvalid` naming it and the value (every reader refuses to read with it, every log to
 * open with it).
 */
export const checkOptions = (
  options: Pick<ReaderOptions, "maxLineBytes">
): Either.Either<void, WalOptionsInvalid> => {
  const max: unknown = options.maxLineBytes
  return max === undefined || (typeof max === "number" && Number.isSafeInteger(max) && max >= 1)
    ? Either.void
    : Either.left(
      new WalOptionsInvalid({
        field: "maxLineBytes",
        value: typeof max === "bigint" ? `${max}n` : String(max),
        reason: "not a positive integer (1 to 2^53 - 1 bytes)"
      })
    )
}

/** SPEC §5's Unicode White_Space (not U+FEFF, not NUL). */
const isWhiteSpace = (c: number): boolean =>
  (c >= 0x09 && c <= 0x0d) || c === 0x20 || c === 0x85 || c === 0xa0 || c === 0x1680 ||
  (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000

const isBlank = (text: string): boolean => {
  for (let i = 0; i < text.length; i++) if (!isWhiteSpace(text.charCodeAt(i))) return false
  return true
}

const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })
/** For lines the fast path accepted (ASCII only). */
const asciiDecoder = new TextDecoder("utf-8", { ignoreBOM: true })

/** The bytes as a string when they are valid UTF-8 and all ASCII (one code unit per byte). */
const asciiText = (bytes: Uint8Array): string | undefined => {
  let text: string
  try {
    text = decoder.decode(bytes)
  } catch {
    return undefined
  }
  return text.length === bytes.length ? text : undefined
}

/**
 * Is `bytes` (not valid UTF-8) a line cut inside its last character — a lead byte and fewer
 * continuation bytes than it announces, at the very end — whose bytes before that character are
 * valid UTF-8 and the start of an entry, cut (serde's EOF)?
 */
const tornInCharacter = (bytes: Uint8Array): boolean => {
  let start = bytes.length - 1
  while (start >= 0 && bytes.length - start <= 3 && ((bytes[start] as number) & 0xc0) === 0x80) start--
  if (start < 0) return false
  const lead = utf8Lead(bytes[start] as number)
  if (lead === undefined || bytes.length - start > lead.continuations) return false
  // the bytes there must be the start of a character (`E0 80`, `ED A0`, `F0 80`, `F4 90` never
  // are: no continuation makes them UTF-8 — corruption, not a cut; a review of the long-line judge)
  const second = bytes[start + 1]
  if (second !== undefined && (second < lead.lo || second > lead.hi)) return false
  let prefix: string
  try {
    prefix = decoder.decode(bytes.subarray(0, start))
  } catch {
    return false
  }
  const parsed = parseLine(prefix, { value: false, text: false })
  if (Either.isLeft(parsed) && parsed.left.category === "Eof") {
    // and the character was cut where a writer puts one: inside a string (the bytes before it and
    // a whole character of its width are still a cut entry) — one after a `}`, a number or in a
    // `\u` escape was a complete entry's byte changed, which repair removed as "torn" (a review)
    const whole = lead.continuations === 1 ? "\u00e9" : lead.continuations === 2 ? "\u20ac" : "\u{1f600}"
    const withChar = parseLine(prefix + whole, { value: false, text: false })
    return Either.isLeft(withChar) && withChar.left.category === "Eof"
  }
  return false
}

/** Where a run of zero units at the end of a line starts (`length` when it ends in none): a power loss's unwritten tail. */
const zeroRunStart = (code: (i: number) => number, length: number): number => {
  let end = length
  while (end > 0 && code(end - 1) === 0) end--
  return end
}

/** Whether `text` is ASCII. */
const isAscii = (text: string): boolean => {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false
  return true
}

/** The ASCII `text` written into `into` from its start (it fits); returns `into`. */
const asciiBytes = (text: string, into: Uint8Array): Uint8Array => {
  for (let i = 0; i < text.length; i++) into[i] = text.charCodeAt(i)
  return into
}

const concat = (a: Uint8Array, b: Uint8Array): Uint8Array => {
  if (a.length === 0) return b
  const out = new Uint8Array(a.length + b.length)
  out.set(a)
  out.set(b, a.length)
  return out
}

/** The reading state machine. Feed `push` with chunks, then call `end` once. */
export class LineReader {
  private readonly chain: Chain.Chain | undefined
  private readonly maxLine: number
  private pending: Uint8Array = new Uint8Array(0)
  /** byte offset of `pending[0]` in the file */
  private pendingOffset = 0
  private lineNumber = 0
  /** the expected sequence (its digits are what the fast path compares the line's sequence with) */
  private readonly expected = new Sequence(1n)
  private lastHash = Chain.GENESIS
  /** `lastHash` as its ASCII bytes in `lastHashBytes[0, lastHashLength)`; -1 when it is not ASCII (no fast path) */
  private lastHashBytes: Uint8Array = asciiBytes(Chain.GENESIS, new Uint8Array(HASH_LENGTH))
  private lastHashLength = Chain.GENESIS.length
  /** scratch for the next `lastHashBytes` */
  private hashBytes: Uint8Array = new Uint8Array(HASH_LENGTH)
  /** lines read (a number: a log cannot hold 2^53 lines) */
  private count = 0
  private bytes = 0
  /** Build `Entry` values (with their `data`); a verification-only pass does not need them. */
  private readonly collect: boolean

  /**
   * The fast path's hash over bytes, when it is on (verifying; a line it accepts gives an entry
   * read from its bytes, equal to the exact path's).
   */
  private readonly fast: ((previousHash: Uint8Array, data: Uint8Array) => string) | undefined

  /**
   * Where each entry goes as soon as it is read, when given (instead of the arrays `push` and
   * `end` return, which then stay empty): an entry used and dropped at once dies young, where a
   * chunk's worth of entries held until the chunk is read outlives the young generation.
   */
  private readonly each: ((entry: Entry) => void) | undefined

  /**
   * Where a line the fast path accepted goes instead, when given (with `each`): its sequence and
   * the bytes of its `data` — canonical JSON, the bytes its hash covers; a view into the
   * reader's buffer, valid during the call —, no `Entry` and no JSON value built. A hook that
   * returns `false` declines the line: its `Entry` is built and goes to `each` as without the hook.
   */
  private readonly data: ((sequence: bigint, data: Uint8Array) => boolean | void) | undefined

  /**
   * A scanner the fast path tries on a line's data before its own (`matchLineBytes`' `scan`: a
   * subset of canonical JSON, e.g. audited replay's record decoder, which then need not scan the
   * same bytes twice); -1 leaves the data to the fast path's own scanner.
   */
  private readonly scan: ((bytes: Uint8Array, start: number, limit: number) => number) | undefined

  /** Each entry's line bytes as it is accepted (`ReaderOptions.onLine`). */
  private readonly onLine: OnLine | undefined

  constructor(
    options: ReaderOptions,
    collect = true,
    each?: (entry: Entry) => void,
    data?: (sequence: bigint, data: Uint8Array) => boolean | void,
    scan?: (bytes: Uint8Array, start: number, limit: number) => number
  ) {
    this.scan = scan
    this.onLine = options.onLine
    this.each = collect ? each : undefined
    this.data = this.each === undefined ? undefined : data
    this.chain = options.chain
    this.maxLine = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES
    const checked = checkOptions(options)
    this.invalid = Either.isLeft(checked) ? checked.left : undefined
    this.collect = collect
    this.fast = options.chain !== undefined && fastPath.enabled ? Chain.bytesLinkOfBytes(options.chain) : undefined
  }

  /** Consume a chunk; returns the complete entries it finished, or the first failure. */
  /** Entries completed before the failure that a `push` or `end` returned (then cleared). */
  private partial: Array<Entry> = []

  private fail(out: Array<Entry>, error: WalVerifyError): Either.Either<never, WalVerifyError> {
    this.partial = out
    return Either.left(error)
  }

  /** The entries a failing `push` / `end` had completed before its failure, in order. */
  takePartial(): Array<Entry> {
    const out = this.partial
    this.partial = []
    return out
  }

  /** The line being read grew past the limit: it is scanned, not kept (see `LongLine`). */
  private long: LongLine | undefined = undefined
  /** the first bytes of the long line (for `nextEntryStart`) */
  private longHead: Uint8Array = new Uint8Array(0)

  /** The entries read before the line being judged, and the last one's hash (a torn tail's `count`, `lastHash`). */
  private prefix(): { readonly count: bigint; readonly lastHash: string } {
    return { count: BigInt(this.count), lastHash: this.lastHash }
  }

  /** Why a final line cut short is corruption, not a torn tail (`nextEntryStart` said no). */
  private notNext(): string {
    return `an incomplete final line that is not the start of entry ${this.expected.value} after ${this.lastHash} as a writer spells it: no crash leaves it, and \`calybris wal repair\` refuses it`
  }

  /**
   * Whether a final line without its LF starts as a writer starts the next entry's line (ours and
   * the reference's alike: `{"sequence":N,"previous_hash":"H","entry_hash":"E","data":…`, N and H
   * those after the lines before it, E 64 lowercase hex digits: `startsNextEntry`), as far as it goes — what a crash cutting a write leaves, and what
   * a writer appending it shows a reader meanwhile. Any other start was not cut from the next
   * entry: corruption, not a torn tail (a junk line appended after entry 3 naming sequence 3 was a
   * "torn tail" to the ledger's view and the writer's open, which sent the operator to a repair
   * that refuses it: a hostile review). A reader that verifies no chain expects nothing: true.
   */
  private nextEntryStart(start: (i: number) => number, length: number): boolean {
    return this.chain === undefined || startsNextEntry(start, length, this.expected.value, this.lastHash)
  }

  /**
   * Whether a final line ends in a run of zero bytes (U+0000) and, without them, is empty or the
   * next entry's start cut (`nextEntryStart`, serde's EOF): a power loss's unwritten tail.
   */
  private zeroTail(text: string): boolean {
    const end = zeroRunStart((i) => text.charCodeAt(i), text.length)
    if (end === text.length) return false
    if (end === 0) return true
    const before = text.slice(0, end)
    const parsed = parseLine(before, { value: false, text: false })
    return Either.isLeft(parsed) && parsed.left.category === "Eof" &&
      this.nextEntryStart((i) => before.charCodeAt(i), before.length)
  }

  /** whether the long line's last byte so far is a zero byte (a power loss's tail, maybe) */
  private longEndsInZero = false

  /** `maxLineBytes` out of range: every `push` and `end` fails with it, nothing read */
  private readonly invalid: WalOptionsInvalid | undefined

  push(chunk: Uint8Array): Either.Either<Array<Entry>, WalVerifyError> {
    if (this.invalid !== undefined) return Either.left(this.invalid)
    this.bytes += chunk.length
    const long = this.long
    if (long !== undefined) {
      // a newline ends the long line: it is complete, and too long
      if (chunk.indexOf(0x0a) >= 0) {
        return this.fail(
          [],
          new WalLineTooLong({ line: this.lineNumber + 1, offset: this.pendingOffset, limit: this.maxLine })
        )
      }
      long.scan(chunk)
      if (chunk.length > 0) this.longEndsInZero = chunk[chunk.length - 1] === 0
      // the start `nextEntryStart` judges, when the line grew long before it was all there (a
      // line limit below it: the review of the torn-tail check)
      const head = this.longHead
      const judged = judgedLength(this.expected.value, this.lastHash)
      if (head.length < judged) this.longHead = concat(head, chunk.subarray(0, judged - head.length))
      return Either.right([])
    }
    const out: Array<Entry> = []
    let start = 0
    let pending: Uint8Array
    if (this.pending.length > 0 && chunk.indexOf(0x0a) < 0) {
      // a line longer than a chunk: the chunk is added to it in a buffer grown by doubling, the
      // bytes before not copied again nor searched for an LF (a copy of the whole line per
      // chunk took 7 s to read a 60 MiB line in 1 MiB chunks, 80 s in 64 KiB ones: 0.5 s whole)
      pending = this.pending = this.grown(chunk)
    } else {
      const buffer = chunk
      if (this.pending.length > 0) {
        // the line left incomplete by the previous chunk is completed apart (the chunk is not
        // copied behind it)
        const lf = chunk.indexOf(0x0a)
        const head = concat(this.pending, chunk.subarray(0, lf + 1))
        const error = this.lines(head, 0, head.length - 1, out)
        if (error !== undefined) return this.fail(out, error)
        start = lf + 1
      }
      const error = this.lines(buffer, start, buffer.lastIndexOf(0x0a), out)
      if (error !== undefined) return this.fail(out, error)
      const rest = this.rest
      pending = this.pending = rest === 0 ? buffer : buffer.slice(rest)
      this.store = undefined
    }
    // (a CR at its end is not counted: it is the line's own only if no LF follows it, and the
    // line's length leaves a CR before its LF out — counted, a CRLF line of the limit's length
    // was too long when a chunk ended between its CR and LF, and fine otherwise: the WAL review)
    if (pending.length - (pending[pending.length - 1] === 0x0d ? 1 : 0) > this.maxLine) {
      // too long to keep: from here it is only scanned, and judged at its newline or at the end
      const scanned = new LongLine()
      scanned.scan(this.pending)
      this.long = scanned
      this.longEndsInZero = this.pending[this.pending.length - 1] === 0
      this.longHead = this.pending.slice(0, judgedLength(this.expected.value, this.lastHash))
      this.pending = new Uint8Array(0)
      this.store = undefined
    }
    return Either.right(out)
  }

  /** The buffer `pending` is the start of, when `grown` made it (room after `pending` for more). */
  private store: Uint8Array | undefined = undefined

  /** `pending` followed by `chunk`: in `store`, grown to twice the size when it has no room left. */
  private grown(chunk: Uint8Array): Uint8Array {
    const pending = this.pending
    const length = pending.length + chunk.length
    let store = this.store
    if (store === undefined || store.length < length) {
      store = new Uint8Array(Math.max(length, 2 * pending.length))
      store.set(pending)
      this.store = store
    }
    store.set(chunk, pending.length)
    return store.subarray(0, length)
  }

  /** Where the complete lines `lines` read last ended in its buffer. */
  private rest = 0

  /**
   * The complete lines of `buffer` from `start` (at a line start) to its LF at `lastLf` (none
   * when `lastLf < start`), advancing `pendingOffset`; the first failure, if any.
   */
  private lines(buffer: Uint8Array, start: number, lastLf: number, out: Array<Entry>): WalVerifyError | undefined {
    let offset = this.pendingOffset
    // Each line first goes to the fast path (a verifying pass over lines as writers write
    // them: see internal/fastLine.ts), which accepts or leaves the line to the exact path.
    // The exact path works on text: from the first line the fast path leaves to it, the rest
    // of the complete lines is decoded at once; when it is all ASCII (the common case), string
    // indices are byte offsets and each line is a slice. Otherwise (non-ASCII, or not UTF-8)
    // line by line, which finds and reports the exact line.
    const fast = this.fast
    let text: string | undefined
    let textStart = -1
    while (start <= lastLf) {
      this.lineNumber++
      let lf = fast === undefined ? -1 : this.fastLine(fast, buffer, start, lastLf, offset, out)
      if (lf < 0) {
        lf = buffer.indexOf(0x0a, start)
        const end = lf > start && buffer[lf - 1] === 0x0d ? lf - 1 : lf
        let error: WalVerifyError | undefined
        if (end - start > this.maxLine) {
          error = new WalLineTooLong({ line: this.lineNumber, offset, limit: this.maxLine })
        } else {
          if (textStart < 0) {
            textStart = start
            text = asciiText(buffer.subarray(start, lastLf + 1))
          }
          error = text !== undefined
            ? this.lineText(
              text.slice(start - textStart, end - textStart),
              offset,
              lf - start,
              false,
              out,
              this.onLine === undefined ? undefined : buffer.subarray(start, end)
            )
            : this.line(buffer.subarray(start, lf), offset, false, out)
        }
        if (error !== undefined) return error
      }
      offset += lf + 1 - start
      start = lf + 1
    }
    this.pendingOffset = offset
    this.rest = start
    return undefined
  }

  /**
   * The fast path for the line at `buffer[start]` (an LF is at `lastLf`): the index of its LF
   * when it accepted the line (and advanced the state exactly as the exact path would have),
   * or -1 when the exact path must read it.
   */
  private fastLine(
    link: (previousHash: Uint8Array, data: Uint8Array) => string,
    buffer: Uint8Array,
    start: number,
    lastLf: number,
    offset: number,
    out: Array<Entry>
  ): number {
    const previousLength = this.lastHashLength
    if (previousLength < 0) return -1
    const previousBytes = this.lastHashBytes
    const expected = this.expected
    const close = matchLineBytes(
      buffer,
      start,
      lastLf,
      expected.digits,
      expected.length,
      previousBytes,
      previousLength,
      this.scan
    )
    // the line's length without LF / CR, as the exact path measures it
    if (close < 0 || close + 1 - start > this.maxLine) return -1
    const dataStart = start + dataOffsetOf(expected.length, previousLength)
    const recomputed = link(
      previousLength === previousBytes.length ? previousBytes : previousBytes.subarray(0, previousLength),
      buffer.subarray(dataStart, close)
    )
    if (recomputed.length !== HASH_LENGTH) return -1
    // compared in constant time (over all 64 bytes)
    const at = dataStart - ENTRY_TO_DATA
    const copy = this.hashBytes
    let diff = 0
    for (let k = 0; k < HASH_LENGTH; k++) {
      const b = buffer[at + k] as number
      copy[k] = b
      diff |= b ^ recomputed.charCodeAt(k)
    }
    if (diff !== 0) return -1
    // the fast path accepts canonical lines only (internal/fastLine.ts)
    if (this.onLine !== undefined) this.onLine(buffer.subarray(start, close + 1), expected.value, true)
    if (
      (this.data === undefined || this.data(expected.value, buffer.subarray(dataStart, close)) === false) &&
      this.collect
    ) {
      // the line is ASCII: its text is a code unit per byte, the data's value read from it
      const text = asciiDecoder.decode(buffer.subarray(start, close + 1))
      const from = dataStart - start
      this.emit(out, {
        sequence: expected.value,
        previous_hash: this.lastHash,
        entry_hash: recomputed,
        data: readData(text, from),
        dataText: text.slice(from, close - start),
        line: this.lineNumber,
        offset,
        text,
        canonical: true
      })
    }
    expected.next()
    this.count++
    this.lastHash = recomputed
    // the bytes of the hash for the next line's comparison (two buffers, swapped)
    this.hashBytes = previousBytes.length === HASH_LENGTH ? previousBytes : new Uint8Array(HASH_LENGTH)
    this.lastHashBytes = copy
    this.lastHashLength = HASH_LENGTH
    return buffer[close + 1] === 0x0a ? close + 1 : close + 2
  }

  private emit(out: Array<Entry>, entry: Entry): void {
    const each = this.each
    if (each === undefined) out.push(entry)
    else each(entry)
  }

  /** The end of the input: a final line without newline, then the totals. */
  end(): Either.Either<{ readonly entries: Array<Entry>; readonly verified: Verified }, WalVerifyError> {
    if (this.invalid !== undefined) return Either.left(this.invalid)
    const out: Array<Entry> = []
    let missingNewline = false
    const long = this.long
    if (long !== undefined) {
      // a final line longer than the limit: a torn tail when it cannot be an entry
      const line = this.lineNumber + 1
      const offset = this.pendingOffset
      // a line ending in zero bytes is judged without them (`zeroTail`), which a scan cannot: too
      // long, never a verdict the whole line would not get (a larger limit reads it whole)
      const verdict = this.longEndsInZero ? undefined : long.verdict()
      const head = this.longHead
      const cut = this.nextEntryStart((i) => head[i] as number, head.length)
      return this.fail(
        out,
        verdict === undefined
          ? new WalLineTooLong({ line, offset, limit: this.maxLine })
          : verdict.category === "Io"
          // not UTF-8: cut inside its last character (torn, as `tornInCharacter`), or corruption
          ? verdict.torn && cut
            ? new WalTornTail({
              line,
              offset,
              length: long.length,
              category: "Io",
              reason: verdict.reason,
              column: 0,
              ...this.prefix()
            })
            : new WalReadError({ line, offset, io_kind: "InvalidData", reason: verdict.reason })
          : verdict.category === "Eof" && cut
          ? new WalTornTail({ line, offset, length: long.length, ...verdict, ...this.prefix() })
          // not the start of the next entry: corruption, not a torn write (repair refuses it)
          : new WalParseError({
            line,
            offset,
            ...verdict,
            ...(verdict.category === "Eof" ? { note: this.notNext() } : {})
          })
      )
    }
    if (this.pending.length > 0) {
      this.lineNumber++
      const before = this.count
      const error = this.line(this.pending, this.pendingOffset, true, out)
      if (error !== undefined) return this.fail(out, error)
      missingNewline = this.count > before
    }
    return Either.right({
      entries: out,
      verified: {
        count: BigInt(this.count),
        lastHash: this.lastHash,
        bytes: this.bytes,
        missingNewline,
        unterminated: this.pending.length > 0
      }
    })
  }

  private line(raw: Uint8Array, offset: number, last: boolean, out: Array<Entry>): WalVerifyError | undefined {
    const line = this.lineNumber
    // the line without a CR at its end: what `onLine` (a tree's leaf) is handed — the same bytes
    // as once a writer ends the line with its LF — and what is parsed, but for the final line, no
    // LF after it, whose CR is its own (Rust's `lines()` drops "\r" only with the "\n" it
    // precedes; a review built the reference's reader: a final `…"ab\r` is serde's
    // control-character Syntax error, not a torn tail, and an EOF's column counts the CR)
    const trimmed = raw.length > 0 && raw[raw.length - 1] === 0x0d ? raw.subarray(0, raw.length - 1) : raw
    const bytes = last ? raw : trimmed
    if (bytes.length > this.maxLine) return new WalLineTooLong({ line, offset, limit: this.maxLine })
    let text: string
    try {
      text = decoder.decode(bytes)
    } catch {
      // a final line cut inside a character, its bytes before it the start of an entry: torn (a
      // crash cuts a write anywhere); invalid UTF-8 anywhere else is corruption, never a crash's
      // (zero bytes after the cut are a power loss's unwritten tail, as `zeroTail` judges: the
      // cut is judged without them; a review of the zero tails)
      const cut = last ? bytes.subarray(0, zeroRunStart((i) => bytes[i] as number, bytes.length)) : bytes
      if (last && tornInCharacter(cut) && this.nextEntryStart((i) => cut[i] as number, cut.length)) {
        return new WalTornTail({
          line,
          offset,
          length: raw.length,
          category: "Io",
          reason: "stream did not contain valid UTF-8",
          column: 0,
          ...this.prefix()
        })
      }
      return new WalReadError({ line, offset, io_kind: "InvalidData", reason: "stream did not contain valid UTF-8" })
    }
    return this.lineText(text, offset, raw.length, last, out, trimmed)
  }

  /**
   * One decoded line (without its LF / CR); `length` is the raw line's byte length, `bytes` its
   * bytes without LF / CR (for `onLine`).
   */
  private lineText(
    text: string,
    offset: number,
    length: number,
    last: boolean,
    out: Array<Entry>,
    bytes?: Uint8Array
  ): WalVerifyError | undefined {
    const line = this.lineNumber
    if (text.charCodeAt(0) !== 0x7b && isBlank(text)) return undefined
    const chain = this.chain
    // One pass over the line: the envelope, `data` validated (and built only when entries are
    // collected), and the canonical data text the hash covers when verifying — the raw text
    // when it is already canonical (what writers write), else the re-serialised value.
    // the canonical data text also for `onLine`'s `canonical` (a reader that verifies no chain: a tree's)
    const parsed = parseLine(text, { value: this.collect, text: chain !== undefined || this.onLine !== undefined })
    if (Either.isLeft(parsed)) {
      const e = parsed.left
      // serde only says "expected value at line 1 column 1": name what is there
      const note: { note?: string } = text.charCodeAt(0) === 0xfeff
        ? { note: `a byte order mark (U+FEFF) at the start of line ${line}` }
        : {}
      // a final line without its LF is torn only when it is the start of an entry, cut (serde's
      // EOF: what a crash leaves); any other error there is corruption — a complete entry with a
      // byte changed, or one more after it, was removed by repair as "torn" (a hostile review)
      const cut = last && e.category === "Eof"
      if (cut && !this.nextEntryStart((i) => text.charCodeAt(i), text.length) && note.note === undefined) {
        note.note = this.notNext()
      }
      // a final line that ends in zero bytes — nothing else, or the next entry's start cut, then
      // zeros — is what a power loss leaves where a file system extended the file before its data
      // reached the disk: torn too (its parse error as it stands, the reference's verdict), so
      // `repair` saves it aside (it was corruption that nothing but a hand truncation cleared: a
      // helper's crash review)
      const zeroed = last && !cut && note.note === undefined && this.zeroTail(text)
      return (cut || zeroed) && note.note === undefined
        ? new WalTornTail({
          line,
          offset,
          length,
          category: e.category,
          reason: e.reason,
          column: e.column,
          ...this.prefix()
        })
        : new WalParseError({ line, offset, category: e.category, reason: e.reason, column: e.column, ...note })
    }
    const envelope = parsed.right
    if (chain !== undefined) {
      const expected = this.expected.value
      if (envelope.sequence !== expected) {
        return new WalSequenceError({ line, offset, sequence: envelope.sequence, expected })
      }
      if (!constantTimeEquals(envelope.previous_hash, this.lastHash)) {
        return new WalChainBroken({
          line,
          offset,
          sequence: envelope.sequence,
          expected: this.lastHash,
          found: envelope.previous_hash
        })
      }
      const recomputed = chain.link(envelope.previous_hash, envelope.dataText ?? "")
      if (!constantTimeEquals(recomputed, envelope.entry_hash)) {
        return new WalChainBroken({
          line,
          offset,
          sequence: envelope.sequence,
          expected: recomputed,
          found: envelope.entry_hash
        })
      }
      // (the sequence read is the expected one)
      this.expected.next()
    }
    if (this.onLine !== undefined && bytes !== undefined) {
      // (a final line's CR, left out of its bytes, out of the text judged canonical too)
      const own = last && text.endsWith("\r") ? text.slice(0, -1) : text
      this.onLine(bytes, envelope.sequence, isCanonicalLine(own, envelope))
    }
    this.count++
    this.lastHash = envelope.entry_hash
    this.lastHashLength = envelope.entry_hash.length <= HASH_LENGTH && isAscii(envelope.entry_hash)
      ? (asciiBytes(envelope.entry_hash, this.lastHashBytes), envelope.entry_hash.length)
      : -1
    if (this.collect) {
      this.emit(out, {
        sequence: envelope.sequence,
        previous_hash: envelope.previous_hash,
        entry_hash: envelope.entry_hash,
        data: envelope.data ?? null,
        dataText: envelope.dataText ?? "",
        line,
        offset,
        text,
        canonical: envelope.dataCanonical
      })
    }
    return undefined
  }
}

/** Constant-time string comparison (the time depends only on the lengths): the one in core. */
export const constantTimeEquals = Hash.constantTimeEquals

/** Entries of a byte stream, verified (or not, with `chain: undefined`), in bounded memory. */
export const entries = <E, R>(
  bytes: Stream.Stream<Uint8Array, E, R>,
  options: ReaderOptions
): Stream.Stream<Entry, E | WalVerifyError, R> =>
  Stream.suspend(() => {
    const reader = new LineReader(options)
    // a failing chunk still yields the entries before its bad line, then the failure
    const emit = (result: Either.Either<Array<Entry>, WalVerifyError>): Stream.Stream<Entry, WalVerifyError> =>
      Either.match(result, {
        onRight: (done) => Stream.fromIterable(done),
        onLeft: (error) => Stream.concat(Stream.fromIterable(reader.takePartial()), Stream.fail(error))
      })
    return bytes.pipe(
      Stream.flatMap((chunk) => emit(reader.push(chunk))),
      Stream.concat(Stream.suspend(() => emit(Either.map(reader.end(), (r) => r.entries))))
    )
  })

/** Verify a whole byte stream: the count and last hash (SPEC §5), or the first failure. */
export const verify = <E, R>(
  bytes: Stream.Stream<Uint8Array, E, R>,
  options: ReaderOptions
): Effect.Effect<Verified, E | WalVerifyError, R> =>
  Effect.suspend(() => {
    const reader = new LineReader(options, false)
    return bytes.pipe(
      Stream.runForEach((chunk): Effect.Effect<void, WalVerifyError> =>
        Either.map(reader.push(chunk), () => undefined)
      ),
      Effect.zipRight(Effect.suspend(() => Either.map(reader.end(), (r) => r.verified)))
    )
  })

/**
 * Verify a whole byte stream and read its entries in the same pass: each verified entry goes to
 * `onEntry`, in order, as it is read (the chain is hashed once, the bytes read once). The
 * verification's failure comes first, as if the stream had been verified before any entry was
 * read: once `onEntry` fails, no further entry is given to it, but the rest of the stream is
 * still verified, and a failure of the stream (a broken chain, a torn tail, a read error) wins
 * over `onEntry`'s. Returns the count and last hash (SPEC §5), like `verify`.
 *
 * `onEntry` is synchronous: the reader's state machine is driven one Effect per chunk of bytes,
 * not per entry (an Effect per entry costs more than most work done with an entry).
 */
export const verifyEach = <E, R, E2>(
  bytes: Stream.Stream<Uint8Array, E, R>,
  options: ReaderOptions,
  onEntry: ((entry: Entry) => Either.Either<void, E2>) | OnEntries<E2>
): Effect.Effect<Verified, E | WalVerifyError | E2, R> =>
  Effect.suspend(() => {
    let problem: { readonly error: E2 } | undefined
    const note = (result: Either.Either<void, E2>): void => {
      if (Either.isLeft(result)) problem = { error: result.left }
    }
    // with an object, the reader hands each line over as it reads it (a line the fast path
    // accepted as its data bytes); else the entries each chunk completed
    const reader = typeof onEntry === "function" ? new LineReader(options) : new LineReader(
      options,
      true,
      (entry) => {
        if (problem === undefined) note(onEntry.entry(entry))
      },
      (sequence, data) => {
        if (problem === undefined) note(onEntry.data(sequence, data))
      }
    )
    const each = (done: ReadonlyArray<Entry>): void => {
      if (typeof onEntry !== "function") return
      for (let i = 0; i < done.length && problem === undefined; i++) note(onEntry(done[i] as Entry))
    }
    return bytes.pipe(
      Stream.runForEach((chunk): Effect.Effect<void, WalVerifyError> => Either.map(reader.push(chunk), each)),
      Effect.zipRight(Effect.suspend(() =>
        Either.map(reader.end(), (end) => {
          each(end.entries)
          return end.verified
        })
      )),
      Effect.flatMap((verified) => problem === undefined ? Effect.succeed(verified) : Effect.fail(problem.error))
    )
  })

/**
 * `verifyEach`'s consumer that also takes a line the fast path accepted as its data bytes (no
 * `Entry` built, no JSON value): `data` gets the sequence and the canonical bytes of `data`
 * (a view valid during the call), `entry` every other line as the exact path reads it.
 */
export interface OnEntries<E> {
  readonly entry: (entry: Entry) => Either.Either<void, E>
  readonly data: (sequence: bigint, data: Uint8Array) => Either.Either<void, E>
}

/** Verify bytes held in memory. */
export const verifyBytes = (bytes: Uint8Array, options: ReaderOptions): Either.Either<Verified, WalVerifyError> => {
  const reader = new LineReader(options, false)
  return Either.flatMap(reader.push(bytes), () => Either.map(reader.end(), (r) => r.verified))
}
