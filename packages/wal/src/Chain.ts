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
 * the data text already UTF-8 encoded: the file writer encodes each line once, into the buffer
 * it writes, and hashes the data's bytes from there.
 */
import { defaultHash, type HashFunctions, node as nodeHash, toHex } from "@calybris/core/Hash"
import * as Either from "effect/Either"
import { WalEmptyKey } from "./WalError.js"

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
  let buffer = new Uint8Array(Math.max(4096, prefix.length * 2))
  buffer.set(prefix)
  /** fill with `prefix ‖ utf8(p) ‖ d` (`d` as text, encoded, or as bytes); returns the filled view */
  return (p: string, d: string | Uint8Array): Uint8Array => {
    // UTF-8 takes at most 3 bytes per UTF-16 code unit
    const need = prefix.length + 3 * p.length + (typeof d === "string" ? 3 * d.length : d.length)
    if (need > buffer.length) {
      buffer = new Uint8Array(Math.max(need, buffer.length * 2))
      buffer.set(prefix)
    }
    let at = prefix.length
    at += encoder.encodeInto(p, buffer.subarray(at)).written
    if (typeof d === "string") {
      at += encoder.encodeInto(d, buffer.subarray(at)).written
    } else {
      buffer.set(d, at)
      at += d.length
    }
    return buffer.subarray(0, at)
  }
}

/** The HMAC key as one block: hashed first when longer than a block, zero-padded. */
const keyBlock = (key: Uint8Array, sha256: (data: Uint8Array) => Uint8Array): Uint8Array => {
  const block = new Uint8Array(BLOCK)
  block.set(key.length > BLOCK ? sha256(key) : key)
  return block
}

const xorPad = (block: Uint8Array, pad: number): Uint8Array => block.map((b) => b ^ pad)

/** `link`, with the data text given as text or as its UTF-8 bytes. */
type Link = (previousHash: string, data: string | Uint8Array) => string

/** `link` on node's one-shot hash. */
const nodeLink = (hash: OneShot, key: Uint8Array | undefined): Link => {
  if (key === undefined) {
    const fill = makeScratch(new Uint8Array(0))
    return (p, d) => hash("sha256", fill(p, d), "hex")
  }
  const block = keyBlock(key, (data) => hash("sha256", data, "buffer"))
  const fill = makeScratch(xorPad(block, 0x36))
  const outer = new Uint8Array(BLOCK + 32)
  outer.set(xorPad(block, 0x5c))
  block.fill(0)
  return (p, d) => {
    // the inner digest as a latin1 string (one char per byte): node allocates a Buffer for
    // "buffer" output, which costs more than the hash of a ~1 KB line itself
    const inner = hash("sha256", fill(p, d), "latin1")
    for (let i = 0; i < 32; i++) outer[BLOCK + i] = inner.charCodeAt(i)
    return hash("sha256", outer, "hex")
  }
}

/** `link` through the `HashFunctions` interface. */
const genericLink = (hash: HashFunctions, key: Uint8Array | undefined): Link => {
  const fill = makeScratch(new Uint8Array(0))
  if (key === undefined) return (p, d) => toHex(hash.sha256(fill(p, d)))
  const mac = hash.hmacFor(key)
  return (p, d) => toHex(mac(fill(p, d)))
}

/** The byte-level `link` of each chain `make` built. */
const byteLinks = new WeakMap<Chain, Link>()

const decoder = new TextDecoder()

/** Builds the chain for a log; refuses an empty key unless explicitly allowed. */
export const make = (options: ChainOptions = {}): Either.Either<Chain, WalEmptyKey> => {
  const hash = options.hash ?? defaultHash
  const key = options.key
  if (key !== undefined && key.length === 0 && options.allowEmptyKey !== true) return Either.left(new WalEmptyKey())
  const link = oneShot !== undefined && hash === nodeHash ? nodeLink(oneShot, key) : genericLink(hash, key)
  const chain: Chain = { keyed: key !== undefined, link }
  byteLinks.set(chain, link)
  return Either.right(chain)
}

/**
 * `chain.link` with the data text given as its UTF-8 bytes (a writer that has encoded the line
 * already saves encoding the data a second time).
 */
export const linkBytes = (chain: Chain, previousHash: string, data: Uint8Array): string => {
  const link = byteLinks.get(chain)
  return link === undefined ? chain.link(previousHash, decoder.decode(data)) : link(previousHash, data)
}

/** `linkBytes` bound to one chain (looked up once: the verifying reader calls it per line). */
export const bytesLink = (chain: Chain): (previousHash: string, data: Uint8Array) => string => {
  const link = byteLinks.get(chain)
  return link === undefined ? (p, d) => chain.link(p, decoder.decode(d)) : link
}
