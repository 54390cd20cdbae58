/**
 * Bytes as the tree log's public functions take them from a JavaScript caller: a `Uint8Array` (a
 * `Buffer` too), also one made in another realm (a `vm` context, a test environment's), which
 * `instanceof` refuses — and not an object that only names itself so (`Symbol.toStringTag`). No
 * Node API: the verify path runs in a browser.
 */
export const isBytes = (value: unknown): value is Uint8Array =>
  ArrayBuffer.isView(value) && Object.prototype.toString.call(value) === "[object Uint8Array]"
