/**
 * One-dimensional PostgreSQL arrays in the binary wire format (`array_recv`), for the batch
 * function's array parameters: `pg` sends a `Uint8Array` parameter as binary (format 1), and the
 * server reads it as the type the statement casts the parameter to (`$8::bytea[]`), with that
 * type's binary receive function per element. The same values as `pg`'s text form
 * (`{"\\x7b…",NULL}`), without escaping them on the client and parsing them on the server: bytes
 * are sent as they are (a text form doubles them as hex and escapes each backslash).
 *
 * Layout: ndim (1), has-null flag, the element type's oid, the dimension's length and lower bound
 * (1), then each element as its length (-1: NULL) and its bytes. Integers are big-endian.
 */

/** Element type oids (`pg_type`), which `array_recv` checks against the parameter's type. */
const INT8 = 20
const TEXT = 25
const BYTEA = 17

const I64_MIN = -(2n ** 63n)
const I64_MAX = 2n ** 63n - 1n

const utf8 = new TextEncoder()

/** The array's header, for `n` elements (`nulls`: whether one is NULL). */
const header = (view: DataView, oid: number, n: number, nulls: boolean): void => {
  view.setInt32(0, 1)
  view.setInt32(4, nulls ? 1 : 0)
  view.setUint32(8, oid)
  view.setInt32(12, n)
  view.setInt32(16, 1)
}
const HEADER = 20

/** A `bytea[]`: each element's bytes as they are. */
export const byteaArray = (elements: ReadonlyArray<Uint8Array | null>): Uint8Array => {
  let size = HEADER
  let nulls = false
  for (const e of elements) {
    if (e === null) nulls = true
    size += 4 + (e === null ? 0 : e.length)
  }
  const out = new Uint8Array(size)
  const view = new DataView(out.buffer)
  header(view, BYTEA, elements.length, nulls)
  let at = HEADER
  for (const e of elements) {
    if (e === null) {
      view.setInt32(at, -1)
      at += 4
    } else {
      view.setInt32(at, e.length)
      out.set(e, at + 4)
      at += 4 + e.length
    }
  }
  return out
}

/**
 * A `text[]`: each element's UTF-8 bytes (the server checks them as it checks text sent as text;
 * a string that is not well-formed would be changed by the encoding: refused here). ASCII is
 * copied a unit at a time; other strings through `TextEncoder`.
 */
export const textArray = (elements: ReadonlyArray<string | null>): Uint8Array => {
  let size = HEADER
  let nulls = false
  for (const s of elements) {
    size += 4
    if (s === null) nulls = true
    else size += s.length * 3 // (UTF-8 takes at most 3 bytes per UTF-16 unit)
  }
  const out = new Uint8Array(size)
  const view = new DataView(out.buffer)
  header(view, TEXT, elements.length, nulls)
  let at = HEADER
  for (const s of elements) {
    if (s === null) {
      view.setInt32(at, -1)
      at += 4
      continue
    }
    const start = at + 4
    let i = 0
    for (; i < s.length; i++) {
      const c = s.charCodeAt(i)
      if (c >= 0x80) break
      out[start + i] = c
    }
    let length = i
    if (i < s.length) {
      if (!s.isWellFormed()) throw new RangeError("pgArray: a text element is not well-formed UTF-16")
      length += utf8.encodeInto(s.slice(i), out.subarray(start + i)).written
    }
    view.setInt32(at, length)
    at = start + length
  }
  return out.subarray(0, at)
}

/** An `int8[]` (`bigint[]`): each element 8 bytes, big-endian two's complement; outside i64 refused. */
export const int8Array = (elements: ReadonlyArray<bigint | null>): Uint8Array => {
  let size = HEADER
  let nulls = false
  for (const n of elements) {
    if (n === null) nulls = true
    else if (n < I64_MIN || n > I64_MAX) throw new RangeError(`pgArray: ${n} is outside i64`)
    size += n === null ? 4 : 12
  }
  const out = new Uint8Array(size)
  const view = new DataView(out.buffer)
  header(view, INT8, elements.length, nulls)
  let at = HEADER
  for (const n of elements) {
    if (n === null) {
      view.setInt32(at, -1)
      at += 4
    } else {
      view.setInt32(at, 8)
      view.setBigInt64(at + 4, n)
      at += 12
    }
  }
  return out
}
