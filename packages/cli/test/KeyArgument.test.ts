/**
 * `Cli.keyArgument`: an argument that holds a key is refused before anything is parsed, by its
 * position (never quoted) — a whole `hex:` HMAC key or a note signer key, as the argument or as
 * the value of `--flag=value`; a value that only mentions `PRIVATE+KEY+` is no key.
 */
import { credentialArgument, keyArgument } from "@calybris/cli/Cli"
import { assert, describe, it } from "@effect/vitest"

const HEX = `hex:${"00112233445566778899aabbccddeeff".repeat(2)}`
const SKEY = "PRIVATE+KEY+example.com/log+c74f20a3+AY5ccW0ESaD9Lt0S8aRoxwsgJxGnaoHYYS53K/ncqNcF"
const BARE = SKEY.slice("PRIVATE+KEY+".length)
const SECRET = SKEY.split("+").slice(4).join("+")

describe("Cli.keyArgument", () => {
  it("finds a key as an argument, as a --flag=value's value, with spaces after hex:, and a short hex key", () => {
    const cases: ReadonlyArray<readonly [ReadonlyArray<string>, number]> = [
      [["log", "checkpoint", "--key-file", HEX], 4],
      [["log", "checkpoint", `--key-file=${HEX}`], 3],
      [["log", "checkpoint", `--key-env=${HEX}`], 3],
      [["log", "checkpoint", `--origin=${HEX}`], 3],
      [["log", "checkpoint", "--origin", `hex: ${HEX.slice(4)}`], 4],
      [["log", "checkpoint", "--origin", " hex:0011223344556677 "], 4],
      [["log", "checkpoint", SKEY], 3],
      [["log", "checkpoint", `--origin=${SKEY}`], 3],
      [["log", "checkpoint", "--origin", `a ${SKEY} b`], 4],
      // a signer key with its PRIVATE+KEY+ cut off (the whole secret, a verifier key's form)
      // anywhere but as --vkey's value: it was echoed by the error naming it (a hostile review)
      [["log", "checkpoint", "--skey-env", BARE], 4],
      [["log", "checkpoint", `--skey-file=${BARE}`], 3],
      [["log", "verify", "--vkey", BARE, "--checkpoint", BARE], 6],
      [["log", "verify", BARE], 3],
      // a --vkey that is itself --vkey's value exempts nothing after it (it was echoed), and a
      // signer key with its prefix after --vkey is still one
      [["log", "verify", "--vkey", "--vkey", BARE], 5],
      [["log", "verify", "--vkey", SKEY], 4],
      // the secret part alone, base64(0x01 ‖ seed), where a path or a name goes, or after --vkey
      // (no verifier key: it has no name): it was echoed by the error naming the file (a helper's
      // hostile review)
      [["log", "verify", "--vkey", BARE, "--proof", SECRET], 6],
      [["log", "checkpoint", "--skey-file", SECRET], 4],
      [["log", "checkpoint", `--skey-env=${SECRET}`], 3],
      [["log", "verify", "--vkey", SECRET], 4],
      // with white space around it, or as a path's last part (the review of this check: echoed)
      [["log", "checkpoint", "--skey-file", ` ${SECRET}`], 4],
      [["log", "checkpoint", "--skey-env", `${SECRET}\n`], 4],
      [["log", "checkpoint", "--skey-file", `./${SECRET}`], 4],
      // anywhere but an id: a positional path, after --, --origin (signed into the checkpoint),
      // --name (the review of the scoped check: echoed, or signed)
      [["wal", "verify", SECRET], 3],
      [["policy", "validate", "--", SECRET], 4],
      [["log", "consistency", "--log", "j.jsonl", SECRET, "x"], 5],
      [["log", "checkpoint", "--log", "j.jsonl", "--origin", SECRET], 6],
      [["log", "keygen", "--name", SECRET, "--out", "k"], 4],
      [["budget", "status", "--journal", SECRET], 4]
    ]
    for (const [args, position] of cases) assert.strictEqual(keyArgument(args), position, args.join(" "))
  })

  it("finds a key's bytes as bare hex (32 digits or more) or padded base64 given where its file or variable goes, and leaves such a file given as ./NAME (a hostile review: the error naming the source echoed it)", () => {
    const hex = "07".repeat(32)
    const b64 = Buffer.alloc(32, 7).toString("base64")
    const cases: ReadonlyArray<readonly [ReadonlyArray<string>, number]> = [
      [["log", "prove", "2", "--log", "l.jsonl", "--key-file", hex], 7],
      [["wal", "verify", "l.jsonl", `--key-file=${hex.slice(0, 32)}`], 4],
      [["wal", "verify", "l.jsonl", "--key-env", ` ${hex.toUpperCase()}\n`], 5],
      [["log", "checkpoint", "--skey-file", b64], 4],
      [["log", "checkpoint", `--skey-env=${Buffer.alloc(40, 9).toString("base64")}`], 3]
    ]
    for (const [args, position] of cases) assert.strictEqual(keyArgument(args), position, args.join(" "))
    const left: ReadonlyArray<ReadonlyArray<string>> = [
      ["wal", "verify", "l.jsonl", "--key-file", `./${hex}`],
      ["wal", "verify", "l.jsonl", "--key-file", hex.slice(0, 31)],
      ["wal", "verify", "l.jsonl", "--key-env", "CALYBRIS_KEY"],
      // 32 hex digits elsewhere are no key's place: a digest, an id
      ["budget", "reserve", "--tenant", hex, "--amount", "5", "--id", hex],
      ["wal", "verify", hex]
    ]
    for (const args of left) assert.strictEqual(keyArgument(args), 0, args.join(" "))
  })

  it("takes a note key of the verifier's form as --vkey's value (repeated, and as --vkey=KEY)", () => {
    for (
      const args of [
        ["log", "verify", "--vkey", BARE, "--checkpoint", "c.txt"],
        ["log", "verify", `--vkey=${BARE}`, "--vkey", BARE, "--proof", "p.json"]
      ]
    ) assert.strictEqual(keyArgument(args), 0, args.join(" "))
  })

  it("leaves what is not a key: a WAL line that mentions PRIVATE+KEY+, hashes, paths, short hex", () => {
    const line = `{"sequence":3,"previous_hash":"${"ab".repeat(32)}","entry_hash":"${
      "cd".repeat(32)
    }","data":"rotate PRIVATE+KEY+ files"}`
    const cases: ReadonlyArray<ReadonlyArray<string>> = [
      ["log", "verify", "--entry-line", line],
      ["log", "verify", `--entry-line=${line}`],
      ["wal", "verify", "hex:log.jsonl"],
      ["log", "checkpoint", "--origin", "hex:beef"],
      ["log", "checkpoint", "--origin", "example.com/log"],
      ["log", "prove", "3", "--key-file", "/keys/hex:0011.key"],
      // a dated path of a note key's length: no key of type 0x01 (the review of the check)
      ["wal", "verify", "backup+20240101+tenants/acme/journal/2024/01/segment00000001"],
      ["wal", "verify", "./backup+20240101+tenants/acme/journal/2024/01/segment00000001"],
      // 44 base64 characters that are no key part: another type byte, a padded 32-byte value, a path
      ["wal", "verify", `B${SECRET.slice(1)}`],
      ["log", "verify", "--entry-line", Buffer.alloc(32, 1).toString("base64")],
      ["wal", "verify", `./${SECRET.slice(2)}`],
      // 44 such characters that are a tenant id, an operation id or a positional path: only a
      // path option's value is looked at (the review of this check: a tenant was unreachable)
      ["budget", "ensure", "--tenant", "AcmeWidgetsIncorporatedEuropeanDivision2024x", "--amount", "5"],
      ["budget", "reserve", "--tenant", "t", "--amount", "5", "--id", SECRET],
      ["budget", "reserve", "--tenant", SECRET, "--amount", "5", "--reservation", SECRET],
      ["budget", "status", "--journal", "j.jsonl", SECRET],
      ["budget", "status", SECRET, "--json"],
      // options before the command words (the review: the tenant was refused there)
      ["--log-level", "info", "budget", "status", "--journal", "j.jsonl", SECRET],
      ["budget", "--log-level", "info", "status", "--journal", "j.jsonl", SECRET]
    ]
    for (const args of cases) assert.strictEqual(keyArgument(args), 0, args.join(" "))
  })
})

describe("Cli.credentialArgument", () => {
  const URL = "postgresql://gw:S3cretPW@127.0.0.1:5432/ledger"
  it("finds a URL with a password anywhere but as --database's value: a positional, a misspelt flag's value (a helper's hostile review)", () => {
    const cases: ReadonlyArray<readonly [ReadonlyArray<string>, number]> = [
      [["budget", "migrate", URL], 3],
      [["budget", "migrate", `--databse=${URL}`], 3],
      [["budget", "status", "--journal", URL], 4],
      [["budget", "status", "--database", URL, "extra", URL], 6],
      [["wal", "verify", `x-${URL}`], 3]
    ]
    for (const [args, position] of cases) assert.strictEqual(credentialArgument(args), position, args.join(" "))
  })

  it("leaves --database's value, URLs without a password, and paths", () => {
    const cases: ReadonlyArray<ReadonlyArray<string>> = [
      ["budget", "status", "--database", URL],
      ["budget", "status", `--database=${URL}`],
      ["budget", "status", "--database", "postgresql://gw@127.0.0.1/ledger"],
      ["wal", "verify", "postgresql://127.0.0.1:5432/ledger"],
      ["wal", "verify", "/logs/a:b@c.jsonl"]
    ]
    for (const args of cases) assert.strictEqual(credentialArgument(args), 0, args.join(" "))
  })
})
