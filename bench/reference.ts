/**
 * The Rust reference's figures on this machine kind: `../shared/bench/reference-2026-12-03.json`
 * (beside the repository; BENCH_REFERENCE names another file). `pnpm bench` takes every row's
 * reference median from it, by workload name, and refuses a row whose unit differs from ours
 * (a ratio of ns/op against entries/s would be a wrong number, not a missing one).
 *
 * The file holds bench metadata, not wire data: every figure is a float (medians, runs), so it is
 * decoded with `Schema.parseJson` (no 64-bit integer to lose).
 */
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import type { Unit } from "./registry.js"

/** The reference file of today, relative to the repository's root (its parent holds `shared/`). */
export const REFERENCE_FILE = "../shared/bench/reference-2026-12-03.json"

/** The repository's root: the parent of this file's folder, whatever the working directory. */
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")

/** The reference file to read: $BENCH_REFERENCE (relative to the working directory) or REFERENCE_FILE. */
export const resolvePath = (env: NodeJS.ProcessEnv = process.env): string => {
  const override = env["BENCH_REFERENCE"]
  return override !== undefined && override !== "" ? path.resolve(override) : path.resolve(repoRoot, REFERENCE_FILE)
}

const Median = Schema.Number.pipe(Schema.finite(), Schema.positive())

const Row = Schema.Struct({
  name: Schema.NonEmptyString,
  unit: Schema.NonEmptyString,
  median: Median,
  runs: Schema.optional(Schema.Array(Median)),
  iterations_per_run: Schema.optional(Schema.Number),
  workload: Schema.optional(Schema.String)
})

const ReferenceFile = Schema.Struct({
  crate: Schema.NonEmptyString,
  results: Schema.Array(Row)
})

const decodeFile = Schema.decodeUnknownEither(Schema.parseJson(ReferenceFile), { errors: "all" })

/** The reference file cannot be read. */
export class ReferenceUnreadable extends Schema.TaggedError<ReferenceUnreadable>()("ReferenceUnreadable", {
  path: Schema.String,
  cause: Schema.Defect
}) {
  override get message(): string {
    return `bench reference ${this.path}: cannot read it (${
      this.cause instanceof Error ? this.cause.message : String(this.cause)
    }); set BENCH_REFERENCE to the reference JSON`
  }
}

/** The reference file is not a reference: not JSON, a field missing or of the wrong type, a row twice. */
export class ReferenceInvalid extends Schema.TaggedError<ReferenceInvalid>()("ReferenceInvalid", {
  path: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `bench reference ${this.path} is invalid: ${this.detail}`
  }
}

/** A workload's unit differs from the unit of the reference's row of the same name. */
export class ReferenceUnitMismatch extends Schema.TaggedError<ReferenceUnitMismatch>()("ReferenceUnitMismatch", {
  path: Schema.String,
  workload: Schema.String,
  ours: Schema.String,
  reference: Schema.String
}) {
  override get message(): string {
    return `bench reference ${this.path}: workload ${this.workload} is measured in ${this.ours}, ` +
      `the reference's row in ${this.reference}: no ratio between them`
  }
}

export type ReferenceError = ReferenceUnreadable | ReferenceInvalid | ReferenceUnitMismatch

export interface ReferenceRow {
  readonly unit: string
  readonly median: number
}

export interface Reference {
  /** the file read (absolute) */
  readonly path: string
  /** the crate line of the file: version and commit of the reference */
  readonly crate: string
  /** the reference crate's commit, when the crate line names one */
  readonly commit: string | null
  readonly rows: ReadonlyMap<string, ReferenceRow>
}

/** Decodes a reference file's text (`file` names it in errors). */
export const decode = (file: string, text: string): Either.Either<Reference, ReferenceInvalid> =>
  Either.flatMap(
    Either.mapLeft(
      decodeFile(text),
      (error) => new ReferenceInvalid({ path: file, detail: ParseResult.TreeFormatter.formatErrorSync(error) })
    ),
    (decoded) => {
      const rows = new Map<string, ReferenceRow>()
      for (const row of decoded.results) {
        if (rows.has(row.name)) {
          return Either.left(new ReferenceInvalid({ path: file, detail: `the row ${row.name} appears twice` }))
        }
        rows.set(row.name, { unit: row.unit, median: row.median })
      }
      const commit = /\bcommit ([0-9a-f]{7,40})\b/.exec(decoded.crate)?.[1] ?? null
      return Either.right({ path: file, crate: decoded.crate, commit, rows })
    }
  )

/** Reads and decodes the reference file at `file`. */
export const load = (
  file: string = resolvePath()
): Either.Either<Reference, ReferenceUnreadable | ReferenceInvalid> => {
  let text: string
  try {
    text = fs.readFileSync(file, "utf8")
  } catch (cause) {
    return Either.left(new ReferenceUnreadable({ path: file, cause }))
  }
  return decode(file, text)
}

/**
 * The reference median of a row named `name` measured in `unit`: null when the reference has no
 * such row, an error when it has one in another unit.
 */
export const medianOf = (
  reference: Reference,
  name: string,
  unit: Unit
): Either.Either<number | null, ReferenceUnitMismatch> => {
  const row = reference.rows.get(name)
  if (row === undefined) return Either.right(null)
  if (row.unit !== unit) {
    return Either.left(
      new ReferenceUnitMismatch({ path: reference.path, workload: name, ours: unit, reference: row.unit })
    )
  }
  return Either.right(row.median)
}
