/**
 * `calybris prescribe`, `explain` and `policy` through the real CLI: exact 64-bit round trips,
 * streamed batches in bounded memory, and bad input reported with file, line, field and value.
 */
import * as Decision from "@calybris/core/Decision"
import * as Digest from "@calybris/core/Digest"
import * as Input from "@calybris/core/Input"
import * as Json from "@calybris/core/Json"
import * as JsonSchema from "@calybris/core/JsonSchema"
import * as Kernel from "@calybris/core/Kernel"
import * as Policy from "@calybris/core/Policy"
import * as Verify from "@calybris/core/Verify"
import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as fs from "node:fs"
import * as path from "node:path"
import { calybris, mapLimit, tempDir, write } from "./support/cli.js"
import { inputLine, policyText } from "./support/fixtures.js"

const dir = tempDir("prescribe")
const policyFile = write(dir, "policy.json", policyText)
const policy = Either.getOrThrow(Either.flatMap(JsonSchema.decodeText(Policy.PolicySnapshot)(policyText), Policy.make))

/** What the library prints for an input line (the CLI must print exactly this). */
const expected = (line: string, shape: { trace: boolean; audit: boolean } = { trace: false, audit: false }) => {
  const input = Either.getOrThrow(JsonSchema.decodeText(Input.Input)(line))
  const { decision, trace } = Kernel.prescribeWithTrace(policy, input)
  if (!shape.trace && !shape.audit) return JsonSchema.encodeText(Decision.Decision)(decision)
  const members: Array<[string, Json.Json]> = [["decision", Schema.encodeSync(Decision.Decision)(decision)]]
  if (shape.trace) members.push(["trace", Schema.encodeSync(Decision.Trace)(trace)])
  if (shape.audit) {
    members.push(["audit", Schema.encodeSync(Verify.AuditBundle)(Verify.auditBundle(policy, input, decision))])
  }
  return Json.print(new Map(members))
}

const parse = (text: string): Json.Json => Either.getOrThrow(Json.parse(text))
const member = (json: Json.Json, ...keys: ReadonlyArray<string>): Json.Json | undefined =>
  keys.reduce<Json.Json | undefined>((v, k) => (v !== undefined && Json.isObject(v) ? v.get(k) : undefined), json)

describe("prescribe", () => {
  it("keeps u64/i64 values beyond 2^53 byte-exact through a round trip (one input, a batch on stdin)", async () => {
    const single = write(
      dir,
      "u64.json",
      inputLine({ request_sequence: "18446744073709551615", budget_limit_microunits: "18446744073709551615" })
    )
    const batch = [
      inputLine({ request_sequence: "9007199254740993", business_value_microunits: "9223372036854775807" }),
      "",
      inputLine({ request_sequence: "18446744073709551614", business_value_microunits: "-9223372036854775808" }),
      inputLine({ request_sequence: "9007199254740995", required_region_mask: "18446744073709551615" }),
      inputLine({ requested_model_id: "30", budget_limit_microunits: "9007199254740993" })
    ]
    const [one, many] = await Promise.all([
      calybris(["prescribe", "--policy", policyFile, "--input", single]),
      calybris(["prescribe", "--policy", policyFile, "--trace", "--audit"], { stdin: `${batch.join("\r\n")}\n` })
    ])
    assert.strictEqual(one.code, 0, one.stderr)
    assert.strictEqual(one.stdout, `${expected(fs.readFileSync(single, "utf8"))}\n`)
    assert.include(one.stdout, `"request_sequence":18446744073709551615,`)
    assert.include(one.stdout, `"policy_epoch":18446744073709551615,"catalog_epoch":9007199254740993}`)
    assert.strictEqual(many.code, 0, many.stderr)
    const lines = batch.filter((l) => l !== "").map((l) => expected(l, { trace: true, audit: true }))
    assert.strictEqual(many.stdout, `${lines.join("\n")}\n`)
    assert.include(many.stdout, `"request_sequence":9007199254740993,`)
    assert.include(many.stdout, `"request_sequence":18446744073709551614,`)
    const first = parse(lines[0] ?? "")
    assert.strictEqual(member(first, "audit", "policy_digest_hex"), Digest.policyDigest(policy))
    assert.strictEqual(member(first, "audit", "replay_valid"), true)
  })

  it("rejects bad input with exit 2, naming the file, the line, the field and the value", async () => {
    const badJson = write(dir, "bad-json.jsonl", [inputLine(), inputLine(), `{"request_sequence":1,}`, ""].join("\n"))
    const outOfRange = write(dir, "range.jsonl", [inputLine(), inputLine({ risk_bps: "70000" })].join("\n"))
    const beyondU64 = write(dir, "beyond.jsonl", inputLine({ budget_limit_microunits: "18446744073709551616" }))
    const negative = write(dir, "negative.json", inputLine({ input_tokens: "-1" }))
    const float = write(dir, "float.json", inputLine({ confidence_bps: "9000.5" }))
    const missing = write(dir, "missing.jsonl", `{"request_sequence":1}\n`)
    const invalidPolicy = write(
      dir,
      "invalid-policy.json",
      policyText.replace(`"hard_risk_limit_bps": 9600`, `"hard_risk_limit_bps": 10001`)
    )
    const nope = path.join(dir, "nope.jsonl")
    const withPolicy = (file: string) => (args: ReadonlyArray<string>) => ["prescribe", "--policy", file, ...args]
    const ours = withPolicy(policyFile)
    const [json, range, beyond, neg, flt, miss, policyMissing, inputsMissing, invalid, both, jsonMode] = await mapLimit(
      [
        ours(["--inputs", badJson]),
        ours(["--inputs", outOfRange]),
        ours(["--inputs", beyondU64]),
        ours(["--input", negative]),
        ours(["--input", float]),
        ours(["--inputs", missing]),
        withPolicy(path.join(dir, "no-policy.json"))(["--input", negative]),
        ours(["--inputs", nope]),
        withPolicy(invalidPolicy)(["--input", negative]),
        ours(["--input", negative, "--inputs", outOfRange]),
        ours(["--inputs", outOfRange, "--json"])
      ],
      4,
      (args) => calybris(args)
    )
    const check = (r: typeof json, ...parts: ReadonlyArray<string>) => {
      assert.strictEqual(r?.code, 2, r?.stderr)
      for (const p of parts) assert.include(r?.stderr, p)
    }
    check(json, `InputError: ${badJson} line 3 column 23: invalid JSON`)
    assert.strictEqual(json?.stdout.split("\n").length, 3, "the two good lines before the bad one are printed")
    // serde's typed decoding: its message, the line and column where it stopped, and the field
    check(range, `${outOfRange} line 2 column `, ": field risk_bps: invalid value: integer `70000`, expected u16")
    // 2^64 is the integer written (not "the float 18446744073709552000")
    check(
      beyond,
      `${beyondU64} line 1 column `,
      ": field budget_limit_microunits: invalid value: integer `18446744073709551616`, expected u64"
    )
    assert.notInclude(beyond?.stderr, "18446744073709552000")
    check(neg, `${negative} line 1 column 63: field input_tokens: invalid value: integer \`-1\`, expected u32`)
    check(flt, `${float} line 1 column `, ": field confidence_bps: invalid type: floating point `9000.5`, expected u16")
    check(miss, `${missing} line 1 column 22: field requested_model_id: missing field \`requested_model_id\``)
    check(policyMissing, `${path.join(dir, "no-policy.json")}: no such file`)
    check(inputsMissing, `${nope}: no such file`)
    check(invalid, "invalid policy (OutOfRangeBps): hard_risk_limit_bps must be <= 10000, got 10001")
    check(both, "UsageError: give --input or --inputs, not both")
    assert.strictEqual(jsonMode?.code, 2)
    const error = member(parse(jsonMode?.stderr.trim() ?? ""), "error")
    assert.strictEqual(member(error ?? null, "_tag"), "InputError")
    assert.strictEqual(member(error ?? null, "line"), 2)
    assert.strictEqual(member(error ?? null, "field"), "risk_bps")
    assert.strictEqual(member(error ?? null, "exit_code"), 2)
  })

  it("streams 100,000 inputs in bounded memory", async () => {
    const count = 100_000
    const file = path.join(dir, "batch.jsonl")
    const fd = fs.openSync(file, "w")
    let chunk = ""
    for (let i = 0; i < count; i++) {
      chunk += `${
        inputLine({
          request_sequence: String(9_007_199_254_740_993n + BigInt(i)),
          requested_model_id: String([10, 20, 30][i % 3]),
          input_tokens: String(1 + (i * 7919) % 5000),
          business_value_microunits: String((i * 104_729) % 200_000_000),
          budget_limit_microunits: String((i * 31) % 50_000),
          risk_bps: String((i * 13) % 10_000),
          confidence_bps: String(5000 + (i * 17) % 5001)
        })
      }\n`
      if (chunk.length > 1 << 20) {
        fs.writeSync(fd, chunk)
        chunk = ""
      }
    }
    fs.writeSync(fd, chunk)
    fs.closeSync(fd)
    const out = path.join(dir, "batch.out.jsonl")
    // A heap capped at 128 MiB: holding every input and decision at once needs ~200 MiB of heap
    // (measured), so this run only succeeds if the CLI streams. Peak RSS includes tsx and Effect.
    const r = await calybris(["prescribe", "--policy", policyFile, "--inputs", file], {
      node: ["--max-old-space-size=128"],
      stdoutFile: out,
      measure: true
    })
    assert.strictEqual(r.code, 0, r.stderr)
    const lines = fs.readFileSync(out, "utf8").split("\n")
    assert.strictEqual(lines.pop(), "")
    assert.strictEqual(lines.length, count)
    const inputs = fs.readFileSync(file, "utf8").split("\n")
    for (const i of [0, 1, 2, 4_999, 77_777, count - 1]) assert.strictEqual(lines[i], expected(inputs[i] ?? ""))
    assert.isDefined(r.maxRssKb)
    assert.isBelow(r.maxRssKb ?? Infinity, 300 * 1024, `peak RSS ${r.maxRssKb} KiB`)
  })
})

describe("explain", () => {
  it("tells the winner, the runner-up and the tie-break; a reject's dominant reason; and JSON", async () => {
    const substitute = write(dir, "explain-1.json", inputLine())
    const reject = write(
      dir,
      "explain-2.json",
      inputLine({ budget_limit_microunits: "100", minimum_quality_bps: "8000" })
    )
    const [text, json, rejected] = await mapLimit(
      [["--input", substitute], ["--input", substitute, "--json"], ["--input", reject]],
      3,
      (args) => calybris(["explain", "--policy", policyFile, ...args])
    )
    assert.strictEqual(text?.code, 0, text?.stderr)
    assert.include(text?.stdout, "decision: Substitute — model 30 (index 2), alternative_maximizes_utility")
    assert.include(text?.stdout, "runner-up: model 20")
    assert.include(text?.stdout, "why: model 30 beat model 20 on utility (77,489,100 vs 73,895,400)")
    assert.include(text?.stdout, "the requested model 20 ranked 2")
    assert.strictEqual(json?.code, 0, json?.stderr)
    const explained = parse(json?.stdout ?? "")
    assert.strictEqual(member(explained, "winner"), 30)
    assert.strictEqual(member(explained, "runner_up"), 20)
    assert.strictEqual(member(explained, "tie_break"), "utility")
    assert.strictEqual(member(explained, "decision", "catalog_epoch"), 9_007_199_254_740_993n)
    assert.strictEqual(rejected?.code, 0, rejected?.stderr)
    assert.include(rejected?.stdout, "failed quality: quality 7500 bps < minimum 8000 bps")
    assert.include(rejected?.stdout, "failed budget: cost 4,000 > budget 100")
    assert.include(rejected?.stdout, "decision: Reject — BudgetConstraint (budget_constraint)")
    assert.include(rejected?.stdout, "dominant reason: 2 of 3 models failed (quality 1, budget 2)")
  })
})

describe("duplicate keys", () => {
  it("a repeated field in a policy or an input file is refused as serde refuses it (exit 2, the field, line and column)", async () => {
    const dupPolicy = write(
      dir,
      "dup-epoch.json",
      policyText.replace(`"catalog_epoch"`, `"policy_epoch": 1, "catalog_epoch"`)
    )
    const dupModel = write(
      dir,
      "dup-model.json",
      policyText.replace(`"provider_id": 1,`, `"provider_id": 1, "provider_id": 9,`)
    )
    const dupText = inputLine().replace(`"risk_bps"`, `"risk_bps":5,"risk_bps"`)
    const dupInput = write(dir, "dup-input.json", dupText)
    const dupLines = write(dir, "dup-inputs.jsonl", [inputLine(), dupText].join("\n"))
    const [validate, digest, prescribeDup, model, input, lines] = await mapLimit(
      [
        ["policy", "validate", dupPolicy],
        ["policy", "digest", dupPolicy],
        ["prescribe", "--policy", dupPolicy, "--input", dupInput],
        ["policy", "digest", dupModel],
        ["prescribe", "--policy", policyFile, "--input", dupInput],
        ["prescribe", "--policy", policyFile, "--inputs", dupLines]
      ],
      3,
      (args) => calybris(args)
    )
    const check = (r: typeof validate, ...parts: ReadonlyArray<string>) => {
      assert.strictEqual(r?.code, 2, r?.stderr)
      for (const p of parts) assert.include(r?.stderr, p)
    }
    const epoch = `${dupPolicy} line 2 column 54: field policy_epoch: duplicate field \`policy_epoch\``
    check(validate, epoch)
    check(digest, epoch)
    check(prescribeDup, epoch)
    check(model, `${dupModel} line 9 column 52: field models[1].provider_id: duplicate field \`provider_id\``)
    check(input, `${dupInput} line 1 column 182: field risk_bps: duplicate field \`risk_bps\``)
    check(lines, `${dupLines} line 2 column 182: field risk_bps: duplicate field \`risk_bps\``)
    assert.strictEqual(lines?.stdout.split("\n").length, 2, "the good line before the bad one is printed")
  })
})

describe("bounded echo", () => {
  it("a huge line that is not an input object is named by a short excerpt, not echoed whole", async () => {
    const huge = write(
      dir,
      "huge.jsonl",
      [inputLine(), `"${"x".repeat(3_000_000)}"`, `[${"1,".repeat(1_000_000)}1]`].join("\n")
    )
    const hugeArray = write(dir, "huge-array.jsonl", `[${"1,".repeat(1_000_000)}1]\n`)
    const [r, a] = await mapLimit(
      [huge, hugeArray],
      2,
      (file) => calybris(["prescribe", "--policy", policyFile, "--inputs", file])
    )
    assert.strictEqual(r?.code, 2)
    assert.isBelow(r?.stderr.length ?? Infinity, 400)
    assert.include(
      r?.stderr,
      `${huge} line 2 column 3000002: invalid type: string "${"x".repeat(80)}…", expected struct KernelInput`
    )
    assert.strictEqual(a?.code, 2)
    assert.isBelow(a?.stderr.length ?? Infinity, 400)
  })
})

describe("byte order mark", () => {
  it("a BOM at the start of a policy or an input line is named as such (exit 2)", async () => {
    const bomPolicy = write(dir, "bom-policy.json", `\uFEFF${policyText}`)
    const bomLines = write(dir, "bom-inputs.jsonl", `\uFEFF${inputLine()}\n`)
    const [p, l] = await mapLimit(
      [["policy", "validate", bomPolicy], ["prescribe", "--policy", policyFile, "--inputs", bomLines]],
      2,
      (args) => calybris(args)
    )
    assert.strictEqual(p?.code, 2)
    assert.include(
      p?.stderr,
      `${bomPolicy} line 1 column 1: invalid JSON: expected value (a byte order mark (U+FEFF) at the start of the file)`
    )
    assert.strictEqual(l?.code, 2)
    assert.include(l?.stderr, "(a byte order mark (U+FEFF) at the start of line 1)")
  })
})

describe("policy", () => {
  it("validates as the reference does (exit 2 with its message) and prints the canonical digest", async () => {
    const invalid = write(dir, "dup.json", policyText.replace(`"model_id": 20`, `"model_id": 10`))
    const [ok, bad, digest, digestJson] = await mapLimit(
      [["validate", policyFile], ["validate", invalid], ["digest", policyFile], ["digest", policyFile, "--json"]],
      3,
      (args) => calybris(["policy", ...args])
    )
    assert.strictEqual(ok?.code, 0)
    assert.strictEqual(ok?.stdout, "ok\n")
    assert.strictEqual(bad?.code, 2)
    assert.strictEqual(bad?.stderr, "DuplicateModelId: duplicate model_id 10\n")
    assert.strictEqual(digest?.code, 0)
    assert.strictEqual(digest?.stdout, `${Digest.policyDigest(policy)}\n`)
    assert.strictEqual(member(parse(digestJson?.stdout ?? ""), "policy_digest_hex"), Digest.policyDigest(policy))
  })

  it("a catalog past 65,535 models is read as the reference reads it (validate, digest, prescribe): index and counts saturate", async () => {
    // 70,000 copies of the fixture's models under new ids: the last one requested
    const start = policyText.indexOf("[") + 1
    const models = policyText.slice(start, policyText.lastIndexOf("]")).trim().split(/,\s*(?=\{)/)
    const catalog = Array.from(
      { length: 70_000 },
      (_, i) => (models[i % models.length] as string).replace(/"model_id": \d+/, `"model_id": ${i + 1}`)
    )
    const bigText = `${policyText.slice(0, start)}\n${catalog.join(",\n")}\n]}\n`
    const big = write(dir, "big-policy.json", bigText)
    const bigPolicy = Either.getOrThrow(
      Either.flatMap(JsonSchema.decodeText(Policy.PolicySnapshot)(bigText), Policy.make)
    )
    const line = inputLine({ requested_model_id: "70000" })
    const [validated, digest, prescribed] = await mapLimit(
      [["policy", "validate", big], ["policy", "digest", big], ["prescribe", "--policy", big, "--trace"]],
      1,
      (args) => calybris(args, args[0] === "prescribe" ? { stdin: `${line}\n` } : {})
    )
    assert.strictEqual(validated?.code, 0, validated?.stderr)
    assert.strictEqual(digest?.code, 0, digest?.stderr)
    assert.strictEqual(digest?.stdout, `${Digest.policyDigest(bigPolicy)}\n`)
    assert.strictEqual(prescribed?.code, 0, prescribed?.stderr)
    const { decision, trace } = Kernel.prescribeWithTrace(
      bigPolicy,
      Either.getOrThrow(JsonSchema.decodeText(Input.Input)(line))
    )
    assert.strictEqual(decision.evaluated_models, 65_535)
    const printed = parse(prescribed?.stdout ?? "")
    assert.strictEqual(member(printed, "decision", "evaluated_models"), 65_535)
    assert.deepStrictEqual(
      printed,
      parse(Json.print(
        new Map<string, Json.Json>([
          ["decision", Schema.encodeSync(Decision.Decision)(decision)],
          ["trace", Schema.encodeSync(Decision.Trace)(trace)]
        ])
      ))
    )
  })
})
