/**
 * How a writer starts an entry's line (ours and the reference's alike):
 * `{"sequence":N,"previous_hash":"H","entry_hash":"E","data":` — N and H those after the lines
 * before it, E 64 lowercase hex digits — then the data. A crash cuts a write anywhere, so a final
 * line without its LF that a crash left (or that a writer is appending while a reader looks) is a
 * prefix of that, then any data; a final line that is not was not cut from the next entry: junk,
 * corruption. `Reader` (its torn-tail verdict) and `repair` (its last check before it truncates)
 * both judge by it.
 */

/** The bytes a writer writes before the next entry's hash, and after it (before its data). */
const DATA_MEMBER = "\",\"data\":"
const HASH_LENGTH = 64

/** The number of bytes of a line's start this judges (the rest is data). */
export const judgedLength = (sequence: bigint, previousHash: string): number =>
  head(sequence, previousHash).length + HASH_LENGTH + DATA_MEMBER.length

const head = (sequence: bigint, previousHash: string): string =>
  `{"sequence":${sequence},"previous_hash":"${previousHash}","entry_hash":"`

/** A lowercase hex digit's char code. */
const isHexDigit = (c: number): boolean => (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66)

/**
 * Whether the first `length` units of a line (`code(i)`: a byte, or a UTF-16 unit of its decoded
 * text; anything past the judged start is data, not looked at) are how a writer starts entry
 * `sequence` after `previousHash`, as far as they go.
 */
export const startsNextEntry = (
  code: (i: number) => number,
  length: number,
  sequence: bigint,
  previousHash: string
): boolean => {
  const before = head(sequence, previousHash)
  const n = Math.min(length, before.length + HASH_LENGTH + DATA_MEMBER.length)
  for (let i = 0; i < n; i++) {
    const c = code(i)
    if (i < before.length) {
      if (c !== before.charCodeAt(i)) return false
    } else if (i < before.length + HASH_LENGTH) {
      if (!isHexDigit(c)) return false
    } else if (c !== DATA_MEMBER.charCodeAt(i - before.length - HASH_LENGTH)) return false
  }
  return true
}
