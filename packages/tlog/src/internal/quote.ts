/** Values quoted in errors are cut to this many UTF-16 code units (one fewer when a pair would be split). */
export const QUOTE = 120

/**
 * `value` as an error quotes it: cut to `QUOTE` code units and marked "…" when longer, never
 * between the two halves of a surrogate pair (the quote stays a well-formed string).
 */
export const quote = (value: string): string => {
  if (value.length <= QUOTE) return value
  const last = value.charCodeAt(QUOTE - 1)
  return value.slice(0, last >= 0xd800 && last <= 0xdbff ? QUOTE - 1 : QUOTE) + "…"
}
