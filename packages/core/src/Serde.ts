/**
 * serde_json's deserializer steps, as serde-derived visitors call them, over a `Json.Cursor`:
 * the one implementation of serde's typed reading (`JsonSchema.decodeText`, `JsonSchema.decodeShape`)
 * that the WAL's envelope reader shares for its own struct (`WalEntry`). Each reads the value at
 * the cursor or records serde's error there (message, category, position) and answers `FAIL`.
 */
import * as internal from "./internal/serde.js"

/** An error was recorded on the cursor. */
export const FAIL: typeof internal.FAIL = internal.FAIL

/** `peek_invalid_type`: the value at the cursor is of the wrong type (`expected`: what serde names). */
export const invalidType = internal.invalidTypeAt

/**
 * `deserialize_number` with serde's primitive integer visitor for `name` (`u64`, `i64`, …): an
 * integer in [min, max] (`lo`, `hi`: the same bounds as doubles). `exact`: an integer literal
 * beyond 64 bits is reported as written rather than as the float serde_json parsed it into.
 */
export const readInteger = internal.readIntegerAt

/** `deserialize_str` with a visitor expecting `expected` ("a string"). */
export const readString = internal.readStringAt

/** serde's `Unexpected` of a scalar as serde_json displays it (`integer \`5\``, `string "x"`). */
export const unexpected = internal.unexpected

/** Rust's `{:?}` of a string (what serde's messages quote), cut to `EXCERPT` characters. */
export const rustDebug = internal.rustDebug

/** Longest piece of user data a message quotes (then `…`). */
export const EXCERPT = internal.EXCERPT
