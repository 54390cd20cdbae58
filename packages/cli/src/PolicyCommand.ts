/**
 * `calybris policy validate FILE` (the reference's checked construction: `ok`, or its
 * message and exit 2) and `calybris policy digest FILE` (the canonical SHA-256 digest).
 */
import * as Digest from "@calybris/core/Digest"
import * as Policy from "@calybris/core/Policy"
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Effect from "effect/Effect"
import { readSnapshot } from "./Documents.js"
import { emit, obj, setJson } from "./Output.js"

const file = Args.text({ name: "FILE" }).pipe(
  Args.withDescription("The policy snapshot (JSON); - reads it from stdin.")
)
const json = Options.boolean("json").pipe(Options.withDescription("Print the result as JSON."))

const validate = Command.make("validate", { file, json }, (flags) =>
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
  })).pipe(Command.withDescription("Validate a policy as the reference does: prints ok, or its message (exit 2)."))

const digest = Command.make("digest", { file, json }, (flags) =>
  Effect.gen(function*() {
    yield* setJson(flags.json)
    const snapshot = yield* readSnapshot(flags.file)
    const hex = Digest.policyDigest(snapshot)
    yield* emit(flags.json, () => [hex], () => obj([["policy_digest_hex", hex]]))
  })).pipe(
    Command.withDescription("Print the policy's canonical digest (SHA-256 over its fixed byte layout; not validated).")
  )

export const command = Command.make("policy").pipe(
  Command.withDescription("Policy snapshots: validate, digest."),
  Command.withSubcommands([validate, digest])
)
