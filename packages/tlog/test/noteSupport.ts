/** Keys and arbitraries shared by the note, checkpoint and cosignature tests. */
import * as Note from "@calybris/tlog/Note"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as Redacted from "effect/Redacted"

export const hex = (bytes: Uint8Array): string => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")
export const fromHex = (text: string): Uint8Array =>
  new Uint8Array((text.match(/../g) ?? []).map((h) => Number.parseInt(h, 16)))

export const right = <A, E>(either: Either.Either<A, E>): A => {
  if (Either.isLeft(either)) throw new Error(`expected Right, got ${String(either.left)}`)
  return either.right
}
export const left = <A, E>(either: Either.Either<A, E>): E => {
  if (Either.isRight(either)) throw new Error("expected Left, got Right")
  return either.left
}

/** x/mod's published test key (golang.org/x/mod/sumdb/note). */
export const PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
export const PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
export const PETER_SEED_B64 = "gQoUAtUUbI2E8kQzMPVAgOv5juF9nHT2JS/F1ccoMXM="

export const signer = (name: string, seed: Uint8Array): Note.Signer =>
  right(Note.ed25519Signer(name, Redacted.make(seed)))
export const verifierOf = (s: Note.Signer): Note.Verifier => right(Note.ed25519Verifier(s.name, s.publicKey))

const noControl = (s: string): string => s.replace(/[\u0000-\u001f\u007f]/g, "")

/** A key name: no white space, '+' or control character. */
export const nameArb = FastCheck.string({ unit: "binary", minLength: 1, maxLength: 16 })
  .map((s) => noControl(s).replace(/[\s+]/gu, ""))
  .filter((s) => Note.isValidName(s))

/** A note text: lines of any characters but control characters, each ending in "\n" (blank lines too). */
export const textArb = FastCheck.array(FastCheck.string({ unit: "binary", maxLength: 30 }).map(noControl), {
  minLength: 1,
  maxLength: 5
}).map((lines) => lines.join("\n") + "\n")

export const seedArb = FastCheck.uint8Array({ minLength: 32, maxLength: 32 })
