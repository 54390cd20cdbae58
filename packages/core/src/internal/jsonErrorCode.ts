/**
 * serde_json's error codes (the subset untyped parsing reports) and their messages, for the JSON
 * parser (`jsonLexer.ts`, `jsonParse.ts`, `jsonScan.ts`, `jsonIgnore.ts`). Read only where a
 * failure is recorded or an error built, never on the success path; the reading state lives in
 * a `Lexer` instance.
 */

// serde_json ErrorCode values used by untyped parsing. Codes below FIRST_SYNTAX are Category::Eof.
export const EOF_WHILE_PARSING_LIST = 0
export const EOF_WHILE_PARSING_OBJECT = 1
export const EOF_WHILE_PARSING_STRING = 2
export const EOF_WHILE_PARSING_VALUE = 3
export const FIRST_SYNTAX = 4
export const EXPECTED_COLON = 4
export const EXPECTED_LIST_COMMA_OR_END = 5
export const EXPECTED_OBJECT_COMMA_OR_END = 6
export const EXPECTED_SOME_IDENT = 7
export const EXPECTED_SOME_VALUE = 8
export const INVALID_ESCAPE = 9
export const INVALID_NUMBER = 10
export const NUMBER_OUT_OF_RANGE = 11
export const INVALID_UNICODE_CODE_POINT = 12
export const CONTROL_CHARACTER_WHILE_PARSING_STRING = 13
export const KEY_MUST_BE_A_STRING = 14
export const LONE_LEADING_SURROGATE_IN_HEX_ESCAPE = 15
export const TRAILING_COMMA = 16
export const TRAILING_CHARACTERS = 17
export const UNEXPECTED_END_OF_HEX_ESCAPE = 18
export const RECURSION_LIMIT_EXCEEDED = 19

/** serde_json's `impl Display for ErrorCode` (src/error.rs), indexed by the codes above. */
export const MESSAGES: ReadonlyArray<string> = [
  "EOF while parsing a list",
  "EOF while parsing an object",
  "EOF while parsing a string",
  "EOF while parsing a value",
  "expected `:`",
  "expected `,` or `]`",
  "expected `,` or `}`",
  "expected ident",
  "expected value",
  "invalid escape",
  "invalid number",
  "number out of range",
  "invalid unicode code point",
  "control character (\\u0000-\\u001F) found while parsing a string",
  "key must be a string",
  "lone leading surrogate in hex escape",
  "trailing comma",
  "trailing characters",
  "unexpected end of hex escape",
  "recursion limit exceeded"
]

/** serde_json ErrorCode values accepted by `Cursor.failPeek` / `Cursor.failError`. */
export const ErrorCode = {
  EOF_WHILE_PARSING_LIST,
  EOF_WHILE_PARSING_OBJECT,
  EOF_WHILE_PARSING_STRING,
  EOF_WHILE_PARSING_VALUE,
  EXPECTED_COLON,
  EXPECTED_LIST_COMMA_OR_END,
  EXPECTED_OBJECT_COMMA_OR_END,
  EXPECTED_SOME_IDENT,
  EXPECTED_SOME_VALUE,
  INVALID_ESCAPE,
  INVALID_NUMBER,
  NUMBER_OUT_OF_RANGE,
  INVALID_UNICODE_CODE_POINT,
  CONTROL_CHARACTER_WHILE_PARSING_STRING,
  KEY_MUST_BE_A_STRING,
  LONE_LEADING_SURROGATE_IN_HEX_ESCAPE,
  TRAILING_COMMA,
  TRAILING_CHARACTERS,
  UNEXPECTED_END_OF_HEX_ESCAPE,
  RECURSION_LIMIT_EXCEEDED
} as const
