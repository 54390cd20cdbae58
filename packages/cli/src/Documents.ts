/**
 * The wire documents commands read: a policy snapshot (checked with `Policy.make` by every
 * command that decides or audits under it) and a single input.
 */
import * as Input from "@calybris/core/Input"
import * as Policy from "@calybris/core/Policy"
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { InputError, type IoError } from "./CliError.js"
import { decodeFile, nameOf } from "./Files.js"
import type { Stdio } from "./Stdio.js"

/** A policy snapshot as written, not validated. */
export const readSnapshot: (
  path: string
) => Effect.Effect<Policy.PolicySnapshot, InputError | IoError, FileSystem.FileSystem | Stdio> = decodeFile(
  Policy.PolicySnapshot
)

/** A checked policy: an invalid one is an `InputError` carrying the reference's message. */
export const readPolicy = (
  path: string
): Effect.Effect<Policy.Policy, InputError | IoError, FileSystem.FileSystem | Stdio> =>
  Effect.flatMap(readSnapshot(path), (snapshot) =>
    Either.mapLeft(
      Policy.make(snapshot),
      (e) => new InputError({ file: nameOf(path), reason: `invalid policy (${e._tag}): ${e.message}` })
    ))

/** One input from a whole-file JSON document. */
export const readInput: (
  path: string
) => Effect.Effect<Input.Input, InputError | IoError, FileSystem.FileSystem | Stdio> = decodeFile(Input.Input)
