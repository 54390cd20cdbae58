/**
 * SHA-256 and HMAC-SHA256 behind one small interface, with two implementations:
 * `node:crypto` where the runtime has it (measured faster for WAL-sized inputs), and
 * `@noble/hashes` everywhere else. The default is chosen once, when this module loads —
 * never by a runtime check per call. The `Hasher` service lets a program pin either one.
 */
import { hmac } from "@noble/hashes/hmac.js"
import { sha256 } from "@noble/hashes/sha2.js"
import * as Context from "effect/Context"
import * as Layer from "effect/Layer"

export interface HashFunctions {
  readonly name: "node" | "noble"
  /** SHA-256 of the bytes. */
  readonly sha256: (data: Uint8Array) => Uint8Array
  /** HMAC-SHA256 of the bytes under the key. */
  readonly hmacSha256: (key: Uint8Array, data: Uint8Array) => Uint8Array
  /** A reusable HMAC for one key: computing many MACs under the same key. */
  readonly hmacFor: (key: Uint8Array) => (data: Uint8Array) => Uint8Array
}

/** Portable implementation (@noble/hashes). */
export const noble: HashFunctions = {
  name: "noble",
  sha256: (data) => sha256(data),
  hmacSha256: (key, data) => hmac(sha256, key, data),
  hmacFor: (key) => {
    const base = hmac.create(sha256, key)
    return (data) => base.clone().update(data).digest()
  }
}

interface NodeCrypto {
  readonly createHash: (algorithm: string) => { update(data: Uint8Array): { digest(): Uint8Array } }
  readonly createHmac: (algorithm: string, key: Uint8Array) => { update(data: Uint8Array): { digest(): Uint8Array } }
}

const loadNodeCrypto = (): NodeCrypto | undefined => {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process
  const mod = proc?.getBuiltinModule?.("node:crypto")
  return typeof mod === "object" && mod !== null && "createHash" in mod && "createHmac" in mod
    ? mod as NodeCrypto
    : undefined
}

const nodeCrypto = loadNodeCrypto()

/** `node:crypto` implementation, when the runtime has it. */
export const node: HashFunctions | undefined = nodeCrypto === undefined ? undefined : {
  name: "node",
  sha256: (data) => nodeCrypto.createHash("sha256").update(data).digest(),
  hmacSha256: (key, data) => nodeCrypto.createHmac("sha256", key).update(data).digest(),
  hmacFor: (key) => {
    const copy = Uint8Array.from(key)
    return (data) => nodeCrypto.createHmac("sha256", copy).update(data).digest()
  }
}

/** The implementation chosen for this runtime. */
export const defaultHash: HashFunctions = node ?? noble

/** The hashing service (WAL chains, HMAC keys). */
export class Hasher extends Context.Tag("@calybris/core/Hasher")<Hasher, HashFunctions>() {}

/** The runtime's best implementation. */
export const layer: Layer.Layer<Hasher> = Layer.succeed(Hasher, defaultHash)

/** The portable implementation, whatever the runtime. */
export const layerNoble: Layer.Layer<Hasher> = Layer.succeed(Hasher, noble)

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"))

/** Lowercase hex of bytes. */
export const toHex = (bytes: Uint8Array): string => {
  let out = ""
  for (let i = 0; i < bytes.length; i++) out += HEX[bytes[i] as number]
  return out
}

/** Constant-time comparison of two strings (timing depends only on the lengths). */
export const constantTimeEquals = (a: string, b: string): boolean => {
  let diff = a.length ^ b.length
  const n = Math.max(a.length, b.length)
  for (let i = 0; i < n; i++) diff |= (a.charCodeAt(i) | 0) ^ (b.charCodeAt(i) | 0)
  return diff === 0
}
