/**
 * The reference's float parse (serde_json's default, without `float_roundtrip`), as the vectors'
 * README describes it: decimal digits accumulate into a u64 significand while they fit (later
 * integer digits only raise the decimal exponent, later fraction digits are dropped), the explicit
 * exponent is added, the significand becomes an f64 (round to nearest even), then is multiplied by
 * the f64 10^e (e ≥ 0) or divided by 10^-e (past 10^308 first by 1e308, adding 308, stopping at
 * 0.0); the sign comes last. Not correctly rounded: SPEC §8's lossy floats, which the runner must
 * tell apart from a real break of a chain.
 */

const U64_MAX = 0xffff_ffff_ffff_ffffn
const POW10: ReadonlyArray<number> = Array.from({ length: 309 }, (_, i) => Number(`1e${i}`))

/** The f64 the reference reads for a JSON number literal (one with a fraction or an exponent, or past 64 bits), or undefined when it refuses it (out of range). */
export const referenceParse = (literal: string): number | undefined => {
  let at = 0
  const negative = literal[at] === "-"
  if (negative) at++
  let significand = 0n
  let exponent = 0
  let overflowed = false
  const digit = () => literal.charCodeAt(at) - 48
  const isDigit = () => at < literal.length && digit() >= 0 && digit() <= 9
  while (isDigit()) {
    const next = significand * 10n + BigInt(digit())
    if (overflowed || next > U64_MAX) {
      overflowed = true
      exponent++
    } else significand = next
    at++
  }
  if (literal[at] === ".") {
    at++
    // (as serde's parse_decimal: each fraction digit tried afresh, even after the integer part
    // overflowed; from the first that does not fit, the rest are dropped)
    let dropped = false
    while (isDigit()) {
      const next = significand * 10n + BigInt(digit())
      if (!dropped && next <= U64_MAX) {
        significand = next
        exponent--
      } else dropped = true
      at++
    }
  }
  if (literal[at] === "e" || literal[at] === "E") {
    at++
    let sign = 1
    if (literal[at] === "+") at++
    else if (literal[at] === "-") {
      sign = -1
      at++
    }
    let value = 0
    let huge = false
    while (isDigit()) {
      value = value * 10 + digit()
      if (value > 0x7fff_ffff) huge = true
      at++
    }
    if (huge) {
      // serde: an exponent past i32 is "out of range" for a non-zero significand going up, else 0.0
      if (significand !== 0n && sign > 0) return undefined
      return negative ? -0 : 0
    }
    exponent += sign * value
  }
  let f = Number(significand)
  for (;;) {
    const pow = POW10[Math.abs(exponent)]
    if (pow !== undefined) {
      if (exponent >= 0) {
        f *= pow
        if (!Number.isFinite(f)) return undefined
      } else f /= pow
      break
    }
    if (f === 0) break
    if (exponent >= 0) return undefined
    f /= 1e308
    exponent += 308
  }
  return negative ? -f : f
}

/**
 * Whether the reference reads some number of a compact JSON text (a record's `records_json`)
 * as another value than the text holds (the exact value, correctly rounded): a float, or an
 * integer past 64 bits. Strings are skipped.
 */
export const readsLossily = (text: string): boolean => {
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string
    if (c === "\"") {
      for (i++; i < text.length && text[i] !== "\""; i++) if (text[i] === "\\") i++
      continue
    }
    if (c !== "-" && (c < "0" || c > "9")) continue
    let j = i + 1
    while (j < text.length && /[0-9.eE+-]/.test(text[j] as string)) j++
    const literal = text.slice(i, j)
    i = j - 1
    const integer = /^-?[0-9]+$/.test(literal)
    if (integer && (literal.startsWith("-") ? BigInt(literal) >= -(2n ** 63n) : BigInt(literal) <= U64_MAX)) continue
    const theirs = referenceParse(literal)
    if (theirs === undefined || !Object.is(theirs, Number(literal))) return true
  }
  return false
}
