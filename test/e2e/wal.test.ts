/**
 * `calybris wal …` through the real CLI on a keyed audited log written by the library: valid
 * and tampered logs (exit 0/1), wrong and missing keys (exit 1, never echoed), key refusals
 * (exit 2), a torn tail repaired, entries shown, decisions replayed.
 */
import * as Input from "@calybris/core/Input"
import * as Json from "@calybris/core/Json"
import * as JsonSchema from "@calybris/core/JsonSchema"
import * as Kernel from "@calybris/core/Kernel"
import * as Policy from "@calybris/core/Policy"
import * as Audited from "@calybris/wal/Audited"
import * as Chain from "@calybris/wal/Chain"
import * as Entry from "@calybris/wal/Entry"
import * as Reader from "@calybris/wal/Reader"
import * as Wal from "@calybris/wal/Wal"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as fs from "node:fs"
import * as path from "node:path"
import { type Event, events, hasStrace } from "../support/strace.js"
import { calybris, mapLimit, sh, shellCommand, shellWord, tempDir, write } from "./support/cli.js"
import { inputLine, policyText } from "./support/fixtures.js"

const dir = tempDir("wal")
const policyFile = write(dir, "policy.json", policyText)
const otherPolicyFile = write(
  dir,
  "other.json",
  policyText.replace(`"latency_penalty_microunits_per_ms": 2`, `"latency_penalty_microunits_per_ms": 3`)
)
const policy = Either.getOrThrow(Either.flatMap(JsonSchema.decodeText(Policy.PolicySnapshot)(policyText), Policy.make))

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex")
const key = Uint8Array.from({ length: 32 }, (_, i) => (i * 37 + 11) & 0xff)
const wrongKey = Uint8Array.from({ length: 32 }, (_, i) => (i * 53 + 7) & 0xff)
const keyFile = write(dir, "log.key", `hex:${hex(key)}\n`)
const wrongKeyFile = write(dir, "wrong.key", `hex:${hex(wrongKey)}\n`)
const emptyKeyFile = write(dir, "empty.key", "")

const log = path.join(dir, "audited.jsonl")
const head = await Effect.runPromise(
  Effect.gen(function*() {
    for (let i = 1; i <= 5; i++) {
      const input = Either.getOrThrow(
        JsonSchema.decodeText(Input.Input)(
          inputLine({
            request_sequence: String(9_007_199_254_740_992n + BigInt(i)),
            requested_model_id: String(i * 10 % 40)
          })
        )
      )
      yield* Audited.append(policy, input, Kernel.prescribe(policy, input), new Map([["n", i]]))
    }
    return yield* Wal.head
  }).pipe(Effect.provide(Wal.layerFile(log, { key })), Effect.provide(NodeContext.layer))
)
const logText = fs.readFileSync(log, "utf8")
const logLines = logText.split("\n").slice(0, -1)

const copy = (name: string, text: string) => write(dir, name, text)
const parse = (text: string): Json.Json => Either.getOrThrow(Json.parse(text))
const member = (json: Json.Json | undefined, ...keys: ReadonlyArray<string>): Json.Json | undefined =>
  keys.reduce<Json.Json | undefined>((v, k) => (v !== undefined && Json.isObject(v) ? v.get(k) : undefined), json)

const secrets = [hex(key), hex(wrongKey), "s3cr3t-raw-key"]
const assertNoKey = (...outputs: ReadonlyArray<string | undefined>) => {
  for (const out of outputs) for (const s of secrets) assert.notInclude(out ?? "", s)
}

describe("wal verify", () => {
  it("verifies a keyed log (key from a file or from the environment), and fails closed on tampering", async () => {
    const tampered = copy(
      "tampered.jsonl",
      logText.replace(`"request_sequence":9007199254740995`, `"request_sequence":9007199254740996`)
    )
    const [ok, okJson, okEnv, broken, brokenJson, missing] = await mapLimit(
      [
        { args: [log, "--key-file", keyFile] },
        { args: [log, "--key-file", keyFile, "--json"] },
        { args: [log, "--key-env", "CALYBRIS_E2E_KEY"], env: { CALYBRIS_E2E_KEY: `hex:${hex(key)}` } },
        { args: [tampered, "--key-file", keyFile] },
        { args: [tampered, "--key-file", keyFile, "--json"] },
        { args: [path.join(dir, "none.jsonl"), "--key-file", keyFile] }
      ],
      4,
      (c) => calybris(["wal", "verify", ...c.args], { env: c.env })
    )
    assert.strictEqual(ok?.code, 0, ok?.stderr)
    assert.strictEqual(
      ok?.stdout,
      `ok: 5 entries verified (HMAC-SHA256), last hash ${head.lastHash}, ${
        Buffer.byteLength(logText).toLocaleString("en-US")
      } bytes\n`
    )
    assert.strictEqual(member(parse(okJson?.stdout ?? ""), "entries"), 5)
    assert.strictEqual(member(parse(okJson?.stdout ?? ""), "last_hash"), head.lastHash)
    assert.strictEqual(okEnv?.code, 0, okEnv?.stderr)
    assert.strictEqual(broken?.code, 1)
    // the hash the edited line should have under the key (its MAC) is never printed: shown to
    // whoever supplied the log, it would mint that line (a helper's hostile review)
    assert.match(
      broken?.stderr ?? "",
      /^WalChainBroken: WAL chain broken at sequence 3: expected \(withheld: [^)]*\), found [0-9a-f]{64}\n$/
    )
    const verdict = Reader.verifyBytes(fs.readFileSync(tampered), { chain: Either.getOrThrow(Chain.make({ key })) })
    const expectedMac = Either.isLeft(verdict) && verdict.left._tag === "WalChainBroken" ? verdict.left.expected : ""
    assert.match(expectedMac, /^[0-9a-f]{64}$/)
    assert.notInclude(broken?.stderr, expectedMac)
    assert.notInclude(brokenJson?.stderr, expectedMac)
    assert.strictEqual(brokenJson?.code, 1)
    const error = member(parse(brokenJson?.stderr ?? ""), "error")
    assert.strictEqual(member(error, "_tag"), "WalChainBroken")
    assert.strictEqual(member(error, "sequence"), 3)
    assert.strictEqual(member(error, "exit_code"), 1)
    assert.include(String(member(error, "expected")), "withheld")
    assert.strictEqual(missing?.code, 2)
    assert.include(missing?.stderr, "none.jsonl: no such file")
    assertNoKey(ok?.stdout, okJson?.stdout, broken?.stderr, brokenJson?.stderr)
  })

  it("fails with exit 1 under a wrong or missing key, never echoing a key; refuses an empty key (exit 2)", async () => {
    const [wrong, wrongJson, none, rawEnv, empty, emptyAllowed, both] = await mapLimit(
      [
        { args: ["--key-file", wrongKeyFile] },
        { args: ["--key-file", wrongKeyFile, "--json"] },
        { args: [] },
        { args: ["--key-env", "CALYBRIS_E2E_KEY"], env: { CALYBRIS_E2E_KEY: "s3cr3t-raw-key" } },
        { args: ["--key-file", emptyKeyFile] },
        { args: ["--key-file", emptyKeyFile, "--allow-empty-key"] },
        { args: ["--key-file", keyFile, "--key-env", "CALYBRIS_E2E_KEY"] }
      ],
      4,
      (c) => calybris(["wal", "verify", log, ...c.args], { env: c.env })
    )
    assert.strictEqual(wrong?.code, 1)
    assert.include(wrong?.stderr, "hint: the first entry does not verify under this key")
    assert.include(wrong?.stderr, "WalChainBroken: WAL chain broken at sequence 1")
    assert.strictEqual(wrongJson?.code, 1)
    assert.strictEqual(member(member(parse(wrongJson?.stderr ?? ""), "error"), "_tag"), "WalChainBroken")
    assert.strictEqual(none?.code, 1)
    assert.include(none?.stderr, "hint: the first entry does not hash as an unkeyed (SHA-256) log")
    assert.strictEqual(rawEnv?.code, 1)
    assert.strictEqual(empty?.code, 2)
    assert.include(empty?.stderr, `KeyError: --key-file ${emptyKeyFile}: the key is empty`)
    assert.strictEqual(emptyAllowed?.code, 1)
    assert.strictEqual(both?.code, 2)
    assert.include(both?.stderr, "UsageError: give the key with either --key-file or --key-env, not both")
    for (const r of [wrong, wrongJson, none, rawEnv, empty, emptyAllowed, both]) assertNoKey(r?.stdout, r?.stderr)
  })
})

describe("--log-level debug", () => {
  it("prints a failure once, as at any level: a forged line's expected MAC withheld, terminal escapes escaped (a hostile review: the pretty logger printed each fiber's failure raw, and the MAC minted the line)", async () => {
    const tampered = copy(
      "tampered-debug.jsonl",
      logText.replace(`"request_sequence":9007199254740995`, `"request_sequence":9007199254740996`)
    )
    const verdict = Reader.verifyBytes(fs.readFileSync(tampered), { chain: Either.getOrThrow(Chain.make({ key })) })
    const expectedMac = Either.isLeft(verdict) && verdict.left._tag === "WalChainBroken" ? verdict.left.expected : ""
    assert.match(expectedMac, /^[0-9a-f]{64}$/)
    const escapes = copy(
      "escapes-debug.jsonl",
      `{"sequence":1,"previous_hash":"\\u001b]0;PWNED\\u0007","entry_hash":"00","data":1}\n`
    )
    const runs = await Promise.all([
      calybris(["--log-level", "debug", "wal", "verify", tampered, "--key-file", keyFile]),
      calybris(["--log-level", "all", "wal", "show", tampered, "--key-file", keyFile]),
      calybris(["--log-level", "trace", "wal", "replay", tampered, "--policy", policyFile, "--key-file", keyFile]),
      calybris(["--log-level", "debug", "wal", "verify", escapes])
    ])
    for (const r of runs) {
      assert.strictEqual(r.code, 1, r.stderr)
      // (the pretty logger wrote to stdout)
      for (const text of [r.stdout, r.stderr]) {
        assert.notInclude(text, expectedMac)
        assert.notInclude(text, "\u001b")
        assert.notInclude(text, "\u0007")
        assert.notInclude(text, "Fiber terminated")
      }
      assert.strictEqual(r.stderr.trim().split("\n").length, 1, r.stderr)
    }
    // nothing on stdout but what the command prints: none of verify's, show's entries before the break
    assert.strictEqual(runs[0]?.stdout, "")
    assert.strictEqual(runs[3]?.stdout, "")
    assert.strictEqual(runs[1]?.stdout.trim().split("\n").length, 2, runs[1]?.stdout)
    assert.include(runs[0]?.stderr, "WalChainBroken: WAL chain broken at sequence 3: expected (withheld")
  })
})

describe("a key given where its file or variable goes", () => {
  it("in any common spelling (base64url, unpadded base64, 0x hex) is never repeated by the error naming the source, exit 2 (the review of the bare-hex refusal: they were echoed)", async () => {
    const raw = Buffer.from(Array.from({ length: 32 }, (_, i) => (i * 53 + 7) & 0xff))
    const spellings = [
      raw.toString("base64url"),
      raw.toString("base64").replace(/=+$/, ""),
      `0x${raw.toString("hex")}`,
      // a variable name's characters only (a token without "-"): "not set" repeated it
      raw.toString("base64url").replace(/-/g, "x").replace(/^[0-9]/, "k"),
      // standard base64 starting with "/" (the review of the rule: printed as a path), and a 128-bit key, padded
      `/${raw.toString("base64").slice(1).replace(/=+$/, "")}`,
      raw.subarray(0, 16).toString("base64"),
      // the review of the rule: a path-like start in lower case, openssl's wrapped base64, 0X and colon hex
      `/ny9j/${raw.toString("base64").slice(6).replace(/=+$/, "")}`,
      `${Buffer.concat([raw, raw]).toString("base64").slice(0, 64)}\n${raw.toString("base64")}`,
      `0X${raw.toString("hex").toUpperCase()}`,
      (raw.toString("hex").match(/../g) ?? []).join(":")
    ]
    const runs = await Promise.all(spellings.flatMap((key) => [
      calybris(["wal", "verify", log, "--key-file", key]),
      calybris(["wal", "verify", log, "--key-env", key]),
      calybris(["log", "checkpoint", "--log", log, "--skey-env", key, "--key-file", keyFile]),
      calybris(["log", "checkpoint", "--log", log, "--skey-file", key, "--key-file", keyFile])
    ]))
    for (const [i, r] of runs.entries()) {
      const key = spellings[Math.floor(i / 4)] as string
      assert.strictEqual(r.code, 2, r.stderr)
      assert.include(r.stderr, "KeyError")
      assert.notInclude(r.stdout + r.stderr, key)
      assert.notInclude(r.stdout + r.stderr, key.slice(2, 30))
      // nor escaped (a newline printed as \u000a)
      assert.notInclude(r.stdout + r.stderr, key.slice(6, 20))
    }
    // a variable's name is named, a long one and one with dots too, and so is a path (the review of the rule)
    const named = await Promise.all([
      calybris(["wal", "verify", log, "--key-env", "CALYBRIS_PRODUCTION_WAL_HMAC_KEY_V2_UNSET"]),
      calybris(["wal", "verify", log, "--key-env", "calybris.wal.key.unset"]),
      calybris(["wal", "verify", log, "--key-file", `${dir}/no-such-directory/calybris_production_hmac_key`])
    ])
    assert.include(
      named[0]?.stderr,
      "KeyError: --key-env CALYBRIS_PRODUCTION_WAL_HMAC_KEY_V2_UNSET: the environment variable is not set"
    )
    assert.include(named[1]?.stderr, "KeyError: --key-env calybris.wal.key.unset: the environment variable is not set")
    assert.include(named[2]?.stderr, `KeyError: --key-file ${dir}/no-such-directory/calybris_production_hmac_key: `)
    // a long mixed-case POSIX name is looked up (the review of the rule: it was refused as key-like)
    const longName = await calybris(["wal", "verify", log, "--key-env", "MyCompanyWalHmacKeyProduction2024"], {
      env: { MyCompanyWalHmacKeyProduction2024: `hex:${hex(key)}` }
    })
    assert.strictEqual(longName.code, 0, longName.stderr)
  })
})

describe("a key file", () => {
  it("past 64 KiB is refused before it is read, exit 2 naming the file, in every command that takes a key (a log named as the key by mistake was read whole, up to 2 GiB)", async () => {
    const big = path.join(dir, "big.key")
    fs.writeFileSync(big, "s3cr3t")
    fs.truncateSync(big, 3 * 1024 ** 3)
    const runs = await Promise.all([
      calybris(["wal", "verify", log, "--key-file", big]),
      calybris(["wal", "replay", log, "--policy", policyFile, "--key-file", big, "--json"]),
      calybris(["budget", "status", "--journal", path.join(dir, "none.jsonl"), "--key-file", big])
    ])
    fs.rmSync(big)
    for (const r of runs) {
      assert.strictEqual(r.code, 2, r.stderr)
      assert.include(r.stderr, "KeyError")
      assert.include(r.stderr, big)
      assert.include(r.stderr, "too large: 3221225472 bytes")
      assert.notInclude(r.stderr, "s3cr3t")
      assert.strictEqual(r.stdout, "")
    }
  })
})

describe("wal verify and replay note a line re-spelt after writing", () => {
  it("a member added to an entry, or white space, verifies (as the reference) with a note naming the first; --json counts them (a hostile review)", async () => {
    const lines = [...logLines]
    lines[1] = `${(lines[1] as string).slice(0, -1)},"zz":[1,2]}`
    lines[3] = (lines[3] as string).replace(`"sequence":4,`, `"sequence": 4 ,`)
    const respelt = copy("respelt.jsonl", `${lines.join("\n")}\n`)
    const [text, json, clean] = await Promise.all([
      calybris(["wal", "verify", respelt, "--key-file", keyFile]),
      calybris(["wal", "verify", respelt, "--key-file", keyFile, "--json"]),
      calybris(["wal", "verify", log, "--key-file", keyFile, "--json"])
    ])
    assert.strictEqual(text.code, 0, text.stderr)
    assert.include(text.stdout, "ok: 5 entries verified")
    assert.include(text.stdout, "note: 2 lines (the first: entry 2) are not the entry's canonical form")
    assert.strictEqual(json.code, 0, json.stderr)
    assert.strictEqual(member(parse(json.stdout), "non_canonical_lines"), 2)
    assert.strictEqual(member(parse(json.stdout), "first_non_canonical_sequence"), 2)
    assert.strictEqual(member(parse(clean.stdout), "non_canonical_lines"), 0)
    assert.strictEqual(member(parse(clean.stdout), "first_non_canonical_sequence"), null)
    // wal replay tells the same (a review: it said ok over a member injected without the key)
    const [replayed, replayedJson] = await Promise.all([
      calybris(["wal", "replay", respelt, "--policy", policyFile, "--key-file", keyFile]),
      calybris(["wal", "replay", respelt, "--policy", policyFile, "--key-file", keyFile, "--json"])
    ])
    assert.strictEqual(replayed.code, 0, replayed.stderr)
    assert.include(replayed.stdout, "note: 2 lines (the first: entry 2) are not the entry's canonical form")
    assert.strictEqual(member(parse(replayedJson.stdout), "non_canonical_lines"), 2)
    assert.strictEqual(member(parse(replayedJson.stdout), "first_non_canonical_sequence"), 2)
  })
})

describe("--key-env takes the variable's bytes only when they are valid UTF-8", () => {
  it("a binary key in the environment is refused (exit 2, pointing to hex:), never read as U+FFFD: two such keys are not one (a hostile review)", async () => {
    // a log keyed with the bytes U+FFFD U+FFFD encodes: what Node read for any two invalid bytes
    const collapsed = Uint8Array.from([0xef, 0xbf, 0xbd, 0xef, 0xbf, 0xbd])
    const binaryLog = path.join(dir, "binary-key.jsonl")
    await Effect.runPromise(
      Effect.flatMap(Wal.Wal, (wal) => wal.append(new Map([["n", 1]]))).pipe(
        Effect.provide(Wal.layerFile(binaryLog, { key: collapsed })),
        Effect.provide(NodeContext.layer)
      )
    )
    const cli = await shellCommand()
    const results = await mapLimit(
      ["\\377\\376", "\\375\\374", "\\200\\201"],
      3,
      (bytes) => sh(`K="$(printf '${bytes}')" exec ${cli} wal verify ${shellWord(binaryLog)} --key-env K`)
    )
    for (const r of results) {
      assert.strictEqual(r.code, 2, r.stdout + r.stderr)
      assert.include(r.stderr, "KeyError: --key-env K: the value is not valid UTF-8")
      assert.include(r.stderr, "hex:")
      assert.notInclude(r.stdout, "ok")
    }
    // the same bytes as hex: verify (the log is keyed with exactly them)
    const asHex = await calybris(["wal", "verify", binaryLog, "--key-env", "K"], {
      env: { K: `hex:${hex(collapsed)}` }
    })
    assert.strictEqual(asHex.code, 0, asHex.stderr)
  })
})

describe("wal repair", () => {
  it("repairs a torn final line (saving it), and nothing else", async () => {
    const tail = `{"sequence":6,"previous_hash":"${head.lastHash.slice(0, 20)}`
    const torn = copy("torn.jsonl", `${logText}${tail}`)
    const size = Buffer.byteLength(tail)
    const tamperedMiddle = copy("middle.jsonl", logText.replace(`"n":2`, `"n":20`))
    const before = await calybris(["wal", "verify", torn, "--key-file", keyFile])
    assert.strictEqual(before.code, 1)
    assert.match(
      before.stderr,
      new RegExp(
        `^WalTornTail: WAL torn tail: the last line \\(line 6, ${size} bytes at offset \\d+\\) is an incomplete entry`
      )
    )
    const [repaired, refused] = await Promise.all([
      calybris(["wal", "repair", torn, "--key-file", keyFile]),
      calybris(["wal", "repair", tamperedMiddle, "--key-file", keyFile])
    ])
    const offset = Buffer.byteLength(logText)
    assert.strictEqual(repaired.code, 0, repaired.stderr)
    assert.strictEqual(
      repaired.stdout,
      `repaired: removed a torn final line of ${size} bytes at offset ${offset} (saved to ${torn}.torn-${offset})\n` +
        `the log now has 5 verified entries, last hash ${head.lastHash}\n`
    )
    assert.strictEqual(fs.readFileSync(torn, "utf8"), logText)
    assert.isTrue(fs.existsSync(`${torn}.torn-${offset}`))
    assert.strictEqual(refused.code, 1)
    assert.include(refused.stderr, "WalNotRepairable: WAL not repairable: WalChainBroken")
    assert.strictEqual(fs.readFileSync(tamperedMiddle, "utf8"), logText.replace(`"n":2`, `"n":20`))
    const [after, again] = await Promise.all([
      calybris(["wal", "verify", torn, "--key-file", keyFile]),
      calybris(["wal", "repair", torn, "--key-file", keyFile, "--json"])
    ])
    assert.strictEqual(after.code, 0, after.stderr)
    assert.strictEqual(again.code, 0, again.stderr)
    assert.strictEqual(member(parse(again.stdout), "repaired"), false)
  })

  it("refuses a complete final entry whose last byte was changed to a character's lead byte (no writer puts one there: never a crash's cut), removing nothing (a review: repair removed the acknowledged entry)", async () => {
    const bytes = Buffer.from(logText)
    // the last entry's closing brace (before the final LF) changed to 0xC3, the LF gone
    const changed = Buffer.concat([bytes.subarray(0, bytes.length - 2), Buffer.from([0xc3])])
    const file = copy("lead-byte.jsonl", "")
    fs.writeFileSync(file, changed)
    const repaired = await calybris(["wal", "repair", file, "--key-file", keyFile])
    assert.strictEqual(repaired.code, 1, repaired.stdout)
    assert.deepStrictEqual(fs.readFileSync(file), changed)
    const verified = await calybris(["wal", "verify", file, "--key-file", keyFile])
    assert.strictEqual(verified.code, 1)
    assert.notInclude(verified.stderr, "WalTornTail")
  })

  it("repairs a final line of zero bytes (a power loss's unwritten tail), which every command reported as corruption and repair refused (a helper's crash review)", async () => {
    const zeros = Buffer.alloc(300)
    const zeroed = copy("zeroed.jsonl", logText)
    fs.appendFileSync(zeroed, zeros)
    const before = await calybris(["wal", "verify", zeroed, "--key-file", keyFile])
    assert.strictEqual(before.code, 1)
    assert.match(before.stderr, /^WalTornTail: WAL torn tail: the last line \(line 6, 300 bytes at offset \d+\)/)
    const repaired = await calybris(["wal", "repair", zeroed, "--key-file", keyFile])
    assert.strictEqual(repaired.code, 0, repaired.stderr)
    const offset = Buffer.byteLength(logText)
    assert.strictEqual(fs.readFileSync(zeroed, "utf8"), logText)
    assert.deepStrictEqual(fs.readFileSync(`${zeroed}.torn-${offset}`), zeros)
    assert.strictEqual((await calybris(["wal", "verify", zeroed, "--key-file", keyFile])).code, 0)
  })
})

describe("wal repair, under strace", () => {
  it.skipIf(!hasStrace)(
    "the saved tail is fsynced, then its directory, and only then is the log truncated",
    async () => {
      const tail = `{"sequence":6,"previous_hash":"${head.lastHash.slice(0, 20)}`
      const torn = copy("torn-strace.jsonl", `${logText}${tail}`)
      const offset = Buffer.byteLength(logText)
      const trace = `${torn}.trace`
      const run = await sh(
        [
          "strace -f -qq -e trace=openat,fsync,fdatasync,ftruncate -o",
          shellWord(trace),
          await shellCommand(),
          "wal repair",
          shellWord(torn),
          "--key-file",
          shellWord(keyFile)
        ].join(" ")
      )
      assert.strictEqual(run.code, 0, run.stderr)
      assert.strictEqual(fs.readFileSync(torn, "utf8"), logText)
      const seen = events(fs.readFileSync(trace, "utf8"))
      const saved = `${torn}.torn-${offset}`
      const at = (p: (e: Event) => boolean) => seen.findIndex(p)
      const savedSync = at((e) => e.kind === "fsync" && e.path === saved)
      const dirSync = at((e) => e.kind === "fsync" && e.path === path.dirname(torn))
      const truncate = at((e) => e.kind === "truncate" && e.path === torn)
      assert.isAtLeast(savedSync, 0, "the saved tail is fsynced")
      assert.isAbove(dirSync, savedSync, "its directory after it")
      assert.isAbove(truncate, dirSync, "the log truncated after both")
      assert.deepStrictEqual(seen[truncate], { kind: "truncate", path: torn, length: offset })
    },
    90_000
  )
})

describe("wal show and wal replay", () => {
  it("a log that would draw on the terminal (escapes, a carriage return, C1, bidi, in a hash or its data) is shown escaped: verify, repair, show (a hostile review: a fake 'ok' drawn over WalChainBroken)", async () => {
    const spoof = "\\r\\u001b[2K\\u001b[1A\\u001b[2K\\rok: 5 entries verified"
    const fourth = logLines[3] as string
    const hash = /"entry_hash":"([0-9a-f]{64})"/.exec(fourth)?.[1] as string
    const edited = [
      ...logLines.slice(0, 3),
      fourth.replace(hash, spoof).replace(`"n":4`, `"n":"\u009b2J\u202eevil"`),
      ...logLines.slice(4)
    ].join("\n") + "\n"
    const file = copy("spoof.jsonl", edited)
    const runs = await mapLimit(
      [
        ["verify", file, "--key-file", keyFile],
        ["repair", file, "--key-file", keyFile],
        ["show", file, "--unverified"],
        ["show", file, "--key-file", keyFile]
      ],
      2,
      (args) => calybris(["wal", ...args])
    )
    for (const r of runs) {
      const out = `${r.stdout}${r.stderr}`
      assert.notMatch(out, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e]/, out)
    }
    assert.strictEqual(runs[0]?.code, 1)
    assert.include(runs[0]?.stderr, "WalChainBroken: WAL chain broken at sequence 4")
    assert.include(runs[0]?.stderr, "\\u001b[2K")
    assert.include(runs[2]?.stdout, "\\u009b2J\\u202eevil")
    assert.deepStrictEqual(fs.readFileSync(file, "utf8"), edited, "nothing repaired")
  })

  it("shows entries (verified, or --unverified) and replays audited decisions under their policy", async () => {
    const tampered = copy("tampered-show.jsonl", logText.replace(`"n":4`, `"n":40`))
    const [lines, text, unverified, verifiedBroken, replayed, replayedJson, wrongPolicy, twoPolicies] = await mapLimit(
      [
        ["show", log, "--key-file", keyFile, "--from", "2", "--to", "3", "--json"],
        ["show", log, "--key-file", keyFile, "--to", "1"],
        ["show", tampered, "--unverified", "--from", "4", "--to", "4"],
        ["show", tampered, "--key-file", keyFile],
        ["replay", log, "--key-file", keyFile, "--policy", policyFile],
        ["replay", log, "--key-file", keyFile, "--policy", policyFile, "--json"],
        ["replay", log, "--key-file", keyFile, "--policy", otherPolicyFile],
        ["replay", log, "--key-file", keyFile, "--policy", policyFile, "--policy", otherPolicyFile]
      ],
      4,
      (args) => calybris(["wal", ...args])
    )
    assert.strictEqual(lines?.code, 0, lines?.stderr)
    assert.strictEqual(lines?.stdout, `${logLines[1]}\n${logLines[2]}\n`)
    assert.strictEqual(text?.code, 0, text?.stderr)
    assert.match(text?.stdout ?? "", /^#1 {2}[0-9a-f]{16}… {2}\{"audit":/)
    assert.strictEqual(unverified?.code, 0, unverified?.stderr)
    assert.include(unverified?.stderr, "UNVERIFIED")
    assert.include(unverified?.stdout, `"metadata":{"n":40}`)
    assert.strictEqual(verifiedBroken?.code, 1)
    assert.strictEqual(verifiedBroken?.stdout.split("\n").length, 4, "the three entries before the broken one")
    assert.include(verifiedBroken?.stderr, "WalChainBroken: WAL chain broken at sequence 4")
    assert.strictEqual(replayed?.code, 0, replayed?.stderr)
    assert.include(
      replayed?.stdout,
      "ok: 5 audited decisions replayed bit for bit; digests match; chain verified (HMAC-SHA256)"
    )
    assert.strictEqual(member(parse(replayedJson?.stdout ?? ""), "kind"), "audited")
    assert.strictEqual(member(parse(replayedJson?.stdout ?? ""), "decisions"), 5)
    assert.strictEqual(wrongPolicy?.code, 1)
    assert.include(wrongPolicy?.stderr, "WalAuditFailed: WAL audit failed at sequence 1: replay_valid=")
    assert.include(wrongPolicy?.stderr, "policy_match=false")
    assert.strictEqual(twoPolicies?.code, 2)
    assert.include(twoPolicies?.stderr, "UsageError: an audited decision log is replayed under exactly one --policy")
  })

  it("two --policy files of one digest are refused (exit 2): the digest ignores the models' order, the decisions do not (a review of the audit path)", async () => {
    const snapshot = parse(policyText) as Json.JsonObject
    const reversed = new Map(snapshot)
    reversed.set("models", [...(snapshot.get("models") as ReadonlyArray<Json.Json>)].reverse())
    const reversedFile = copy("policy-reversed.json", Json.print(reversed))
    for (const extra of [["--journal"], []]) {
      const r = await calybris([
        "wal",
        "replay",
        log,
        "--key-file",
        keyFile,
        "--policy",
        policyFile,
        "--policy",
        reversedFile,
        ...extra
      ])
      assert.strictEqual(r.code, 2, r.stderr)
      assert.include(r.stderr, "UsageError: --policy #1 and --policy #2 have the same digest")
    }
  })

  it("a null metadata in a line spelt another way replays; a member repeated after it is serde's duplicate field (a helper's hostile review)", async () => {
    // an audited log whose decisions carry `"metadata":null`, each line re-spelt with a space
    // (its hash is over the canonical data: it still verifies, and the replay decodes it from the text)
    const nullLog = path.join(dir, "null-metadata.jsonl")
    await Effect.runPromise(
      Effect.gen(function*() {
        for (let i = 1; i <= 3; i++) {
          const input = Either.getOrThrow(
            JsonSchema.decodeText(Input.Input)(inputLine({ request_sequence: String(i), requested_model_id: "10" }))
          )
          yield* Audited.append(policy, input, Kernel.prescribe(policy, input), null)
        }
      }).pipe(Effect.provide(Wal.layerFile(nullLog, { key })), Effect.provide(NodeContext.layer))
    )
    const lines = fs.readFileSync(nullLog, "utf8").split("\n").slice(0, -1)
    assert.isTrue(lines.every((line) => line.includes(`"metadata":null`)))
    const spaced = copy(
      "null-spaced.jsonl",
      lines.map((line) => line.replace(`{"audit":`, `{ "audit":`)).join("\n") + "\n"
    )
    const repeated = copy(
      "null-repeated.jsonl",
      lines.map((line, i) => i === 1 ? line.replace(`"metadata":null`, `"metadata":null,"metadata":null`) : line)
        .join("\n") + "\n"
    )
    const [verified, replayed, duplicate] = await mapLimit(
      [
        ["verify", spaced, "--key-file", keyFile],
        ["replay", spaced, "--key-file", keyFile, "--policy", policyFile],
        ["replay", repeated, "--key-file", keyFile, "--policy", policyFile]
      ],
      3,
      (args) => calybris(["wal", ...args])
    )
    assert.strictEqual(verified?.code, 0, verified?.stderr)
    assert.strictEqual(replayed?.code, 0, replayed?.stderr)
    assert.include(replayed?.stdout, "ok: 3 audited decisions replayed bit for bit")
    assert.strictEqual(duplicate?.code, 1)
    assert.strictEqual(duplicate?.stdout, "")
    assert.include(duplicate?.stderr, "duplicate field `metadata`")
    assert.notInclude(duplicate?.stderr, "EOF")
  })
})

describe("wal replay: a log of neither kind", () => {
  it("an entry edited so the log looks like neither kind fails as a broken chain (exit 1), keyed or not; a whole log of neither kind is bad usage (exit 2) (the core review)", async () => {
    // the first entry's "audit" member renamed: neither an audited log nor a journal, judging by it
    const keyedEdit = copy("neither-keyed.jsonl", logText.replace(`{"audit":`, `{"audix":`))
    const unkeyedLog = path.join(dir, "neither-unkeyed.jsonl")
    await Effect.runPromise(
      Effect.gen(function*() {
        const input = Either.getOrThrow(JsonSchema.decodeText(Input.Input)(inputLine({ requested_model_id: "10" })))
        yield* Audited.append(policy, input, Kernel.prescribe(policy, input), null)
        yield* Audited.append(policy, input, Kernel.prescribe(policy, input), null)
      }).pipe(Effect.provide(Wal.layerFile(unkeyedLog, {})), Effect.provide(NodeContext.layer))
    )
    const unkeyedEdit = copy(
      "neither-unkeyed-edit.jsonl",
      fs.readFileSync(unkeyedLog, "utf8").replace(`{"audit":`, `{"audix":`)
    )
    const plain = path.join(dir, "neither-plain.jsonl")
    await Effect.runPromise(
      Effect.gen(function*() {
        yield* Wal.append(new Map([["n", 1]]))
      }).pipe(Effect.provide(Wal.layerFile(plain, {})), Effect.provide(NodeContext.layer))
    )
    const [keyed, unkeyed, whole] = await mapLimit(
      [
        ["replay", keyedEdit, "--key-file", keyFile, "--policy", policyFile],
        ["replay", unkeyedEdit, "--policy", policyFile],
        ["replay", plain, "--policy", policyFile]
      ],
      3,
      (args) => calybris(["wal", ...args])
    )
    for (const [name, r] of [["keyed", keyed], ["unkeyed", unkeyed]] as const) {
      assert.strictEqual(r?.code, 1, `${name}: ${r?.stderr}`)
      assert.include(r?.stderr, "WalChainBroken: WAL chain broken at sequence 1", name)
      assert.notInclude(r?.stderr, "UsageError", name)
      assert.strictEqual(r?.stdout, "", name)
    }
    assert.strictEqual(whole?.code, 2, whole?.stderr)
    assert.include(whole?.stderr, "is neither an audited decision log nor a ledger journal")
  })

  it("a log without an entry (empty, or blank lines) is nothing to audit: exit 1, never 'ok: 0 audited decisions' (a hostile review)", async () => {
    const empty = copy("nothing-empty.jsonl", "")
    const blank = copy("nothing-blank.jsonl", "\n\n")
    const results = await mapLimit(
      [
        ["replay", empty, "--policy", policyFile],
        ["replay", blank, "--policy", policyFile],
        ["replay", empty, "--journal", "--policy", policyFile],
        ["replay", empty, "--key-file", keyFile, "--policy", policyFile, "--json"]
      ],
      2,
      (args) => calybris(["wal", ...args])
    )
    for (const r of results) {
      assert.strictEqual(r.code, 1, r.stdout)
      assert.include(r.stderr, "has no entry (an empty log verifies, but an audit of nothing is not a passed audit)")
      assert.strictEqual(r.stdout, "")
    }
    // it verifies all the same (SPEC §5)
    const verified = await calybris(["wal", "verify", empty])
    assert.strictEqual(verified.code, 0, verified.stderr)
  })
})

describe("wal errors people can act on", () => {
  it("name the line, column and byte offset, a BOM, the repair for a torn tail; quote no more than an excerpt", async () => {
    const offset2 = Buffer.byteLength(logLines[0] ?? "") + 1
    // the next entry's line, cut (what a crash leaves; the first line's start again is no tear)
    const lastHash = /"entry_hash":"([0-9a-f]{64})"/.exec(logLines.at(-1) ?? "")?.[1] ?? ""
    const torn = copy(
      "torn-hint.jsonl",
      `${logText}{"sequence":${logLines.length + 1},"previous_hash":"${lastHash}","entry_hash":"0123`
    )
    const bom = copy("bom.jsonl", `${logLines[0]}\n${logLines[1]}\n\uFEFF${logLines.slice(2).join("\n")}\n`)
    const huge = copy("huge.jsonl", `${logLines[0]}\n"${"x".repeat(2_000_000)}"\n`)
    // a record re-sealed under the key whose `metadata` member is repeated: the chain holds,
    // serde's typed decoding of the record does not
    const chain = Either.getOrThrow(Chain.make({ key }))
    const raw = (logLines[0] ?? "").slice((logLines[0] ?? "").indexOf(`"data":`) + 7, -1).replace(
      /^\{/,
      `{"metadata":0,`
    )
    const canonical = Json.print(Either.getOrThrow(Json.parse(raw)))
    const sealed = Entry.seal(chain, 1n, Chain.GENESIS, canonical)
    const dupLine = Entry.formatLine(1n, Chain.GENESIS, sealed.sealed.entry_hash, raw)
    const dup = copy("dup-record.jsonl", dupLine)
    const [tornR, bomR, hugeR, dupR] = await mapLimit(
      [
        ["verify", torn, "--key-file", keyFile],
        ["verify", bom, "--key-file", keyFile],
        ["verify", huge, "--key-file", keyFile],
        ["replay", dup, "--key-file", keyFile, "--policy", policyFile]
      ],
      4,
      (args) => calybris(["wal", ...args])
    )
    assert.strictEqual(tornR?.code, 1)
    assert.include(tornR?.stderr, "WalTornTail")
    // a junk final line (another sequence): corruption that no repair removes, said so (a hostile review)
    const junk = await calybris([
      "wal",
      "verify",
      copy("junk-tail.jsonl", `${logText}{"sequence":3,"previous_hash":"00`),
      "--key-file",
      keyFile
    ])
    assert.strictEqual(junk.code, 1)
    assert.include(junk.stderr, "WalParseError")
    assert.include(junk.stderr, `not the start of entry ${logLines.length + 1}`)
    assert.include(junk.stderr, "no crash leaves it")
    // a gap is not called a duplicate alone: the sequence expected is named (a hostile review)
    const [gapR, swapR] = await mapLimit(
      [
        ["verify", copy("gap.jsonl", `${logLines.filter((_, i) => i !== 2).join("\n")}\n`), "--key-file", keyFile],
        ["verify", copy("swap.jsonl", `${[logLines[0], logLines[2], logLines[1]].join("\n")}\n`), "--key-file", keyFile]
      ],
      2,
      (args) => calybris(["wal", ...args])
    )
    assert.strictEqual(gapR?.code, 1)
    assert.include(
      gapR?.stderr,
      "WalSequenceError: WAL duplicate sequence: 4 (sequence 3 expected there: an entry missing before it, or out of order)"
    )
    assert.strictEqual(swapR?.code, 1)
    assert.include(swapR?.stderr, "WAL duplicate sequence: 3 (sequence 2 expected there")
    assert.include(tornR?.stderr, "run `calybris wal repair`")
    assert.strictEqual(bomR?.code, 1)
    assert.include(bomR?.stderr, "WAL JSON error at line 3 column 1")
    assert.include(bomR?.stderr, "a byte order mark (U+FEFF) at the start of line 3")
    assert.strictEqual(hugeR?.code, 1)
    assert.isBelow(hugeR?.stderr.length ?? Infinity, 400)
    assert.include(hugeR?.stderr, `WAL JSON error at line 2 column 2000002 (the line starts at byte offset ${offset2})`)
    assert.strictEqual(dupR?.code, 1)
    const column = Buffer.byteLength(
      dupLine.slice(0, dupLine.indexOf(`"metadata"`, dupLine.indexOf(`"metadata"`) + 1) + 10)
    )
    assert.include(
      dupR?.stderr,
      `WAL JSON error at line 1 column ${column} (the line starts at byte offset 0): duplicate field \`metadata\``
    )
  })
})

describe("lone surrogates", () => {
  it("the library refuses to write one (the log still verifies through the CLI); lines holding one, as the old writer wrote them or as an escape, fail `wal verify` naming the line or sequence", async () => {
    const written = path.join(dir, "lone-library.jsonl")
    const twoKeys = new Map<string, Json.Json>([["\ud800", null], ["\ud83d", null]])
    const refused = await Effect.runPromise(
      Effect.gen(function*() {
        yield* Wal.append(new Map([["n", 1]]))
        const before = fs.readFileSync(written)
        const error = yield* Effect.flip(Wal.append(twoKeys))
        assert.deepStrictEqual(fs.readFileSync(written), before, "nothing written")
        yield* Wal.append(new Map([["n", 2]]))
        return error
      }).pipe(Effect.provide(Wal.layerFile(written, { key })), Effect.provide(NodeContext.layer))
    )
    assert.strictEqual(refused._tag, "WalRecordLoneSurrogate")
    assert.include(refused.message, `record key at $["\\ud800"] holds a lone surrogate U+D800 at code unit 0`)

    // what the writer before the fix wrote: the two keys as U+FFFD twice, hashed as written
    const chain = Either.getOrThrow(Chain.make({ key }))
    const oldData = `{"\ufffd":null,"\ufffd":null}`
    const oldLine = Entry.formatLine(1n, Chain.GENESIS, chain.link(Chain.GENESIS, oldData), oldData)
    // a lone surrogate as an escape, hashed over the escape's own text
    const escData = `{"n":"\\ud800"}`
    const escLine = Entry.formatLine(1n, Chain.GENESIS, chain.link(Chain.GENESIS, escData), escData)
    const [ok, old, esc] = await mapLimit(
      [written, copy("lone-old-writer.jsonl", oldLine), copy("lone-escape.jsonl", escLine)],
      3,
      (file) => calybris(["wal", "verify", file, "--key-file", keyFile])
    )
    assert.strictEqual(ok?.code, 0, ok?.stderr)
    assert.include(ok?.stdout, "2 entries")
    assert.strictEqual(old?.code, 1)
    // its bytes re-read as one key (the other repeated), whose canonical text hashes otherwise
    assert.include(old?.stderr, "WalChainBroken: WAL chain broken at sequence 1")
    assert.strictEqual(esc?.code, 1)
    // serde_json's words for a lone leading surrogate's escape followed by no low half
    assert.include(
      esc?.stderr,
      "WAL JSON error at line 1 column 140 (the line starts at byte offset 0): unexpected end of hex escape"
    )
  })
})
