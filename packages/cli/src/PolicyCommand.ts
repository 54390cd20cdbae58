/**
 * `calybris policy validate FILE` (the reference's checked construction: `ok`, or its
 * message and exit 2) and `calybris policy digest FILE` (the canonical SHA-256 digest).
 */
import * as Digest from "@calybris/core/Digest"
import * as Policy from "@calybris/core/Policy"
import * as Effect from "effect/Effect"
import type * as Commands from "./Commands.js"
import { readSnapshot } from "./Documents.js"
import { emit, obj, setJson } from "./Output.js"

/** `calybris policy validate` (options: `Commands.policyOptions`). */
export const validate = (flags: Commands.FlagsOf<typeof Commands.policyOptions>) =>
  Effect.gen(function*() {
    yield* setJson(flags.json)
    const snapshot = yield* readSnapshot(flags.file)
    // fails with the reference's error (EmptyCatalog, DuplicateModelId, …): exit 2
    const policy = yield* Policy.make(snapshot)
    yield* emit(
      flags.json,
      () => ["ok"],
      () =>
        obj([
          ["valid", true],
          ["policy_digest_hex", Digest.policyDigest(policy)],
          ["models", snapshot.models.length],
          ["enabled_models", snapshot.models.filter((m) => m.enabled !== 0).length]
        ])
    )
  })

/** `calybris policy digest` (options: `Commands.policyOptions`). */
export const digest = (flags: Commands.FlagsOf<typeof Commands.policyOptions>) =>
  Effect.gen(function*() {
    yield* setJson(flags.json)
    const snapshot = yield* readSnapshot(flags.file)
    const hex = Digest.policyDigest(snapshot)
    yield* emit(flags.json, () => [hex], () => obj([["policy_digest_hex", hex]]))
  })
