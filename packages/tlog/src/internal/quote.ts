/** Values quoted in errors are cut to this many UTF-16 code units (one fewer when a pair would be split). */
export const QUOTE = 120

/** What an error quotes in place of a value holding a note signer key. */
export const WITHHELD_SIGNER_KEY = "(withheld: it holds a note signer key)"

/**
 * `value` as an error quotes it: cut to `QUOTE` code units and marked "…" when longer, never
 * between the two halves of a surrogate pair (the quote stays a well-formed string). A value
 * holding a note signer key (`PRIVATE+KEY`: a key file given where a note goes, its line then
 * "not a signature line") is never quoted: a short key name fits the quote whole (a hostile
 * review).
 */
export const quote = (value: string): string => {
  if (value.includes("PRIVATE+KEY")) return WITHHELD_SIGNER_KEY
  if (value.length <= QUOTE) return value
  const last = value.charCodeAt(QUOTE - 1)
  return value.slice(0, last >= 0xd800 && last <= 0xdbff ? QUOTE - 1 : QUOTE) + "…"
}

/**
 * What a value given where a string, bytes or a verifier goes is, for an error naming it (never
 * its content): "null", "an array", "a number", … (a JavaScript caller is not held by the types).
 */
export const kindOf = (value: unknown): string =>
  value === null || value === undefined ? String(value) : Array.isArray(value)
    ? "an array"
    : typeof value === "object"
    ? "an object"
    : `a ${typeof value}`

/** Whether a value can be read with `for…of` (a JavaScript caller's Set, Map values, a generator). */
export const isIterable = (x: unknown): x is Iterable<unknown> =>
  typeof x === "object" && x !== null && typeof (x as Iterable<unknown>)[Symbol.iterator] === "function"
