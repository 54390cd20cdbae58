/**
 * Human-readable formatting: grouped integers, money, hex masks and plain-text tables.
 * Exact on bigints (no trip through a double).
 */
import * as Int from "@calybris/core/Int"

/** An integer with thousands separators: `1,234,567`, `-42`. */
export const int = Int.grouped

const MICROCENTS_PER_DOLLAR = 100_000_000n

/**
 * Microcents as US dollars, exact: `$0.0003`, `$12.50`, `-$1.00` (at least two decimals, as
 * many as needed up to eight).
 */
export const usd = (microcents: bigint): string => {
  const negative = microcents < 0n
  const abs = negative ? -microcents : microcents
  const dollars = abs / MICROCENTS_PER_DOLLAR
  let fraction = (abs % MICROCENTS_PER_DOLLAR).toString().padStart(8, "0").replace(/0+$/, "")
  if (fraction.length < 2) fraction = fraction.padEnd(2, "0")
  return `${negative ? "-" : ""}$${int(dollars)}.${fraction}`
}

/** A bit mask in hex: `0x5`. */
export const hex = (value: bigint): string => `0x${value.toString(16)}`

/** A short form of a hex digest for tables: the first 16 digits and an ellipsis. */
export const short = (digest: string): string => (digest.length > 16 ? `${digest.slice(0, 16)}…` : digest)

/**
 * Characters a terminal may act on or that rearrange what is shown: C0 and C1 controls, DEL,
 * the line and paragraph separators, and the bidirectional overrides and isolates — and every
 * character Unicode says to show as nothing (`Default_Ignorable_Code_Point`: soft hyphen,
 * zero-width spaces and joiners, bidi marks, variation selectors, tag characters, Hangul
 * fillers, BOM, …) and a lone surrogate, with which two tenant ids showed alike (`acme` and
 * `acme` + U+200B, then + U+E0041: reviews). Matched a code point at a time (`u`).
 */
const UNSAFE =
  /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]|\p{Default_Ignorable_Code_Point}|\p{Cs}/u
const UNSAFE_ALL = new RegExp(UNSAFE.source, "gu")

/** A name that would not show where it starts and ends: empty, or white space at either end. */
const AMBIGUOUS = /^$|^\s|\s$/

/**
 * A name from the data (a tenant id) as text output shows it: as it is, or — when it holds a
 * character a terminal acts on (an escape sequence, a newline that starts a fake table row, a
 * bidi override) — quoted, with those characters and `"` and `\` escaped (`"a\u001b[31m"`).
 * A name that starts with `"` is quoted too, so that no name shows as another's quoted form, and
 * so is the empty name and one that starts or ends with white space (`acme` and `acme ` showed
 * alike; the empty tenant id showed as nothing: a helper's hostile review).
 * A tenant id may hold any of them (the reference allows it); before, they reached the terminal
 * raw (a hostile review). JSON output is escaped by the JSON printer (`\u001b`, not C1 controls
 * or bidi overrides, which it leaves as they are: JSON output is for programs).
 */
export const name = (text: string): string => {
  if (!UNSAFE.test(text) && !text.startsWith("\"") && !AMBIGUOUS.test(text)) return text
  return `"${text.replace(/["\\]/g, "\\$&").replace(UNSAFE_ALL, escapeUnit)}"`
}

/** A matched code point as `\uXXXX` escapes, one a UTF-16 unit (two for one beyond U+FFFF: JSON's spelling). */
const escapeUnit = (c: string): string => {
  let out = ""
  for (let i = 0; i < c.length; i++) out += `\\u${c.charCodeAt(i).toString(16).padStart(4, "0")}`
  return out
}

/**
 * `text` with each character a terminal acts on (as `name` judges them) written as `\uXXXX` —
 * but a newline, when `newlines` (a defect's trace). For what the CLI prints from the data it
 * reads (a log's hash in an error, an entry's data in `wal show`): a log could draw over the
 * verdict before it, with a carriage return and escape sequences (a hostile review: a fake
 * "ok: 10 entries verify" over WalChainBroken).
 */
export const visible = (text: string, newlines = false): string =>
  UNSAFE.test(text) ? text.replace(UNSAFE_ALL, (c) => newlines && c === "\n" ? c : escapeUnit(c)) : text

export type Align = "left" | "right"

/** A plain-text table: a header row, then rows; columns padded to their widest cell. */
export const table = (
  headers: ReadonlyArray<string>,
  rows: ReadonlyArray<ReadonlyArray<string>>,
  align: ReadonlyArray<Align> = []
): Array<string> => {
  const widths = headers.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells.map((cell, c) => {
      const width = widths[c] ?? cell.length
      return align[c] === "right" ? cell.padStart(width) : cell.padEnd(width)
    }).join("  ").trimEnd()
  return [line(headers), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)]
}

/** A count with its noun: `1 tenant`, `2 tenants` (`plural` when adding an s is wrong). */
export const count = (n: bigint | number, noun: string, plural = `${noun}s`): string =>
  `${int(n)} ${n === 1 || n === 1n ? noun : plural}`
