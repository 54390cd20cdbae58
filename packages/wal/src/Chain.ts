/**
 * The hash chain (SPEC §5): `entry_hash = hex(SHA-256(P ‖ D))`, or HMAC-SHA256 under a key.
 * A key comes as bytes from the caller; it is never logged and never put in an error.
 *
 * `link` runs once per appended entry and once per verified entry, so it is a hot path. With
 * the default hash on Node it encodes `P ‖ D` straight into one reusable buffer and hashes it
 * with node's one-shot `crypto.hash` (hex done natively); HMAC is computed from its definition,
 * `H((K ^ opad) ‖ H((K ^ ipad) ‖ m))`, with the padded key placed once in front of that buffer.
 * Measured on a ~1 KB record (2 shared cores, loaded): ~7–10 µs per HMAC against ~9–14 µs for
 * `createHmac(...).update(p).update(d).digest("hex")` and ~37–50 µs for the former
 * `createHmac` + `TextEncoder.encode(p + d)` + JS hex. Any other `hash` (a pinned
 * `@noble/hashes`, say) goes through `HashFunctions` with the same buffer. `linkBytes` takes
 * the data text already UTF-8 encoded (the verifying reader hashes the bytes of the line it
 * read). `linkJson` takes the record itself: its canonical bytes are printed (`Json.printInto`)
 * straight into that buffer, after `P`, and hashed there — no data text, no separate encoding;
 * the file writer copies them from there into the round it writes.
 */
import { defaultHash, type HashFunctions, isBytes as coreIsBytes, node as nodeHash, toHex } from "@calybris/core/Hash"
import * as Json from "@calybris/core/Json"
import * as Either from "effect/Either"
import { byteLinks, Data, type Link, linkJsonView } from "./internal/links.js"
import { WalEmptyKey, WalOptionsInvalid } from "./WalError.js"

export const GENESIS = "genesis"

export interface ChainOptions {
  /** HMAC key; absent for an unkeyed log */
  readonly key?: Uint8Array | undefined
  /** accept an empty key (legacy logs only: such a "keyed" log is forgeable by anyone) */
  readonly allowEmptyKey?: boolean | undefined
  /** hash implementation (default: node:crypto where present, else @noble/hashes) */
  readonly hash?: HashFunctions | undefined
}

/** Computes entry hashes for one log. */
export interface Chain {
  readonly keyed: boolean
  /** hex entry hash of previous hash text ‖ canonical data text */
  readonly link: (previousHash: string, dataText: string) => string
}

const encoder = new TextEncoder()

/** SHA-256 block size: the HMAC pad length. */
const BLOCK = 64

/** node's one-shot `crypto.hash` (Node ≥ 20.12), when the runtime has it. */
type OneShot = {
  (algorithm: "sha256", data: Uint8Array, outputEncoding: "hex" | "latin1"): string
  (algorithm: "sha256", data: Uint8Array, outputEncoding: "buffer"): Uint8Array
}

const loadOneShot = (): OneShot | undefined => {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process
  const mod = proc?.getBuiltinModule?.("node:crypto")
  if (typeof mod !== "object" || mod === null || !("hash" in mod) || typeof mod.hash !== "function") return undefined
  return mod.hash as OneShot
}

const oneShot = loadOneShot()

/**
 * A growable scratch buffer holding `prefix ‖ utf8(p) ‖ utf8(d)`; one per chain (JavaScript is
 * single-threaded and `link` is synchronous, so it is never shared by two calls at once).
 */
const makeScratch = (prefix: Uint8Array) => {
  const sink: Json.ByteSink = { buffer: new Uint8Array(Math.max(4096, prefix.length * 2)), length: 0 }
  sink.buffer.set(prefix)
  /** fill with `prefix ‖ utf8(p) ‖ d` (`d` as text, encoded, as bytes, or a Json value printed into place); returns the filled view, or undefined when the value nests deeper than `maxDepth` */
  return (p: string | Uint8Array, d: string | Uint8Array | Data): Uint8Array | undefined => {
    // UTF-8 takes at most 3 bytes per UTF-16 code unit
    // a text, a `Data` of links.ts (told by its class: an object of its shape from a caller is never
    // handed a view of this buffer), or bytes (of any realm); anything else is refused, never hashed
    // as nothing (the review of this check: a DataView or a number hashed as the empty input)
    if (typeof p !== "string" && !(p instanceof Uint8Array) && !coreIsBytes(p)) throw new TypeError(NOT_BYTES)
    if (typeof d !== "string" && !(d instanceof Data) && !(d instanceof Uint8Array) && !coreIsBytes(d)) {
      throw new TypeError(NOT_BYTES)
    }
    const need = prefix.length + (typeof p === "string" ? 3 : 1) * p.length +
      (typeof d === "string" ? 3 * d.length : d instanceof Data ? 0 : d.length)
    let buffer = sink.buffer
    if (need > buffer.length) {
      buffer = sink.buffer = new Uint8Array(Math.max(need, buffer.length * 2))
      buffer.set(prefix)
    }
    let at = prefix.length
    if (typeof p !== "string") {
      buffer.set(p, at)
      at += p.length
    } else {
      at += PLAIN.test(p) ? ascii(p, buffer, at) : encoder.encodeInto(p, buffer.subarray(at)).written
    }
    if (typeof d === "string") {
      at += encoder.encodeInto(d, buffer.subarray(at)).written
    } else if (!(d instanceof Data)) {
      buffer.set(d, at)
      at += d.length
    } else {
      sink.length = at
      if (!Json.printInto(d.value, sink, d.maxDepth)) return undefined
      d.bytes = sink.buffer.subarray(at, sink.length)
      return sink.buffer.subarray(0, sink.length)
    }
    return buffer.subarray(0, at)
  }
}

const NOT_BYTES = "a chain links a previous hash and data given as text or as bytes (a Uint8Array)"

/** Texts that are their own UTF-8 (hash texts: hex digests, `genesis`), written byte for byte. */
const PLAIN = /^[0-9A-Za-z]{0,128}$/

const ascii = (text: string, buffer: Uint8Array, at: number): number => {
  const n = text.length
  for (let i = 0; i < n; i++) buffer[at + i] = text.charCodeAt(i)
  return n
}

/** The HMAC key as one block: hashed first when longer than a block, zero-padded. */
const keyBlock = (key: Uint8Array, sha256: (data: Uint8Array) => Uint8Array): Uint8Array => {
  const block = new Uint8Array(BLOCK)
  block.set(key.length > BLOCK ? sha256(key) : key)
  return block
}

const xorPad = (block: Uint8Array, pad: number): Uint8Array => block.map((b) => b ^ pad)

/** `link` on node's one-shot hash. */
const nodeLink = (hash: OneShot, key: Uint8Array | undefined): Link => {
  if (key === undefined) {
    const fill = makeScratch(new Uint8Array(0))
    return (p, d) => {
      const filled = fill(p, d)
      return filled === undefined ? undefined : hash("sha256", filled, "hex")
    }
  }
  const block = keyBlock(key, (data) => hash("sha256", data, "buffer"))
  const fill = makeScratch(xorPad(block, 0x36))
  const outer = new Uint8Array(BLOCK + 32)
  outer.set(xorPad(block, 0x5c))
  block.fill(0)
  return (p, d) => {
    // the inner digest as a latin1 string (one char per byte): node allocates a Buffer for
    // "buffer" output, which costs more than the hash of a ~1 KB line itself
    const filled = fill(p, d)
    if (filled === undefined) return undefined
    const inner = hash("sha256", filled, "latin1")
    for (let i = 0; i < 32; i++) outer[BLOCK + i] = inner.charCodeAt(i)
    return hash("sha256", outer, "hex")
  }
}

/** `link` through the `HashFunctions` interface. */
const genericLink = (hash: HashFunctions, key: Uint8Array | undefined): Link => {
  const fill = makeScratch(new Uint8Array(0))
  const digest = key === undefined ? hash.sha256 : hash.hmacFor(key)
  return (p, d) => {
    const filled = fill(p, d)
    return filled === undefined ? undefined : toHex(digest(filled))
  }
}

const decoder = new TextDecoder()

/**
 * Bytes: a `Uint8Array` (a `Buffer` too), also one made in another realm (a `vm` context, a
 * test environment's), which `instanceof` refuses (the review of the key check): core's `Hash.isBytes`.
 */
export const isBytes: (value: unknown) => value is Uint8Array = coreIsBytes

/** How a value that is not bytes is named in an error: `null`, its type, or its class. */
export const kindOf = (value: unknown): string =>
  value === null
    ? "null"
    : typeof value !== "object"
    ? typeof value
    : Object.prototype.toString.call(value).slice(8, -1)

/**
 * Builds the chain for a log; refuses an empty key unless explicitly allowed, and a key that is
 * not bytes (`WalOptionsInvalid`, field `key`): a JavaScript caller's string or number key was
 * copied into the HMAC block as zeros — the empty key's hash, so every such "keyed" log was
 * forgeable by anyone and verified under any other string (a helper's review of the API).
 */
export const make = (options: ChainOptions = {}): Either.Either<Chain, WalEmptyKey | WalOptionsInvalid> => {
  const hash = options.hash ?? defaultHash
  const given: unknown = options.key
  if (given !== undefined && !isBytes(given)) {
    return Either.left(
      new WalOptionsInvalid({
        field: "key",
        value: kindOf(given),
        reason: "a key is bytes (a Uint8Array; from text: new TextEncoder().encode(text))"
      })
    )
  }
  const key = given as Uint8Array | undefined
  if (key !== undefined && key.length === 0 && options.allowEmptyKey !== true) return Either.left(new WalEmptyKey())
  const link = oneShot !== undefined && hash === nodeHash ? nodeLink(oneShot, key) : genericLink(hash, key)
  // given a text, a Link returns a hash (undefined only for a Json value)
  const chain: Chain = { keyed: key !== undefined, link: link as (p: string, d: string) => string }
  byteLinks.set(chain, link)
  return Either.right(chain)
}

/**
 * `chain.link` with the data text given as its UTF-8 bytes (a writer that has encoded the line
 * already saves encoding the data a second time).
 */
export const linkBytes = (chain: Chain, previousHash: string, data: Uint8Array): string => {
  const link = byteLinks.get(chain)
  return link === undefined ? chain.link(previousHash, decoder.decode(data)) : link(previousHash, data) as string
}

/**
 * `chain.link` of `Json.print(data)`, with the data's canonical bytes printed straight into the
 * buffer that is hashed (no text, no separate UTF-8 encoding): the entry hash and those bytes (a
 * copy: that buffer holds the HMAC key's inner pad in front, and a view of it handed out gave the
 * key back — a hostile review), or undefined when `data` nests more than `maxDepth` arrays /
 * objects (nothing hashed). The file writer uses the no-copy form, which it never hands out.
 */
export const linkJson = (
  chain: Chain,
  previousHash: string,
  data: Json.Json,
  maxDepth: number
): { readonly hash: string; readonly bytes: Uint8Array } | undefined => {
  const linked = linkJsonView(chain, previousHash, data, maxDepth)
  return linked === undefined ? undefined : { hash: linked.hash, bytes: linked.bytes.slice() }
}

/** `linkBytes` bound to one chain (looked up once: the verifying reader calls it per line). */
export const bytesLink = (chain: Chain): (previousHash: string, data: Uint8Array) => string => {
  const link = byteLinks.get(chain)
  return link === undefined ? (p, d) => chain.link(p, decoder.decode(d)) : link as (p: string, d: Uint8Array) => string
}

/**
 * `linkBytes` bound to one chain with the previous hash also given as its UTF-8 bytes (the
 * verifying reader keeps the last hash as the bytes it compared): both are copied into the
 * hashed buffer as they are, nothing encoded.
 */
export const bytesLinkOfBytes = (chain: Chain): (previousHash: Uint8Array, data: Uint8Array) => string => {
  const link = byteLinks.get(chain)
  return link === undefined
    ? (p, d) => chain.link(decoder.decode(p), decoder.decode(d))
    : link as (p: Uint8Array, d: Uint8Array) => string
}
