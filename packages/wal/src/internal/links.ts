/**
 * The byte-level `link` of each chain `Chain.make` built, and `linkJson`'s no-copy form for the
 * file writer. Internal: the bytes `linkJsonView` returns are a view of the chain's hashing
 * buffer, which holds the HMAC key's inner pad (`K ^ 0x36`) in front of them, so a view handed
 * out gives the key back (a hostile review recovered it through the public `Chain.linkJson`,
 * which now copies). The writer copies them into the round it writes and keeps no view.
 */
import * as Json from "@calybris/core/Json"
import type { Chain } from "../Chain.js"

const EMPTY = new Uint8Array(0)

/**
 * A Json value to print into the hashed buffer, and its bytes there once printed: a class of this
 * module, told by `instanceof`, so that no caller of the public link functions (`chain.link`,
 * `Chain.linkBytes`, `bytesLink`, …) can pass an object of this shape and be handed a view of the
 * buffer (the review of the copy in `Chain.linkJson`: `{ value, maxDepth, bytes }` given to
 * `chain.link` read the key's pad back).
 */
export class Data {
  bytes: Uint8Array = EMPTY
  constructor(readonly value: Json.Json, readonly maxDepth: number) {}
}

/**
 * `link`, with the data text given as text, as its UTF-8 bytes, or as a Json value printed into
 * the hashed buffer (undefined only then, when the value nests too deep).
 */
export type Link = (previousHash: string | Uint8Array, data: string | Uint8Array | Data) => string | undefined

/** The byte-level `link` of each chain `Chain.make` built. */
export const byteLinks = new WeakMap<Chain, Link>()

const encoder = new TextEncoder()

/**
 * `Chain.linkJson` without its copy: the bytes are a view of the chain's buffer, valid until the
 * chain's next call, never to leave the package.
 */
export const linkJsonView = (
  chain: Chain,
  previousHash: string,
  data: Json.Json,
  maxDepth: number
): { readonly hash: string; readonly bytes: Uint8Array } | undefined => {
  const link = byteLinks.get(chain)
  if (link === undefined) {
    const text = Json.printWithin(data, maxDepth)
    return text === undefined ? undefined : { hash: chain.link(previousHash, text), bytes: encoder.encode(text) }
  }
  const printed = new Data(data, maxDepth)
  const hash = link(previousHash, printed)
  return hash === undefined ? undefined : { hash, bytes: printed.bytes }
}
