/**
 * The hash chain (SPEC §5): `entry_hash = hex(SHA-256(P ‖ D))`, or HMAC-SHA256 under a key.
 * A key comes as bytes from the caller; it is never logged and never put in an error.
 */
import { defaultHash, type HashFunctions, toHex } from "@calybris/core/Hash"
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

/** Builds the chain for a log; refuses an empty key unless explicitly allowed. */
export const make = (options: ChainOptions = {}): Either.Either<Chain, WalEmptyKey> => {
  const hash = options.hash ?? defaultHash
  const key = options.key
  if (key === undefined) {
    return Either.right({ keyed: false, link: (p, d) => toHex(hash.sha256(encoder.encode(p + d))) })
  }
  if (key.length === 0 && options.allowEmptyKey !== true) return Either.left(new WalEmptyKey())
  const mac = hash.hmacFor(key)
  return Either.right({ keyed: true, link: (p, d) => toHex(mac(encoder.encode(p + d))) })
}
