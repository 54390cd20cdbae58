/**
 * `calybris log …` through the real CLI: keygen, checkpoint, prove, consistency and verify on a
 * keyed WAL written by the library; as an attacker too (wrong vkey, tampered checkpoint, proof
 * and log, a key on argv, the key never in stdout/stderr, missing files); and a real
 * sum.golang.org checkpoint (test/e2e/log-fixtures/sumdb-checkpoint.json, with its provenance)
 * verified with its published key.
 */
import * as Input from "@calybris/core/Input"
import * as Json from "@calybris/core/Json"
import * as JsonSchema from "@calybris/core/JsonSchema"
import * as Kernel from "@calybris/core/Kernel"
import * as Policy from "@calybris/core/Policy"
import * as Checkpoint from "@calybris/tlog/Checkpoint"
import * as Merkle from "@calybris/tlog/Merkle"
import * as Note from "@calybris/tlog/Note"
import * as Audited from "@calybris/wal/Audited"
import * as Wal from "@calybris/wal/Wal"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { calybris, mapLimit, tempDir, write } from "./support/cli.js"
import { inputLine, policyText } from "./support/fixtures.js"

const dir = tempDir("log")
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex")
const walKey = Uint8Array.from({ length: 32 }, (_, i) => (i * 37 + 11) & 0xff)
const walKeyFile = write(dir, "wal.key", `hex:${hex(walKey)}\n`)
const keyed = ["--key-file", walKeyFile]

const log = path.join(dir, "log.jsonl")
const appendN = (n: number, from: number) =>
  Effect.runPromise(
    Effect.gen(function*() {
      for (let i = from; i < from + n; i++) yield* Wal.append(new Map<string, Json.Json>([["n", i]]))
    }).pipe(Effect.provide(Wal.layerFile(log, { key: walKey })), Effect.provide(NodeContext.layer))
  )
await appendN(5, 1)

const parse = (text: string): Json.JsonObject => {
  const value = Either.getOrThrow(Json.parse(text))
  if (!Json.isObject(value)) throw new Error("not an object")
  return value
}

const skeyFile = path.join(dir, "log.skey")
const keygen = await calybris(["log", "keygen", "--name", "example.com/log", "--out", skeyFile])
const skey = fs.readFileSync(skeyFile, "utf8").trim()
const vkey = keygen.stdout.trim()
// base64(0x01 ‖ seed), after PRIVATE+KEY+name+keyid+ (base64 itself may hold "+")
const secretPart = skey.split("+").slice(4).join("+")

/** Neither the signer key nor its secret part appears in what the CLI printed. */
const noSecret = (r: { stdout: string; stderr: string }) => {
  assert.notInclude(r.stdout + r.stderr, secretPart)
  assert.notInclude(r.stdout + r.stderr, "PRIVATE+KEY")
}

/** A checkpoint of `file` signed with `skey` (more flags in `extra`), written to `name`. */
const checkpointAt = async (name: string, file = log, extra: ReadonlyArray<string> = [], skey = skeyFile) => {
  const r = await calybris(["log", "checkpoint", "--log", file, "--skey-file", skey, ...extra, ...keyed])
  assert.strictEqual(r.code, 0, r.stderr)
  noSecret(r)
  return write(dir, name, r.stdout)
}

const cp5 = await checkpointAt("cp5.note")
await appendN(4, 6)
const cp9 = await checkpointAt("cp9.note")
// an empty log, and its checkpoint: of the empty tree (any log extends it)
const emptyLog = write(dir, "empty.jsonl", "")
const cp0 = await checkpointAt("cp0.note", emptyLog)

describe("log keygen", () => {
  it("writes the signer key to a new file, mode 0600, and prints the verifier key only", async () => {
    assert.strictEqual(keygen.code, 0, keygen.stderr)
    assert.match(skey, /^PRIVATE\+KEY\+example\.com\/log\+[0-9a-f]{8}\+/)
    assert.match(vkey, /^example\.com\/log\+[0-9a-f]{8}\+[A-Za-z0-9+/]+=*$/)
    assert.strictEqual(fs.statSync(skeyFile).mode & 0o777, 0o600)
    noSecret(keygen)
  })

  it("refuses to overwrite an existing file, which stays as it was (bad usage, exit 2, as budget init)", async () => {
    const r = await calybris(["log", "keygen", "--name", "other", "--out", skeyFile])
    assert.strictEqual(r.code, 2, r.stderr)
    assert.match(r.stderr, /^UsageError: --out .*: already exists: refusing to replace it\n$/)
    assert.strictEqual(fs.readFileSync(skeyFile, "utf8").trim(), skey)
    assert.strictEqual(r.stdout, "")
  })

  it("log vkey prints the verifier key keygen printed, from the key file or a variable, never the signer key; without a key, bad usage", async () => {
    const fromFile = await calybris(["log", "vkey", "--skey-file", skeyFile])
    assert.strictEqual(fromFile.code, 0, fromFile.stderr)
    assert.strictEqual(fromFile.stdout, `${vkey}\n`)
    noSecret(fromFile)
    const fromEnv = await calybris(["log", "vkey", "--skey-env", "CALYBRIS_TEST_SKEY"], {
      env: { CALYBRIS_TEST_SKEY: skey }
    })
    assert.strictEqual(fromEnv.code, 0, fromEnv.stderr)
    assert.strictEqual(fromEnv.stdout, `${vkey}\n`)
    noSecret(fromEnv)
    const none = await calybris(["log", "vkey"])
    assert.strictEqual(none.code, 2, none.stderr)
    assert.strictEqual(none.stdout, "")
  })

  it("a temporary file a killed keygen left is named and refused, never taken or removed; once removed, the key is written (a hostile review)", async () => {
    const cwd = fs.mkdtempSync(path.join(dir, "keygen-leftover-"))
    // what a SIGKILL between the temporary file's write and its link leaves: a secret under the fixed name
    const leftover = path.join(cwd, ".k.skey.calybris-new")
    fs.writeFileSync(leftover, "PRIVATE+KEY+killed+00000000+AAAA\n", { mode: 0o600 })
    const r = await calybris(["log", "keygen", "--name", "other", "--out", "k.skey"], { cwd })
    assert.strictEqual(r.code, 2, r.stderr)
    assert.include(r.stderr, "the temporary file .k.skey.calybris-new is there")
    assert.include(r.stderr, "remove it, then run again")
    assert.strictEqual(r.stdout, "")
    assert.deepStrictEqual(fs.readdirSync(cwd), [".k.skey.calybris-new"])
    assert.strictEqual(fs.readFileSync(leftover, "utf8"), "PRIVATE+KEY+killed+00000000+AAAA\n")
    fs.rmSync(leftover)
    const again = await calybris(["log", "keygen", "--name", "other", "--out", "k.skey"], { cwd })
    assert.strictEqual(again.code, 0, again.stderr)
    assert.deepStrictEqual(fs.readdirSync(cwd), ["k.skey"])
    assert.strictEqual(fs.statSync(path.join(cwd, "k.skey")).nlink, 1)
  })

  it("refuses --out - (the key is never printed), and writes no file named -", async () => {
    const cwd = fs.mkdtempSync(path.join(dir, "keygen-dash-"))
    const r = await calybris(["log", "keygen", "--name", "other", "--out", "-"], { cwd })
    assert.strictEqual(r.code, 2, r.stderr)
    assert.strictEqual(r.stdout, "")
    assert.match(r.stderr, /--out -: the signer key is never printed/)
    assert.notInclude(r.stderr, "PRIVATE+KEY")
    assert.deepStrictEqual(fs.readdirSync(cwd), [])
  })

  it("the signer key's secret part alone, given where a path or a variable name goes, is refused unquoted (exit 2; a helper's hostile review: the error naming the file echoed it)", async () => {
    for (
      const args of [
        ["log", "verify", "--vkey", vkey, "--proof", secretPart],
        ["log", "checkpoint", "--log", log, "--skey-file", secretPart, ...keyed],
        ["log", "checkpoint", "--log", log, `--skey-env=${secretPart}`, ...keyed]
      ]
    ) {
      const r = await calybris(args)
      assert.strictEqual(r.code, 2, r.stderr)
      assert.include(r.stderr, "holds a key")
      assert.strictEqual(r.stdout, "")
      noSecret(r)
    }
  })

  it("refuses --out \"\" as bad usage (exit 2) before making a key, and leaves nothing behind", async () => {
    const cwd = fs.mkdtempSync(path.join(dir, "keygen-empty-"))
    const r = await calybris(["log", "keygen", "--name", "other", "--out", ""], { cwd })
    assert.strictEqual(r.code, 2, r.stderr)
    assert.strictEqual(r.stdout, "")
    assert.match(r.stderr, /--out "": an empty path/)
    assert.deepStrictEqual(fs.readdirSync(cwd), [])
  })

  it("an empty path to read is named as one, not left blank before the colon", async () => {
    const r = await calybris(["log", "verify", "--vkey", vkey, "--checkpoint", ""])
    assert.strictEqual(r.code, 2, r.stderr)
    assert.match(r.stderr, /"" \(an empty path\): /)
  })
})

describe("log checkpoint", () => {
  it("signs the verified head as a C2SP checkpoint", () => {
    const text = fs.readFileSync(cp5, "utf8")
    const [origin, size, root] = text.split("\n")
    assert.strictEqual(origin, "example.com/log")
    assert.strictEqual(size, "5")
    assert.match(root ?? "", /^[A-Za-z0-9+/]{43}=$/)
    assert.include(text, "\n\n\u2014 example.com/log ")
  })

  it("reads the signer key from an environment variable", async () => {
    const r = await calybris(["log", "checkpoint", "--log", log, "--skey-env", "LOG_SKEY", ...keyed], {
      env: { LOG_SKEY: skey }
    })
    assert.strictEqual(r.code, 0, r.stderr)
    assert.strictEqual(r.stdout, fs.readFileSync(cp9, "utf8"))
    noSecret(r)
  })

  it("refuses a key given on argv, without echoing it", async () => {
    for (const args of [["--skey", skey], ["--skey-file", skey]]) {
      const r = await calybris(["log", "checkpoint", "--log", log, ...args, ...keyed])
      assert.strictEqual(r.code, 2, r.stderr)
      noSecret(r)
    }
  })

  it("a missing or bad key file: exit 2 naming the source, never a key", async () => {
    const missing = await calybris(["log", "checkpoint", "--log", log, "--skey-file", path.join(dir, "nope"), ...keyed])
    assert.strictEqual(missing.code, 2)
    assert.include(missing.stderr, "--skey-file")
    const directory = await calybris(["log", "checkpoint", "--log", log, "--skey-file", dir, ...keyed])
    assert.strictEqual(directory.code, 2)
    const unset = await calybris([
      "log",
      "checkpoint",
      "--log",
      log,
      "--skey-env",
      "CALYBRIS_TEST_UNSET_SKEY",
      ...keyed
    ])
    assert.strictEqual(unset.code, 2)
    assert.include(unset.stderr, "--skey-env CALYBRIS_TEST_UNSET_SKEY")
    const bad = write(dir, "bad.skey", skey.slice(0, -4) + "AAAA")
    const r = await calybris(["log", "checkpoint", "--log", log, "--skey-file", bad, ...keyed])
    assert.strictEqual(r.code, 2)
    noSecret(r)
  })

  it("a signer key file far larger than a key is refused before it is read, exit 2 naming it (a helper's hostile review: a 600 MB sparse file was read whole and failed as a Defect)", async () => {
    const big = path.join(dir, "big.skey")
    fs.writeFileSync(big, skey + "\n")
    fs.truncateSync(big, 600 * 1024 * 1024)
    const r = await calybris(["log", "checkpoint", "--log", log, "--skey-file", big, ...keyed])
    fs.rmSync(big)
    assert.strictEqual(r.code, 2, r.stderr)
    assert.include(r.stderr, `--skey-file ${big}`)
    assert.include(r.stderr, "too large")
    assert.notInclude(r.stderr, "Defect")
    noSecret(r)
  })

  it("a tampered log is refused (no checkpoint of a log that does not verify)", async () => {
    const text = fs.readFileSync(log, "utf8").replace("\"n\":3", "\"n\":33")
    const tampered = write(dir, "tampered.jsonl", text)
    const r = await calybris(["log", "checkpoint", "--log", tampered, "--skey-file", skeyFile, ...keyed])
    assert.strictEqual(r.code, 1)
    assert.strictEqual(r.stdout, "")
  })

  it("a log that does not extend the checkpoint published beside it (<log>.tlog/checkpoint) is never signed: rolled back, rewritten, or the file unreadable", async () => {
    // a log of 9 entries whose tree log published the checkpoint of size 9 (the same bytes as cp9)
    const published = path.join(dir, "published.jsonl")
    fs.copyFileSync(log, published)
    fs.mkdirSync(`${published}.tlog`)
    const place = `${published}.tlog/checkpoint`
    fs.copyFileSync(cp9, place)
    const sign = () => calybris(["log", "checkpoint", "--log", published, "--skey-file", skeyFile, ...keyed])
    const extending = await sign()
    assert.strictEqual(extending.code, 0, extending.stderr)
    // rolled back to 3 entries, then grown with other ones past 9 (as a plain WAL writer would)
    const lines = fs.readFileSync(log, "utf8").split("\n").slice(0, 3)
    fs.writeFileSync(published, `${lines.join("\n")}\n`)
    const short = await sign()
    assert.strictEqual(short.code, 1, short.stderr)
    assert.include(short.stderr, "fewer than the 9 of the checkpoint published")
    await Effect.runPromise(
      Effect.gen(function*() {
        for (let i = 0; i < 10; i++) yield* Wal.append(new Map<string, Json.Json>([["other", i]]))
      }).pipe(Effect.provide(Wal.layerFile(published, { key: walKey })), Effect.provide(NodeContext.layer))
    )
    const forked = await sign()
    assert.strictEqual(forked.code, 1, forked.stderr)
    assert.include(forked.stderr, "its root at size 9 is not the root of the checkpoint published")
    assert.strictEqual(forked.stdout, "")
    // the published checkpoint's place holding junk, or a link to nothing: nothing is signed either
    fs.writeFileSync(place, "junk\n")
    const junk = await sign()
    assert.strictEqual(junk.code, 1, junk.stderr)
    assert.include(junk.stderr, "is not a signed checkpoint")
    fs.rmSync(place)
    fs.symlinkSync(`${dir}/nowhere`, place)
    const dangling = await sign()
    assert.strictEqual(dangling.code, 1, dangling.stderr)
    assert.include(dangling.stderr, "cannot be read")
    // gone: the log is signed (nothing published to contradict)
    fs.rmSync(place)
    assert.strictEqual((await sign()).code, 0)
  })

  it("--previous CP: the log must extend the checkpoint signed before (no tree log publishing beside it): a log rolled back, or rolled back and grown again, is not signed; CP of another origin or not a checkpoint is bad input (a helper's hostile review: the same key signed two roots at one size)", async () => {
    const own = path.join(dir, "previous.jsonl")
    fs.copyFileSync(log, own)
    const sign = (...extra: ReadonlyArray<string>) =>
      calybris(["log", "checkpoint", "--log", own, "--skey-file", skeyFile, ...keyed, ...extra])
    const extending = await sign("--previous", cp5)
    assert.strictEqual(extending.code, 0, extending.stderr)
    assert.strictEqual(extending.stdout, fs.readFileSync(cp9, "utf8"))
    // rolled back to 3 entries
    fs.writeFileSync(own, `${fs.readFileSync(log, "utf8").split("\n").slice(0, 3).join("\n")}\n`)
    const short = await sign("--previous", cp9)
    assert.strictEqual(short.code, 1, short.stderr)
    assert.include(short.stderr, "it holds 3 entries, fewer than the 9 of --previous")
    assert.strictEqual(short.stdout, "")
    // and grown again past 9 with other entries: without --previous it is signed (nothing to
    // compare with), with it refused
    await Effect.runPromise(
      Effect.gen(function*() {
        for (let i = 0; i < 7; i++) yield* Wal.append(new Map<string, Json.Json>([["other", i]]))
      }).pipe(Effect.provide(Wal.layerFile(own, { key: walKey })), Effect.provide(NodeContext.layer))
    )
    assert.strictEqual((await sign()).code, 0)
    const forked = await sign("--previous", cp9)
    assert.strictEqual(forked.code, 1, forked.stderr)
    assert.include(forked.stderr, "its root at size 9 is not the root of --previous")
    assert.strictEqual(forked.stdout, "")
    // the previous checkpoint of another origin, or no checkpoint at all (the signer key: never quoted)
    for (
      const [extra, reason] of [
        [["--previous", cp9, "--origin", "example.com/other"], "a checkpoint of origin"],
        [["--previous", skeyFile], "not a signed checkpoint"],
        [["--previous", path.join(dir, "nowhere.note")], "no such file"]
      ] as const
    ) {
      const r = await sign(...extra)
      assert.strictEqual(r.code, 2, r.stderr)
      assert.include(r.stderr, reason)
      assert.strictEqual(r.stdout, "")
      noSecret(r)
    }
  })

  it("the published checkpoint is found whatever name reaches the log: a symbolic link, a dir/.. spelling; a hard link is refused (a hostile review: another name skipped the check)", async () => {
    const home = path.join(dir, "named")
    fs.mkdirSync(home)
    const real = path.join(home, "real.jsonl")
    // rolled back: 3 entries, under the checkpoint of size 9 its tree log published
    fs.writeFileSync(real, `${fs.readFileSync(log, "utf8").split("\n").slice(0, 3).join("\n")}\n`)
    fs.mkdirSync(`${real}.tlog`)
    fs.copyFileSync(cp9, `${real}.tlog/checkpoint`)
    const linked = path.join(home, "link.jsonl")
    fs.symlinkSync("real.jsonl", linked)
    const elsewhere = path.join(dir, "elsewhere.jsonl")
    fs.symlinkSync(real, elsewhere)
    const hard = path.join(home, "hard.jsonl")
    fs.linkSync(real, hard)
    const sign = (name: string) => calybris(["log", "checkpoint", "--log", name, "--skey-file", skeyFile, ...keyed])
    for (const name of [real, linked, elsewhere, path.join(home, "..", "named", "real.jsonl")]) {
      const r = await sign(name)
      assert.strictEqual(r.code, 1, `${name}: ${r.stdout}${r.stderr}`)
      assert.include(r.stderr, "fewer than the 9 of the checkpoint published", name)
      assert.strictEqual(r.stdout, "", name)
    }
    const viaHard = await sign(hard)
    assert.strictEqual(viaHard.code, 1, viaHard.stdout + viaHard.stderr)
    assert.include(viaHard.stderr, "the file has 2 names (hard links) and no checkpoint is published beside this one")
    assert.strictEqual(viaHard.stdout, "")
    // the other name gone: a file of one name with nothing published beside it is signed
    fs.rmSync(real)
    const alone = await sign(hard)
    assert.strictEqual(alone.code, 0, alone.stderr)
  })
})

describe("log verify --checkpoint", () => {
  it("verifies with the log's verifier key", async () => {
    const r = await calybris(["log", "verify", "--vkey", vkey, "--checkpoint", cp9, "--json"])
    assert.strictEqual(r.code, 0, r.stderr)
    const out = parse(r.stdout)
    assert.strictEqual(out.get("ok"), true)
  })

  it("a wrong vkey or a tampered checkpoint fails (exit 1)", async () => {
    const other = path.join(dir, "other.skey")
    const otherVkey = (await calybris(["log", "keygen", "--name", "example.com/log", "--out", other])).stdout.trim()
    const wrong = await calybris(["log", "verify", "--vkey", otherVkey, "--checkpoint", cp9])
    assert.strictEqual(wrong.code, 1)
    const tampered = write(dir, "tampered.note", fs.readFileSync(cp9, "utf8").replace("\n9\n", "\n8\n"))
    const r = await calybris(["log", "verify", "--vkey", vkey, "--checkpoint", tampered])
    assert.strictEqual(r.code, 1)
  })

  it("--origin binds the checkpoint and a proof's checkpoints to one log: another log's, signed by the same key, fails (exit 1); a bad origin is bad usage (a helper's review)", async () => {
    // another log, its checkpoint signed by the same key under another origin
    const other = write(
      dir,
      "other-origin.jsonl",
      fs.readFileSync(log, "utf8").split("\n").slice(0, 3).join("\n") + "\n"
    )
    const otherCp = await checkpointAt("other-origin.note", other, ["--origin", "example.com/other"])
    const proved = await calybris(["log", "prove", "2", "--log", other, "--checkpoint", otherCp, ...keyed])
    assert.strictEqual(proved.code, 0, proved.stderr)
    const otherProof = write(dir, "other-origin.json", proved.stdout)
    // without --origin, the key alone: both pass (the key signs both logs)
    for (const given of [["--checkpoint", otherCp], ["--proof", otherProof]]) {
      const r = await calybris(["log", "verify", "--vkey", vkey, ...given])
      assert.strictEqual(r.code, 0, r.stderr)
      const bound = await calybris(["log", "verify", "--vkey", vkey, "--origin", "example.com/log", ...given])
      assert.strictEqual(bound.code, 1, bound.stderr)
      assert.include(bound.stdout + bound.stderr, `checkpoint origin \"example.com/other\" is not \"example.com/log\"`)
    }
    const own = await calybris(["log", "verify", "--vkey", vkey, "--origin", "example.com/log", "--checkpoint", cp9])
    assert.strictEqual(own.code, 0, own.stderr)
    for (const origin of ["", "example.com/log\n9"]) {
      const r = await calybris(["log", "verify", "--vkey", vkey, "--origin", origin, "--checkpoint", cp9])
      assert.strictEqual(r.code, 2, r.stderr)
      assert.include(r.stderr, "--origin")
    }
  })

  it("a missing checkpoint file: exit 2", async () => {
    const r = await calybris(["log", "verify", "--vkey", vkey, "--checkpoint", path.join(dir, "none.note")])
    assert.strictEqual(r.code, 2)
  })

  it("a real sum.golang.org checkpoint verifies with its published key", async () => {
    const fixture = parse(
      fs.readFileSync(path.join(import.meta.dirname, "log-fixtures", "sumdb-checkpoint.json"), "utf8")
    )
    const note = write(dir, "sumdb.note", fixture.get("note") as string)
    const r = await calybris(["log", "verify", "--vkey", fixture.get("vkey") as string, "--checkpoint", note])
    assert.strictEqual(r.code, 0, r.stderr)
    assert.include(r.stdout, "\"go.sum database tree\" size 30055305")
    assert.include(r.stdout, "sum.golang.org+033de0ae")
    const tampered = write(dir, "sumdb-tampered.note", (fixture.get("note") as string).replace("30055305", "30055306"))
    const bad = await calybris(["log", "verify", "--vkey", fixture.get("vkey") as string, "--checkpoint", tampered])
    assert.strictEqual(bad.code, 1)
  })
})

describe("log verify: witnesses (repeated --vkey)", () => {
  it("every key given must have signed: a second Ed25519 key (the kind log keygen makes) is required too, so a note signed by it alone is refused (a helper's review)", async () => {
    const witnessSkey = path.join(dir, "witness-ed.skey")
    const witness = await calybris(["log", "keygen", "--name", "witness.example", "--out", witnessSkey])
    assert.strictEqual(witness.code, 0, witness.stderr)
    const witnessVkey = witness.stdout.trim()
    // the log's checkpoint, which the second key never signed
    const unsigned = await calybris(["log", "verify", "--vkey", vkey, "--vkey", witnessVkey, "--checkpoint", cp9])
    assert.strictEqual(unsigned.code, 1, unsigned.stderr)
    assert.include(unsigned.stderr, "--vkey #2 (witness.example+")
    assert.include(unsigned.stderr, "did not sign it")
    // a note over the log's origin signed by the second key alone: refused, the log's key did not sign it
    const forgedNote = await checkpointAt("forged-by-witness.note", log, ["--origin", "example.com/log"], witnessSkey)

    const accepted = await calybris([
      "log",
      "verify",
      "--vkey",
      vkey,
      "--vkey",
      witnessVkey,
      "--checkpoint",
      forgedNote
    ])
    assert.strictEqual(accepted.code, 1, accepted.stderr)
    assert.include(accepted.stderr, "--vkey #1 (example.com/log+")
    // each key alone verifies what it signed
    assert.strictEqual((await calybris(["log", "verify", "--vkey", vkey, "--checkpoint", cp9])).code, 0)
    assert.strictEqual((await calybris(["log", "verify", "--vkey", witnessVkey, "--checkpoint", forgedNote])).code, 0)
  })

  it("a real witnessed checkpoint: the log signature and the witness's cosignature verify, with its timestamp", async () => {
    const fixture = parse(
      fs.readFileSync(path.join(import.meta.dirname, "log-fixtures", "staging-ct-witnessed-checkpoint.json"), "utf8")
    )
    const note = write(dir, "staging-ct.note", fixture.get("note") as string)
    const vkeys = (fixture.get("vkeys") as Array<string>).flatMap((k) => ["--vkey", k])
    const r = await calybris(["log", "verify", ...vkeys, "--checkpoint", note, "--json"])
    assert.strictEqual(r.code, 0, r.stderr)
    const cp = parse(r.stdout).get("checkpoint") as Json.JsonObject
    assert.deepStrictEqual(cp.get("signers"), ["arche2025h1.staging.ct.transparency.dev+ba2f06c0"])
    const cosignatures = cp.get("cosignatures") as Array<Json.JsonObject>
    assert.strictEqual(cosignatures.length, 1)
    assert.strictEqual(cosignatures[0]?.get("key"), "remora.n621.de+da77ade7")
    assert.strictEqual(cosignatures[0]?.get("timestamp"), 1779573024)
    // the witness's key alone is not the log's: no log signature, exit 1
    const witnessOnly = await calybris(["log", "verify", "--vkey", vkeys[3] as string, "--checkpoint", note])
    assert.strictEqual(witnessOnly.code, 1)
  })

  it("a witness key given must have cosigned: the note with its cosignature line stripped fails (exit 1), naming the witness", async () => {
    const fixture = parse(
      fs.readFileSync(path.join(import.meta.dirname, "log-fixtures", "staging-ct-witnessed-checkpoint.json"), "utf8")
    )
    const text = fixture.get("note") as string
    const stripped = write(
      dir,
      "staging-ct-stripped.note",
      text.split("\n").filter((line) => !line.startsWith("\u2014 remora.n621.de ")).join("\n")
    )
    assert.notStrictEqual(fs.readFileSync(stripped, "utf8"), text)
    const vkeys = (fixture.get("vkeys") as Array<string>).flatMap((k) => ["--vkey", k])
    const r = await calybris(["log", "verify", ...vkeys, "--checkpoint", stripped])
    assert.strictEqual(r.code, 1, r.stdout)
    assert.include(r.stderr, "remora.n621.de+da77ade7")
    // the log's key alone: it verifies, and the lines of keys not given are listed as not checked
    const logOnly = await calybris(["log", "verify", "--vkey", vkeys[1] as string, "--checkpoint", stripped, "--json"])
    assert.strictEqual(logOnly.code, 0, logOnly.stderr)
    const unverified = (parse(logOnly.stdout).get("checkpoint") as Json.JsonObject).get("unverified") as Array<string>
    assert.isAbove(unverified.length, 0)
    const full = await calybris([
      "log",
      "verify",
      "--vkey",
      vkeys[1] as string,
      "--checkpoint",
      write(dir, "staging-ct-2.note", text)
    ])
    assert.include(full.stdout, "not checked (no key given): ")
    assert.include(full.stdout, "remora.n621.de+da77ade7")
  })
})

describe("log: a hostile review's attacks", () => {
  it("a signer key file given where a checkpoint goes is never echoed (a blank line before the key made it a signature line the error quoted)", async () => {
    const keyAsNote = write(dir, "key-as-note.note", `\n\n${skey}\n`)
    const runs = await mapLimit(
      [
        ["log", "verify", "--vkey", vkey, "--checkpoint", keyAsNote],
        ["log", "prove", "3", "--log", log, "--checkpoint", keyAsNote, ...keyed],
        ["log", "consistency", keyAsNote, cp9, "--log", log, ...keyed],
        ["log", "verify", "--vkey", vkey, "--checkpoint", keyAsNote, "--json"]
      ],
      4,
      (args) => calybris(args)
    )
    for (const r of runs) {
      assert.notStrictEqual(r?.code, 0, r?.stderr)
      assert.include(r?.stderr, "not-a-signature-line")
      noSecret({ stdout: r?.stdout ?? "", stderr: r?.stderr ?? "" })
      assert.notInclude(r?.stderr, skey.slice(0, 40))
    }
  })

  it("checkpoint --origin holding a newline (it would sign a size and root of its own) or empty: exit 2, nothing signed", async () => {
    for (const origin of [`example.com/log\n1000000\n${"A".repeat(43)}=`, ""]) {
      const r = await calybris([
        "log",
        "checkpoint",
        "--log",
        log,
        "--skey-file",
        skeyFile,
        "--origin",
        origin,
        ...keyed
      ])
      assert.strictEqual(r.code, 2, r.stderr)
      assert.strictEqual(r.stdout, "")
      assert.include(r.stderr, "--origin")
    }
  })

  it("a key name or an origin holding U+FFFD (what bytes that are not UTF-8 on a command line become) is bad usage, nothing written or signed: two origins were one (a hostile review)", async () => {
    const out = path.join(dir, "fffd.skey")
    const runs = await Promise.all([
      calybris(["log", "keygen", "--name", "a\uFFFD", "--out", out]),
      calybris(["log", "checkpoint", "--log", log, "--skey-file", skeyFile, "--origin", "log\uFFFD", ...keyed]),
      calybris(["log", "verify", "--vkey", vkey, "--origin", "example.com/log\uFFFD", "--checkpoint", cp5])
    ])
    for (const [r, flag] of runs.map((r, i) => [r, ["--name", "--origin", "--origin"][i]] as const)) {
      assert.strictEqual(r.code, 2, r.stderr)
      assert.strictEqual(r.stdout, "")
      assert.include(r.stderr, `UsageError: ${flag} `)
      assert.include(r.stderr, "holds U+FFFD, which is what bytes that are not UTF-8 on a command line become")
      noSecret(r)
    }
    assert.isFalse(fs.existsSync(out))
    // a signer key file that is not UTF-8 is refused, not read with U+FFFD in its name
    const notUtf8 = path.join(dir, "latin1.skey")
    fs.writeFileSync(
      notUtf8,
      Buffer.concat([Buffer.from(skey.slice(0, 12)), Buffer.from([0xff]), Buffer.from(skey.slice(12))])
    )
    const r = await calybris(["log", "checkpoint", "--log", log, "--skey-file", notUtf8, ...keyed])
    assert.strictEqual(r.code, 2, r.stderr)
    assert.include(r.stderr, `KeyError: --skey-file ${notUtf8}: the file is not UTF-8 text`)
    noSecret(r)
  })

  it("a key anywhere on the command line is refused first, by position, never echoed (signer keys and hex HMAC keys)", async () => {
    const walKeyText = `hex:${hex(walKey)}`
    const cases: ReadonlyArray<ReadonlyArray<string>> = [
      ["log", "checkpoint", "--log", log, "--skey-file", skeyFile, "--key-file", walKeyText],
      ["log", "checkpoint", skey, "--log", log, "--skey-file", skeyFile, ...keyed],
      ["log", "checkpoint", "--log", log, "--skey-file", skeyFile, "--origin", skey, ...keyed],
      ["wal", "verify", log, "--key-env", walKeyText],
      ["log", "checkpoint", "--log", log, "--skey-file", skeyFile, `--key-file=${walKeyText}`],
      ["log", "checkpoint", "--log", log, "--skey-file", skeyFile, `--origin=${walKeyText}`, ...keyed],
      ["log", "prove", walKeyText, "--log", log, ...keyed],
      // the key's hex alone where its file or variable goes (a hostile review: "--key-file
      // 0b30…: no such file" printed it whole)
      ["log", "prove", "2", "--log", log, "--key-file", hex(walKey)],
      ["wal", "verify", log, `--key-env=${hex(walKey)}`]
    ]
    for (const args of cases) {
      const r = await calybris([...args])
      assert.strictEqual(r.code, 2, `${args.join(" ")}: ${r.stderr}`)
      assert.strictEqual(r.stdout, "")
      assert.include(r.stderr, "holds a key")
      noSecret(r)
      assert.notInclude(r.stdout + r.stderr, hex(walKey))
    }
  })

  it("a line re-spelt without the key verifies as a WAL (the reference's rule) but is never signed or proved", async () => {
    const lines = fs.readFileSync(log, "utf8").split("\n")
    lines[2] = (lines[2] as string).replace("\"data\":{\"n\":3}", "\"data\":{\"n\":666,\"n\":3}")
    const edited = write(dir, "respelt.jsonl", lines.join("\n"))
    assert.notStrictEqual(fs.readFileSync(edited, "utf8"), fs.readFileSync(log, "utf8"))
    const walVerify = await calybris(["wal", "verify", edited, ...keyed])
    assert.strictEqual(walVerify.code, 0, walVerify.stderr)
    for (
      const args of [
        ["log", "checkpoint", "--log", edited, "--skey-file", skeyFile, ...keyed],
        ["log", "prove", "1", "--log", edited, ...keyed]
      ]
    ) {
      const r = await calybris(args)
      assert.strictEqual(r.code, 1, r.stderr)
      assert.strictEqual(r.stdout, "")
      assert.include(r.stderr, "entry 3 is not in its canonical form")
    }
  })
})

describe("log prove / consistency → verify --proof", () => {
  it("an inclusion proof at the checkpoint's size verifies; tampered, it fails", async () => {
    const r = await calybris(["log", "prove", "3", "--log", log, "--checkpoint", cp5, ...keyed])
    assert.strictEqual(r.code, 0, r.stderr)
    const proof = parse(r.stdout)
    assert.strictEqual(proof.get("index"), 2)
    assert.strictEqual(proof.get("tree_size"), 5)
    const file = write(dir, "incl.json", r.stdout)
    const ok = await calybris(["log", "verify", "--vkey", vkey, "--proof", file])
    assert.strictEqual(ok.code, 0, ok.stderr)
    const hashes = proof.get("proof") as Array<string>
    const flipped = (hashes[0] as string).replace(/^./, (c) => (c === "0" ? "1" : "0"))
    for (
      const text of [
        r.stdout.replace(hashes[0] as string, flipped),
        r.stdout.replace("\"index\":2", "\"index\":3"),
        r.stdout.replace("\"tree_size\":5", "\"tree_size\":9"),
        // fields the verification does not rest on, stated otherwise (a hostile review: passed)
        r.stdout.replace("\"seq\":3", "\"seq\":99"),
        r.stdout.replace(proof.get("root") as string, "0".repeat(64))
      ]
    ) {
      const bad = await calybris(["log", "verify", "--vkey", vkey, "--proof", write(dir, "bad.json", text)])
      assert.strictEqual(bad.code, 1, text)
    }
  })

  it("with --checkpoint, the proof file's own checkpoint must name the same log, size and root (a hostile review: a forged one rode along, ok); another signing of that head verifies", async () => {
    // the proof made against cp9 carries cp9; verified against cp9 given, it passes
    const r = await calybris(["log", "prove", "3", "--log", log, "--checkpoint", cp9, ...keyed])
    assert.strictEqual(r.code, 0, r.stderr)
    const own = write(dir, "own-cp.json", r.stdout)
    assert.strictEqual((await calybris(["log", "verify", "--vkey", vkey, "--checkpoint", cp9, "--proof", own])).code, 0)
    const proof = parse(r.stdout)
    const carried = proof.get("checkpoint") as string
    const cases: ReadonlyArray<readonly [string, string, number]> = [
      // another signed checkpoint of the same log (size 5): verified, but not the one given
      ["another size", fs.readFileSync(cp5, "utf8"), 1],
      // a forged note (no signature verifies)
      ["forged", carried.replace(/\n9\n/, "\n99\n"), 1]
    ]
    /** `log verify` against cp9 of the proof with its own checkpoint member spelled `member`. */
    const verifyCarrying = (member: string) => {
      const text = r.stdout.replace(JSON.stringify(carried), member)
      assert.notStrictEqual(text, r.stdout, member)
      return calybris([
        "log",
        "verify",
        "--vkey",
        vkey,
        "--checkpoint",
        cp9,
        "--proof",
        write(dir, "own-bad.json", text)
      ])
    }
    for (const [name, note, code] of cases) {
      const bad = await verifyCarrying(JSON.stringify(note))
      assert.strictEqual(bad.code, code, `${name}: ${bad.stderr}`)
      assert.strictEqual(bad.stdout, "", name)
    }
    // the same head signed again by another key (a witness, say), or the carried one cosigned
    // later: the same log, size and root, so the proof verifies against it (the review of this
    // check refused those: it asked every --vkey to have signed the file's own)
    const witnessFile = path.join(dir, "own-witness.skey")
    const witnessKey = (await calybris(["log", "keygen", "--name", "witness.example", "--out", witnessFile])).stdout
      .trim()
    const signed = await calybris([
      "log",
      "checkpoint",
      "--log",
      log,
      "--skey-file",
      witnessFile,
      "--origin",
      "example.com/log",
      ...keyed
    ])
    assert.strictEqual(signed.code, 0, signed.stderr)
    const witnessed = write(dir, "own-witnessed.note", signed.stdout)
    const cosigned = write(dir, "own-cosigned.note", `${carried}${signed.stdout.trimEnd().split("\n").at(-1)}\n`)
    for (
      const [note, keys] of [[witnessed, ["--vkey", witnessKey]], [cosigned, [
        "--vkey",
        vkey,
        "--vkey",
        witnessKey
      ]]] as const
    ) {
      const r2 = await calybris(["log", "verify", ...keys, "--checkpoint", note, "--proof", own])
      assert.strictEqual(r2.code, 0, `${note}: ${r2.stderr}`)
    }
    // not a string at all: bad input (exit 2), as any malformed member
    const nonString = await verifyCarrying("12345")
    assert.strictEqual(nonString.code, 2, nonString.stderr)
  })

  it("a verified checkpoint's text escapes what a terminal acts on: a key name on a signature line anyone can append (a hostile review)", async () => {
    const note = fs.readFileSync(cp9, "utf8")
    const name = "ok\u009b2J\u202Eevil\u007f"
    const appended = write(
      dir,
      "cp9-appended.note",
      `${note}\u2014 ${name} ${Buffer.from("AAAAAAAAAA").toString("base64")}\n`
    )
    const r = await calybris(["log", "verify", "--vkey", vkey, "--checkpoint", appended])
    assert.strictEqual(r.code, 0, r.stderr)
    assert.include(r.stdout, "not checked (no key given): ok\\u009b2J\\u202eevil\\u007f")
    assert.notMatch(r.stdout, /[\u007f-\u009f\u202a-\u202e]/)
  })

  it("a proof file read two ways is refused: a repeated key (exit 2, whichever value comes first); more hashes than any proof; too large", async () => {
    const r = await calybris(["log", "prove", "3", "--log", log, "--checkpoint", cp5, ...keyed])
    assert.strictEqual(r.code, 0, r.stderr)
    const cases = [
      r.stdout.replace("\"type\":\"inclusion\",", "\"type\":\"inclusion\",\"index\":7,"),
      r.stdout.replace("\"type\":\"inclusion\",", "\"type\":\"consistency\",\"type\":\"inclusion\","),
      r.stdout.replace(/"proof":\[[^\]]*\]/, `"proof":[${Array(131).fill(`"${"ab".repeat(32)}"`).join(",")}]`)
    ]
    for (const text of cases) {
      assert.notStrictEqual(text, r.stdout)
      const bad = await calybris(["log", "verify", "--vkey", vkey, "--proof", write(dir, "twice.json", text)])
      assert.strictEqual(bad.code, 2, `${text}: ${bad.stderr}`)
    }
    // 2^64 is read as a float: the message says so rather than show 1.8446744073709552e+19 as if written
    const beyond = await calybris([
      "log",
      "verify",
      "--vkey",
      vkey,
      "--proof",
      write(dir, "beyond.json", r.stdout.replace("\"index\":2", "\"index\":18446744073709551616"))
    ])
    assert.strictEqual(beyond.code, 2, beyond.stderr)
    assert.include(beyond.stderr, "index")
    assert.include(beyond.stderr, "read as a float")
    const large = write(dir, "large.json", r.stdout.replace("{", `{"pad":"${"x".repeat(4 * 1024 * 1024)}",`))
    const tooLarge = await calybris(["log", "verify", "--vkey", vkey, "--proof", large])
    assert.strictEqual(tooLarge.code, 2)
    assert.include(tooLarge.stderr, "too large")
  })

  it("an inclusion proof of the head verifies against a checkpoint given to verify", async () => {
    const r = await calybris(["log", "prove", "9", "--log", log, ...keyed])
    assert.strictEqual(r.code, 0, r.stderr)
    const file = write(dir, "head.json", r.stdout)
    const ok = await calybris(["log", "verify", "--vkey", vkey, "--proof", file, "--checkpoint", cp9])
    assert.strictEqual(ok.code, 0, ok.stderr)
    const noCheckpoint = await calybris(["log", "verify", "--vkey", vkey, "--proof", file])
    assert.strictEqual(noCheckpoint.code, 2)
    const wrongCheckpoint = await calybris(["log", "verify", "--vkey", vkey, "--proof", file, "--checkpoint", cp5])
    assert.strictEqual(wrongCheckpoint.code, 1)
  })

  it("prove refuses SEQ 0, SEQ beyond the tree, and a checkpoint the log does not match", async () => {
    assert.strictEqual((await calybris(["log", "prove", "0", "--log", log, ...keyed])).code, 2)
    const beyondCheckpoint = await calybris(["log", "prove", "6", "--log", log, "--checkpoint", cp5, ...keyed])
    assert.strictEqual(beyondCheckpoint.code, 2)
    assert.include(beyondCheckpoint.stderr, "SEQ 6: the checkpoint's tree has 5 entries (sequences 1 to 5)")
    const beyondLog = await calybris(["log", "prove", "10", "--log", log, ...keyed])
    assert.strictEqual(beyondLog.code, 2)
    assert.include(beyondLog.stderr, "SEQ 10: the log's tree has 9 entries (sequences 1 to 9)")
    // a checkpoint of the empty tree (any log extends it) proves no entry: not "sequences 1 to 0"
    assert.include(fs.readFileSync(cp0, "utf8"), "\n0\n")
    for (const target of [log, emptyLog]) {
      const none = await calybris(["log", "prove", "1", "--log", target, "--checkpoint", cp0, ...keyed])
      assert.strictEqual(none.code, 2, none.stderr)
      assert.include(none.stderr, "SEQ 1: the checkpoint's tree is empty: it holds no entry to prove")
      assert.notInclude(none.stderr, "1 to 0")
    }
    const ofEmpty = await calybris(["log", "prove", "1", "--log", emptyLog, ...keyed])
    assert.strictEqual(ofEmpty.code, 2)
    assert.include(ofEmpty.stderr, "SEQ 1: the log's tree is empty: it holds no entry to prove")
    const forged = write(dir, "forged.note", fs.readFileSync(cp9, "utf8").replace("\n9\n", "\n8\n"))
    assert.strictEqual((await calybris(["log", "prove", "1", "--log", log, "--checkpoint", forged, ...keyed])).code, 1)
  })

  it("a consistency proof between two checkpoints verifies; tampered, it fails", async () => {
    const r = await calybris(["log", "consistency", cp5, cp9, "--log", log, ...keyed])
    assert.strictEqual(r.code, 0, r.stderr)
    const file = write(dir, "cons.json", r.stdout)
    const ok = await calybris(["log", "verify", "--vkey", vkey, "--proof", file, "--json"])
    assert.strictEqual(ok.code, 0, ok.stderr)
    const proof = parse(r.stdout)
    const hashes = proof.get("proof") as Array<string>
    const flipped = (hashes[0] as string).replace(/.$/, (c) => (c === "0" ? "1" : "0"))
    const bad = await calybris([
      "log",
      "verify",
      "--vkey",
      vkey,
      "--proof",
      write(dir, "cons-bad.json", r.stdout.replace(hashes[0] as string, flipped))
    ])
    assert.strictEqual(bad.code, 1)
    // its roots, which the verification takes from the checkpoints, stated otherwise (a hostile review: passed)
    for (const name of ["old_root", "new_root"]) {
      const stated = write(dir, "cons-root.json", r.stdout.replace(proof.get(name) as string, "1".repeat(64)))
      const refused = await calybris(["log", "verify", "--vkey", vkey, "--proof", stated])
      assert.strictEqual(refused.code, 1, name)
      assert.include(refused.stderr, `its ${name} ${"1".repeat(64)} is not`)
    }
  })

  it("consistency with the checkpoints in the wrong order, or from the empty tree, and a vkey given twice: bad usage (exit 2), not a failed verification", async () => {
    const reversed = await calybris(["log", "consistency", cp9, cp5, "--log", log, ...keyed])
    assert.strictEqual(reversed.code, 2, reversed.stderr)
    assert.include(reversed.stderr, "give the older checkpoint first")
    const fromEmpty = await calybris(["log", "consistency", cp0, cp5, "--log", log, ...keyed])
    assert.strictEqual(fromEmpty.code, 2, fromEmpty.stderr)
    assert.include(fromEmpty.stderr, "empty tree")
    const twice = await calybris(["log", "verify", "--vkey", vkey, "--vkey", vkey, "--checkpoint", cp9])
    assert.strictEqual(twice.code, 2, twice.stderr)
    assert.include(twice.stderr, "--vkey #2 is the key of --vkey #1")
  })

  it("consistency against a log that was rewritten fails closed", async () => {
    // a different log of the same length: its root at 5 is not cp5's
    const other = path.join(dir, "other.jsonl")
    await Effect.runPromise(
      Effect.gen(function*() {
        for (let i = 1; i <= 9; i++) yield* Wal.append(new Map<string, Json.Json>([["n", i === 2 ? 22 : i]]))
      }).pipe(Effect.provide(Wal.layerFile(other, { key: walKey })), Effect.provide(NodeContext.layer))
    )
    const r = await calybris(["log", "consistency", cp5, cp9, "--log", other, ...keyed])
    assert.strictEqual(r.code, 1)
    assert.include(r.stderr, "root")
  })
})

describe("log verify --proof --entry: the auditor's whole check of one entry", () => {
  const lines = fs.readFileSync(log, "utf8").split("\n")
  const line3 = lines[2] as string
  const proved = async () => {
    const r = await calybris(["log", "prove", "3", "--log", log, "--checkpoint", cp9, ...keyed])
    assert.strictEqual(r.code, 0, r.stderr)
    return { text: r.stdout, file: write(dir, "entry3.json", r.stdout) }
  }

  it("the entry's own line (a file, with or without its newline or a CR before it, or --entry-line) is included", async () => {
    const { file } = await proved()
    for (
      const args of [
        ["--entry", write(dir, "line3.txt", line3 + "\n")],
        ["--entry", write(dir, "line3-bare.txt", line3)],
        ["--entry-line", line3],
        // taken from a CRLF copy of the log: the CR is not the line's (the reader drops it)
        ["--entry", write(dir, "line3-crlf.txt", line3 + "\r\n")],
        ["--entry-line", line3 + "\r"]
      ]
    ) {
      const r = await calybris(["log", "verify", "--vkey", vkey, "--proof", file, ...args])
      assert.strictEqual(r.code, 0, r.stderr)
      assert.include(r.stdout, "sequence 3")
      assert.include(r.stdout, "entry included")
    }
    const json = await calybris(["log", "verify", "--vkey", vkey, "--proof", file, "--entry-line", line3, "--json"])
    assert.strictEqual(json.code, 0, json.stderr)
    const entry = parse(json.stdout).get("entry") as Json.JsonObject
    assert.strictEqual(entry.get("seq"), 3)
    assert.strictEqual(entry.get("leaf_hash"), parse((await proved()).text).get("leaf_hash"))
  })

  it("a line changed by one byte, or another entry's line, fails with a clear message (exit 1)", async () => {
    const { file } = await proved()
    const changed = line3.replace("\"n\":3", "\"n\":4")
    assert.notStrictEqual(changed, line3)
    for (const other of [changed, lines[3] as string, lines[1] as string, line3 + " ", ""]) {
      for (const args of [["--entry-line", other], ["--entry", write(dir, "other.txt", other + "\n")]]) {
        const r = await calybris(["log", "verify", "--vkey", vkey, "--proof", file, ...args])
        assert.strictEqual(r.code, 1, `${other}: ${r.stderr}`)
        assert.include(r.stderr, "entry does not verify")
        assert.include(r.stderr, "is not the proof's leaf_hash")
        assert.notInclude(r.stdout, "ok")
      }
    }
  })

  it("a proof rewritten for another entry's line fails: its leaf hash is not in the signed tree at that index", async () => {
    const { text } = await proved()
    const proof = parse(text)
    const line4 = lines[3] as string
    const leaf4 = createHash("sha256").update(Buffer.from([0])).update(line4, "utf8").digest("hex")
    // leaf_hash alone: the line's sequence 4 is not index 2 + 1
    const leafOnly = write(dir, "forged-leaf.json", text.replace(proof.get("leaf_hash") as string, leaf4))
    const seqMismatch = await calybris(["log", "verify", "--vkey", vkey, "--proof", leafOnly, "--entry-line", line4])
    assert.strictEqual(seqMismatch.code, 1, seqMismatch.stderr)
    assert.include(seqMismatch.stderr, "entry does not verify")
    assert.include(seqMismatch.stderr, "sequence 4")
    // leaf_hash, index and seq: the path of leaf 2 does not lead from leaf 3 to the signed root
    const forged = write(
      dir,
      "forged-entry.json",
      text.replace(proof.get("leaf_hash") as string, leaf4).replace("\"index\":2", "\"index\":3")
        .replace("\"seq\":3", "\"seq\":4")
    )
    const r = await calybris(["log", "verify", "--vkey", vkey, "--proof", forged, "--entry-line", line4])
    assert.strictEqual(r.code, 1, r.stderr)
    assert.include(r.stderr, "inclusion proof")
    assert.include(r.stderr, "does not verify")
  })

  it("a line the WAL's reader refuses is never an entry, whatever tree holds it: a key given twice, hashes missing (a hostile review: the last sequence won)", async () => {
    const signer = Either.getOrThrow(Note.parseSignerKey(skey))
    const prev = "0".repeat(64)
    for (
      const line of [
        `{"sequence":5,"sequence":1,"previous_hash":"${prev}","entry_hash":"${prev}","data":{}}`,
        `{"sequence":1,"data":{}}`,
        ` {"sequence":1} `
      ]
    ) {
      // a one-leaf tree of that line, signed with the log's key (the operator's own doing)
      const leaf = Merkle.hashLeaf(new TextEncoder().encode(line))
      const checkpoint = new Checkpoint.Checkpoint({ origin: "example.com/log", size: 1n, root: leaf, extensions: [] })
      const note = Either.getOrThrow(Note.sign(Checkpoint.format(checkpoint), [signer]))
      const proof = write(
        dir,
        "odd-line.json",
        JSON.stringify({ type: "inclusion", index: 0, tree_size: 1, leaf_hash: hex(leaf), proof: [], checkpoint: note })
      )
      const r = await calybris(["log", "verify", "--vkey", vkey, "--proof", proof, "--entry-line", line])
      assert.strictEqual(r.code, 1, `${line}: ${r.stdout}${r.stderr}`)
      assert.include(r.stderr, "is not a WAL line")
      assert.notInclude(r.stdout, "entry included")
    }
  })

  it("--entry needs an inclusion --proof, one line, and not both forms", async () => {
    const { file } = await proved()
    const cons = await calybris(["log", "consistency", cp5, cp9, "--log", log, ...keyed])
    const consFile = write(dir, "cons-entry.json", cons.stdout)
    const cases = [
      ["--checkpoint", cp9, "--entry-line", line3],
      ["--proof", consFile, "--entry-line", line3],
      ["--proof", file, "--entry-line", line3, "--entry", write(dir, "l3.txt", line3)],
      ["--proof", file, "--entry", write(dir, "two-lines.txt", `${line3}\n${lines[3]}\n`)],
      ["--proof", file, "--entry", path.join(dir, "no-such-entry.txt")],
      ["--proof", file, "--entry", dir]
    ]
    for (const args of cases) {
      const r = await calybris(["log", "verify", "--vkey", vkey, ...args])
      assert.strictEqual(r.code, 2, `${args.join(" ")}: ${r.stderr}`)
      assert.strictEqual(r.stdout, "")
    }
  })

  it("the help says what --entry checks", async () => {
    const r = await calybris(["log", "verify", "--help"])
    assert.include(r.stdout, "--entry")
    assert.include(r.stdout, "--entry-line")
  })
})

describe("wal replay --checkpoint", () => {
  it("cites a checkpoint whose root the replayed log has at its size; any other fails closed", async () => {
    const policyFile = write(dir, "policy.json", policyText)
    const policy = Either.getOrThrow(
      Either.flatMap(JsonSchema.decodeText(Policy.PolicySnapshot)(policyText), Policy.make)
    )
    const audited = path.join(dir, "audited.jsonl")
    /** Requests `from` to `to` decided and appended to `audited`. */
    const decide = (from: number, to: number) =>
      Effect.runPromise(
        Effect.gen(function*() {
          for (let i = from; i <= to; i++) {
            const input = Either.getOrThrow(
              JsonSchema.decodeText(Input.Input)(inputLine({ request_sequence: String(i) }))
            )
            yield* Audited.append(policy, input, Kernel.prescribe(policy, input), null)
          }
        }).pipe(Effect.provide(Wal.layerFile(audited, { key: walKey })), Effect.provide(NodeContext.layer))
      )
    await decide(1, 3)
    const signed = await calybris(["log", "checkpoint", "--log", audited, "--skey-file", skeyFile, ...keyed])
    assert.strictEqual(signed.code, 0, signed.stderr)
    const cp = write(dir, "audited.note", signed.stdout)
    const ok = await calybris([
      "wal",
      "replay",
      audited,
      "--policy",
      policyFile,
      "--checkpoint",
      cp,
      "--json",
      ...keyed
    ])
    assert.strictEqual(ok.code, 0, ok.stderr)
    const report = parse(ok.stdout)
    const cited = report.get("checkpoint")
    assert.isTrue(cited !== undefined && Json.isObject(cited) && cited.get("size") === 3)
    // the replay checks the root, not the signature (that is log verify's): the report says so
    assert.isTrue(cited !== undefined && Json.isObject(cited) && cited.get("signature_verified") === false)
    // a checkpoint of another log (same key) is not this log's: exit 1
    const other = await calybris(["wal", "replay", audited, "--policy", policyFile, "--checkpoint", cp5, ...keyed])
    assert.strictEqual(other.code, 1)
    assert.include(other.stderr, "beyond the log")
    // same size, another log's root: exit 1
    const prefix = write(dir, "prefix.jsonl", fs.readFileSync(log, "utf8").split("\n").slice(0, 3).join("\n") + "\n")
    const three = await calybris(["log", "checkpoint", "--log", prefix, "--skey-file", skeyFile, ...keyed])
    assert.strictEqual(three.code, 0, three.stderr)
    const wrong = write(dir, "three.note", three.stdout)
    const mismatch = await calybris(["wal", "replay", audited, "--policy", policyFile, "--checkpoint", wrong, ...keyed])
    assert.strictEqual(mismatch.code, 1)
    assert.include(mismatch.stderr, "the log's root at size 3")
    assert.strictEqual(cited !== undefined && Json.isObject(cited) ? cited.get("log_size") : undefined, 3)
    // the log grown past the checkpoint: its first entries match, and the report says the rest
    // are in no signed head (it said "the log's root matches": a hostile review)
    await decide(4, 5)
    const grown = await calybris(["wal", "replay", audited, "--policy", policyFile, "--checkpoint", cp, ...keyed])
    assert.strictEqual(grown.code, 0, grown.stderr)
    assert.include(
      grown.stdout,
      "the root of the log's first 3 entries matches; entries 4 to 5 are after it, in no signed head"
    )
    assert.notInclude(grown.stdout, "the log's root matches")
    // its origin (a signature the replay does not check) is shown escaped: a C1 control or a
    // bidi override reached the terminal raw (a hostile review)
    const [, size, root] = fs.readFileSync(cp, "utf8").split("\n")
    const odd = write(dir, "odd-origin.note", `x\u009b2J\u202Eevil\n${size}\n${root}\n\n\u2014 x AAAAAAAAAA==\n`)
    const shown = await calybris(["wal", "replay", audited, "--policy", policyFile, "--checkpoint", odd, ...keyed])
    assert.strictEqual(shown.code, 0, shown.stderr)
    assert.include(shown.stdout, `checkpoint "x\\u009b2J\\u202eevil" size 3`)
    assert.notMatch(shown.stdout, /[\u007f-\u009f\u202a-\u202e]/)
  })

  it("a ledger journal's replay cites its checkpoint too (the tree built in the journal audit's pass)", async () => {
    const policyFile = write(dir, "policy-journal.json", policyText)
    const inputFile = write(dir, "input-journal.json", inputLine({ request_sequence: "1" }))
    const journal = path.join(dir, "journal.jsonl")
    for (
      const args of [
        ["init"],
        ["ensure", "--tenant", "acme", "--amount", "1000000"],
        ["admit", "--policy", policyFile, "--input", inputFile, "--tenant", "acme"]
      ]
    ) {
      const r = await calybris(["budget", ...args, "--journal", journal, ...keyed])
      assert.strictEqual(r.code, 0, `${args.join(" ")}: ${r.stderr}`)
    }
    const signed = await calybris(["log", "checkpoint", "--log", journal, "--skey-file", skeyFile, ...keyed])
    assert.strictEqual(signed.code, 0, signed.stderr)
    const cp = write(dir, "journal.note", signed.stdout)
    const ok = await calybris([
      "wal",
      "replay",
      journal,
      "--policy",
      policyFile,
      "--checkpoint",
      cp,
      "--json",
      ...keyed
    ])
    assert.strictEqual(ok.code, 0, ok.stderr)
    const report = parse(ok.stdout.trim())
    assert.strictEqual(report.get("kind"), "journal")
    const size = (report.get("checkpoint") as Json.JsonObject).get("size")
    assert.strictEqual(size, fs.readFileSync(journal, "utf8").split("\n").filter((l) => l !== "").length)
    // a checkpoint of another log of another size: fails closed
    const other = await calybris(["wal", "replay", journal, "--policy", policyFile, "--checkpoint", cp9, ...keyed])
    assert.strictEqual(other.code, 1)
  })

  it("a hostile review's attacks on the replay fail closed (exit 1): an audited log dressed as a journal, a decision riding on a reserve, a citation of re-spelt lines, a size-0 checkpoint", async () => {
    const policyFile = write(dir, "policy-hostile.json", policyText)
    const policy = Either.getOrThrow(
      Either.flatMap(JsonSchema.decodeText(Policy.PolicySnapshot)(policyText), Policy.make)
    )
    const audited = path.join(dir, "hostile-audited.jsonl")
    const input = Either.getOrThrow(JsonSchema.decodeText(Input.Input)(inputLine({ request_sequence: "1" })))
    // a decision whose estimated cost was changed after it was made: the audit fails it
    const decision = Kernel.prescribe(policy, input)
    const forged = { ...decision, estimated_cost_microunits: 1n } as typeof decision
    await Effect.runPromise(
      Audited.append(policy, input, forged, null).pipe(
        Effect.provide(Wal.layerFile(audited, { key: walKey })),
        Effect.provide(NodeContext.layer)
      )
    )
    const refused = await calybris(["wal", "replay", audited, "--policy", policyFile, ...keyed])
    assert.strictEqual(refused.code, 1, refused.stdout)
    // the same record with a journal record's members beside its own, written by the key holder: it
    // would be replayed as a journal of no admitted decision, and its decision never audited
    const line = fs.readFileSync(audited, "utf8").split("\n")[0] as string
    const data = (Either.getOrThrow(Json.parse(line)) as Json.JsonObject).get("data") as Json.JsonObject
    const dressed = path.join(dir, "hostile-dressed.jsonl")
    await Effect.runPromise(
      Wal.append(new Map<string, Json.Json>([["v", 1], ["commands", []], ...data])).pipe(
        Effect.provide(Wal.layerFile(dressed, { key: walKey })),
        Effect.provide(NodeContext.layer)
      )
    )
    const disguised = await calybris(["wal", "replay", dressed, "--policy", policyFile, ...keyed])
    assert.strictEqual(disguised.code, 1, disguised.stdout)
    assert.include(disguised.stderr, "audited decision's audit, input, decision")
    // the forged decision's record riding on a reserve command, written by the key holder: the
    // journal's decoder passed over the member, so the journal verified and replayed with one
    // admitted decision fewer, the forged one never audited (a hostile review)
    const riding = path.join(dir, "hostile-riding.jsonl")
    const reserve = new Map<string, Json.Json>([["kind", "reserve"], ["tenant_id", "acme"], ["amount", 5], [
      "audited",
      data
    ]])
    await Effect.runPromise(
      Wal.append(new Map<string, Json.Json>([["v", 1], ["commands", [reserve]]])).pipe(
        Effect.provide(Wal.layerFile(riding, { key: walKey })),
        Effect.provide(NodeContext.layer)
      )
    )
    const rode = await calybris(["wal", "replay", riding, "--policy", policyFile, ...keyed])
    assert.strictEqual(rode.code, 1, rode.stdout)
    assert.include(rode.stderr, "commands[0].audited: is not a member of a journal record")
    // a line re-spelt after it was written (it still verifies), and a checkpoint signed over the
    // tree of the re-spelt bytes: log prove refuses that log, so the replay does not cite it
    const honest = path.join(dir, "hostile-honest.jsonl")
    await Effect.runPromise(
      Audited.append(policy, input, decision, null).pipe(
        Effect.provide(Wal.layerFile(honest, { key: walKey })),
        Effect.provide(NodeContext.layer)
      )
    )
    const respelt = write(dir, "hostile-respelt.jsonl", fs.readFileSync(honest, "utf8").replace("\n", "   \n"))
    const verified = await calybris(["wal", "verify", respelt, ...keyed])
    assert.strictEqual(verified.code, 0, verified.stderr)
    const leaf = new TextEncoder().encode(fs.readFileSync(respelt, "utf8").split("\n")[0] as string)
    const signer = Either.getOrThrow(Note.parseSignerKey(skey))
    const body = Either.getOrThrow(
      Checkpoint.body({ origin: "example.com/log", size: 1n, root: Merkle.hashLeaf(leaf), extensions: [] })
    )
    const overRespelt = write(dir, "hostile-respelt.note", Either.getOrThrow(Note.sign(body, [signer])))
    const citing = ["--checkpoint", overRespelt, ...keyed]
    const cited = await calybris(["wal", "replay", respelt, "--policy", policyFile, ...citing])
    assert.strictEqual(cited.code, 1, cited.stdout)
    assert.include(cited.stderr, "not in its canonical form")
    // a checkpoint of the empty tree is every log's root at size 0: it cites nothing
    const empty = await calybris(["wal", "replay", honest, "--policy", policyFile, "--checkpoint", cp0, ...keyed])
    assert.strictEqual(empty.code, 1, empty.stdout)
    assert.include(empty.stderr, "its size is 0", empty.stderr)
  })

  it("builds the tree in the pass that replays the log: the log is read once more than the kind detection, not twice", async () => {
    const policyFile = write(dir, "policy-once.json", policyText)
    const policy = Either.getOrThrow(
      Either.flatMap(JsonSchema.decodeText(Policy.PolicySnapshot)(policyText), Policy.make)
    )
    const audited = path.join(dir, "audited-once.jsonl")
    await Effect.runPromise(
      Effect.gen(function*() {
        for (let i = 1; i <= 3; i++) {
          const input = Either.getOrThrow(
            JsonSchema.decodeText(Input.Input)(inputLine({ request_sequence: String(i) }))
          )
          yield* Audited.append(policy, input, Kernel.prescribe(policy, input), null)
        }
      }).pipe(Effect.provide(Wal.layerFile(audited, { key: walKey })), Effect.provide(NodeContext.layer))
    )
    const signed = await calybris(["log", "checkpoint", "--log", audited, "--skey-file", skeyFile, ...keyed])
    assert.strictEqual(signed.code, 0, signed.stderr)
    const cp = write(dir, "audited-once.note", signed.stdout)
    const opensOf = (r: { stderr: string }) => Number(/calybris-test-opens=(\d+)/.exec(r.stderr)?.[1] ?? "-1")
    const counting = {
      node: ["--import", pathToFileURL(path.join(import.meta.dirname, "log-fixtures", "countOpens.mjs")).href],
      env: { CALYBRIS_TEST_COUNT_OPENS: audited }
    }
    const plain = await calybris(["wal", "replay", audited, "--policy", policyFile, ...keyed], counting)
    assert.strictEqual(plain.code, 0, plain.stderr)
    const citing = await calybris(
      ["wal", "replay", audited, "--policy", policyFile, "--checkpoint", cp, "--json", ...keyed],
      counting
    )
    assert.strictEqual(citing.code, 0, citing.stderr)
    assert.isAbove(opensOf(plain), 0)
    assert.strictEqual(opensOf(citing), opensOf(plain))
    const cited = parse(citing.stdout.trim()).get("checkpoint") as Json.JsonObject
    assert.strictEqual(cited.get("size"), 3)
  })
})
