/**
 * The transparency log's note vectors (shared/tlog-vectors): signed notes, checkpoints and
 * cosignatures, through @calybris/tlog's Note, Checkpoint and Cosignature.
 *
 * A positive case opens/verifies and reports exactly the expected keys (and text, parsed body,
 * timestamp); a case with a signer key re-signs its text byte for byte; a negative case is
 * rejected with the error its `expect.result` names. Policy choices, each checked as such:
 * - checkpoint bodies that transparency-dev/formats accepts with a root that is not 32 bytes
 *   are refused (`invalid-root-length`): a checkpoint's root is an RFC 6962 SHA-256 root;
 * - a known witness's cosignature line of the wrong length rejects the note (the vector
 *   allows "ignore or reject");
 * - ECDSA (Rekor v1) and RFC 6962 (type 0x05) lines are unknown keys, as the README says.
 */
import type { Json } from "@calybris/core/Json"
import * as Checkpoint from "@calybris/tlog/Checkpoint"
import * as Cosignature from "@calybris/tlog/Cosignature"
import * as Note from "@calybris/tlog/Note"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import { asInteger, get, getArray, getString, readJson, Tally } from "./vectors.js"
import type { FileResult } from "./vectors.js"

const hex = (bytes: Uint8Array): string => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")
const fromHex = (text: string): Uint8Array =>
  new Uint8Array((text.match(/../g) ?? []).map((h) => Number.parseInt(h, 16)))
const strings = (value: Json | undefined, key: string): Array<string> =>
  getArray(value, key).flatMap((v) => typeof v === "string" ? [v] : [])
/** The keys of `sigs` as `name+keyid`, sorted: which keys verified is the verdict, not their order. */
const labels = (sigs: ReadonlyArray<Note.Signature>): string =>
  sigs.map((s) => Note.keyLabel(s.name, s.keyId)).sort().join(",")
/** The vector's list of keys under `key`, sorted as `labels`. */
const expectedLabels = (expect: Json | undefined, key: string): string => strings(expect, key).sort().join(",")

const verifiersOf = (c: Json, problems: Array<string>): Array<Note.Verifier> =>
  strings(c, "vkeys").flatMap((vkey) => {
    const v = Checkpoint.parseVerifierKey(vkey)
    if (Either.isLeft(v)) {
      problems.push(`vkey ${vkey}: ${v.left.message}`)
      return []
    }
    return [v.right]
  })

const noteOf = (c: Json): string | Uint8Array => {
  const h = getString(c, "noteHex")
  return h !== undefined ? fromHex(h) : getString(c, "note") ?? ""
}

const same = (problems: Array<string>, what: string, actual: unknown, expected: unknown) => {
  if (actual !== expected) problems.push(`${what}: got ${String(actual)}, expected ${String(expected)}`)
}

/** The error tag an `expect.result` names. */
const expectedTag: Record<string, string> = {
  "malformed": "NoteMalformed",
  "invalid-signature": "NoteInvalidSignature",
  "no-verified-signature": "NoteNotVerified"
}

/** Checks `expect.signatures` (parse-only cases) and `expect.parsedText` against Note.parse. */
const checkParsed = (c: Json, note: string | Uint8Array, problems: Array<string>) => {
  const expect = get(c, "expect")
  const wanted = getArray(expect, "signatures")
  const parsedText = getString(expect, "parsedText")
  if (wanted.length === 0 && parsedText === undefined) return
  const parsed = Note.parse(note)
  if (Either.isLeft(parsed)) return void problems.push(`parse: ${parsed.left.message}`)
  if (parsedText !== undefined) same(problems, "parsed text", parsed.right.text, parsedText)
  same(problems, "signature count", parsed.right.signatures.length, wanted.length)
  wanted.forEach((w, i) => {
    const s = parsed.right.signatures[i]
    same(problems, `signature ${i} name`, s?.name, getString(w, "name"))
    same(problems, `signature ${i} key id`, s === undefined ? undefined : Note.hex8(s.keyId), getString(w, "keyIdHex"))
    same(problems, `signature ${i} length`, s?.signature.length, Number(asInteger(get(w, "sigLen"))))
  })
}

/** Re-signs `text` (or the checkpoint's note text) with `skey` and compares with the note. */
const checkResign = (c: Json, text: string, problems: Array<string>) => {
  const skey = getString(c, "skey")
  if (skey === undefined) return
  const signer = Note.parseSignerKey(Redacted.make(skey))
  if (Either.isLeft(signer)) return void problems.push(`skey: ${signer.left.message}`)
  if (String(signer.right).includes(skey.slice(-20))) problems.push("signer's toString shows its key")
  const signed = Note.sign(text, [signer.right])
  if (Either.isLeft(signed)) return void problems.push(`sign: ${signed.left.message}`)
  same(problems, "re-signed note", signed.right, getString(c, "note"))
}

const runNoteCase = (c: Json, problems: Array<string>) => {
  const verifiers = verifiersOf(c, problems)
  const note = noteOf(c)
  const expect = get(c, "expect")
  const result = getString(expect, "result")
  const opened = Note.open(note, verifiers)
  if (result === "ok") {
    if (Either.isLeft(opened)) return void problems.push(`rejected: ${opened.left.message}`)
    same(problems, "verified", labels(opened.right.verified), expectedLabels(expect, "verified"))
    if (get(expect, "unverified") !== undefined) {
      same(problems, "unverified", labels(opened.right.unverified), expectedLabels(expect, "unverified"))
    }
    const text = getString(expect, "text")
    if (text !== undefined) same(problems, "text", opened.right.text, text)
    checkResign(c, getString(c, "text") ?? opened.right.text, problems)
  } else {
    const tag = expectedTag[result ?? ""]
    if (tag === undefined) return void problems.push(`unknown expect.result ${String(result)}`)
    if (Either.isRight(opened)) return void problems.push(`accepted, expected ${result}`)
    same(problems, "rejection", opened.left._tag, tag)
    checkParsed(c, note, problems)
  }
}

export const runSignedNotes = (file: string): FileResult => {
  const data = readJson(file)
  const tally = new Tally()
  for (const c of getArray(data, "notes")) {
    tally.case(`note ${getString(c, "id")}`, () => {
      const problems: Array<string> = []
      runNoteCase(c, problems)
      return problems
    })
  }
  for (const k of getArray(data, "verifierKeys")) {
    const vkey = getString(k, "vkey") ?? ""
    tally.case(`vkey ${vkey}`, () => {
      const problems: Array<string> = []
      const parsed = Note.parseVerifierKey(vkey)
      if (get(k, "valid") === true) {
        if (Either.isLeft(parsed)) return [`rejected: ${parsed.left.message}`]
        const p = get(k, "parsed")
        same(problems, "name", parsed.right.name, getString(p, "name"))
        same(problems, "key id", Note.hex8(parsed.right.keyId), getString(p, "keyIdHex"))
        same(problems, "type", parsed.right.type, Number(asInteger(get(p, "type"))))
        same(problems, "public key", hex(parsed.right.publicKey), getString(p, "publicKeyHex"))
        same(problems, "formatted", Note.formatVerifierKey(parsed.right), vkey)
      } else if (Either.isRight(parsed)) {
        problems.push(`accepted, expected rejection (${getString(k, "why")})`)
      }
      return problems
    })
  }
  for (const k of getArray(get(data, "keyPairs"), "pairs")) {
    const skey = getString(k, "skey") ?? ""
    tally.case(`key pair ${getString(k, "vkey")}`, () => {
      const problems: Array<string> = []
      const signer = Note.parseSignerKey(Redacted.make(skey))
      if (Either.isLeft(signer)) return [`skey rejected: ${signer.left.message}`]
      same(problems, "vkey", Note.formatVerifierKey(signer.right), getString(k, "vkey"))
      same(problems, "public key", hex(signer.right.publicKey), getString(k, "publicKeyHex"))
      const printed = `${String(signer.right)} ${JSON.stringify(signer.right)}`
      const seedB64 = skey.split("+").slice(4).join("+")
      if (printed.includes(seedB64) || printed.includes(getString(k, "seedHex") ?? "-")) {
        problems.push("signer prints its seed")
      }
      return problems
    })
  }
  return tally.result()
}

const checkBody = (c: Json, text: string, problems: Array<string>) => {
  const p = get(c, "parsed")
  if (p === undefined) return
  const body = Checkpoint.parse(text)
  if (Either.isLeft(body)) return void problems.push(`body: ${body.left.message}`)
  same(problems, "origin", body.right.origin, getString(p, "origin"))
  same(problems, "size", body.right.size, asInteger(get(p, "treeSize")))
  same(problems, "root", hex(body.right.root), getString(p, "rootHashHex"))
  same(problems, "extensions", body.right.extensions.join("|"), strings(p, "extensionLines").join("|"))
  same(problems, "format", Checkpoint.format(body.right), text)
}

/**
 * Why `body` is not a C2SP tlog-checkpoint body — in Checkpoint.parse's words, but worked out here
 * from the spec, apart from it — or `undefined` when it is one: text (valid UTF-8, no control
 * character but LF) ending in LF; an origin line that is not empty; the size in decimal without
 * leading zeros, at most 2^64 − 1; the root in standard padded base64, exactly 32 bytes; then
 * extension lines, none empty. The vectors say only what transparency-dev/formats does
 * (`validPerTransparencyDevFormats`), which is laxer: it takes roots of any length and trailing
 * blank lines. So the verdict a strict parser owes each case is this one, whatever its note says.
 */
const c2spBodyRefusal = (body: string): string | undefined => {
  if (!body.isWellFormed()) return "invalid-text"
  if (body === "") return "invalid-text"
  if (/[\u0000-\u0009\u000b-\u001f\u007f]/.test(body)) return "invalid-text"
  if (!body.endsWith("\n")) return "no-final-newline"
  const lines = body.slice(0, -1).split("\n")
  if (lines.length < 3) return "too-few-lines"
  const [origin, size, root] = lines as [string, string, string]
  if (origin === "") return "empty-origin"
  if (!/^(?:0|[1-9][0-9]*)$/.test(size)) return "invalid-size"
  if (BigInt(size) > 2n ** 64n - 1n) return "size-out-of-range"
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(root)) return "invalid-root"
  const bytes = Buffer.from(root, "base64")
  // the unused bits of the last character must be zero: one text for each root
  if (bytes.toString("base64") !== root) return "invalid-root"
  if (bytes.length !== 32) return "invalid-root-length"
  if (lines.slice(3).includes("")) return "empty-extension-line"
  return undefined
}

export const runCheckpoints = (file: string): FileResult => {
  const data = readJson(file)
  const tally = new Tally()
  for (const c of getArray(data, "checkpoints")) {
    tally.case(`checkpoint ${getString(c, "id")}`, () => {
      const problems: Array<string> = []
      const verifiers = verifiersOf(c, problems)
      const note = getString(c, "note") ?? ""
      const expect = get(c, "expect")
      const result = getString(expect, "result")
      const parsed = Note.parse(note)
      if (Either.isLeft(parsed)) return [`parse: ${parsed.left.message}`]
      checkBody(c, parsed.right.text, problems)
      const verified = Checkpoint.verifyCheckpoint(note, verifiers)
      if (result === "ok") {
        if (Either.isLeft(verified)) return [...problems, `rejected: ${verified.left.message}`]
        same(problems, "verified", labels(verified.right.note.verified), expectedLabels(expect, "verified"))
        const ts = asInteger(get(expect, "remoraCosignatureTimestamp"))
        if (ts !== undefined) {
          const remora = verified.right.cosignatures.find((w) => w.name === "remora.n621.de")
          same(problems, "remora cosignature timestamp", remora?.timestamp, ts)
        }
        checkResign(c, parsed.right.text, problems)
      } else {
        const tag = expectedTag[result ?? ""]
        if (Either.isRight(verified)) return [...problems, `accepted, expected ${result}`]
        same(problems, "rejection", verified.left._tag, tag)
        checkParsed(c, note, problems)
      }
      return problems
    })
  }
  for (const c of getArray(data, "bodyParsing")) {
    const why = getString(c, "note") ?? ""
    tally.case(`checkpoint body (${why})`, () => {
      const text = getString(c, "body") ?? ""
      const body = Checkpoint.parse(text)
      const reason = c2spBodyRefusal(text)
      // what formats refuses is no checkpoint body either (it is the laxer of the two)
      if (reason === undefined && get(c, "validPerTransparencyDevFormats") === false) {
        return ["the vector's body is refused by transparency-dev/formats, yet no C2SP rule refuses it"]
      }
      if (reason === undefined) {
        if (Either.isLeft(body)) return [`rejected: ${body.left.message}`]
        return Checkpoint.format(body.right) === text
          ? []
          : [`formatted back as ${JSON.stringify(Checkpoint.format(body.right))}`]
      }
      if (Either.isRight(body)) return [`accepted, expected ${reason}`]
      return body.left.reason === reason ? [] : [`rejected for ${body.left.reason}, expected ${reason}`]
    })
  }
  return tally.result()
}

/**
 * What a signature line that is not the verifying one does to a note opened with `witness` alone
 * (C2SP signed-note, worked out from the line, not from its place in the vector): a line that is
 * not `— <name> <base64>` with at least a 4-byte key id makes the note malformed; one naming
 * another key (another name, or another key id) is ignored, so the note has no verified signature;
 * one naming the witness's key that does not verify (a bad signature, or a payload of the wrong
 * length, which C2SP lets a verifier ignore or reject) rejects the note: our policy.
 */
const lineVerdict = (line: string, witness: Note.Verifier): string => {
  const match = /^\u2014 ([^ +\n]+) ([A-Za-z0-9+/]+={0,2})$/.exec(line)
  if (match === null) return "NoteMalformed"
  const payload = Buffer.from(match[2] as string, "base64")
  if (payload.toString("base64") !== match[2] || payload.length < 5) return "NoteMalformed"
  const known = match[1] === witness.name && payload.readUInt32BE(0) === witness.keyId
  return known ? "NoteInvalidSignature" : "NoteNotVerified"
}

export const runCosignatures = (file: string): FileResult => {
  const data = readJson(file)
  const tally = new Tally()
  for (const c of getArray(data, "cases")) {
    const id = getString(c, "id") ?? ""
    tally.case(`cosignature ${id}`, () => {
      const problems: Array<string> = []
      const expect = get(c, "expect")
      const b64 = getString(c, "cosignatureBase64")
      if (b64 !== undefined) {
        const payload = Cosignature.parsePayload(Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0)))
        if (Either.isLeft(payload)) return [`payload: ${payload.left.message}`]
        same(problems, "key id", Note.hex8(payload.right.keyId), getString(expect, "keyIdHex"))
        same(problems, "timestamp", payload.right.timestamp, asInteger(get(expect, "timestamp")))
        const not = getString(c, "notACosignatureBase64") ?? ""
        const refused = Cosignature.parsePayload(Uint8Array.from(atob(not), (ch) => ch.charCodeAt(0)))
        if (Either.isRight(refused)) problems.push("a 68-byte note signature decoded as a cosignature")
        return problems
      }
      const text = getString(c, "checkpointText") ?? ""
      const witness = Cosignature.parseVerifierKey(getString(c, "witnessVkey") ?? "")
      if (Either.isLeft(witness)) return [`witness vkey: ${witness.left.message}`]
      const lines = strings(c, "signatureLines")
      const good = Number(asInteger(get(expect, "verifyingLineIndex")))
      const timestamp = asInteger(get(expect, "timestamp")) ?? 0n
      same(
        problems,
        "signed message",
        new TextDecoder().decode(Cosignature.signedMessage(new TextEncoder().encode(text), timestamp)),
        getString(expect, "signedMessage")
      )
      const wantedOf = (line: string, i: number) => i === good ? "ok" : lineVerdict(line, witness.right)
      lines.forEach((line, i) => {
        const opened = Note.open(`${text}\n${line}\n`, [witness.right])
        same(problems, `line ${i}`, Either.isRight(opened) ? "ok" : opened.left._tag, wantedOf(line, i))
        if (i === good && Either.isRight(opened)) {
          same(
            problems,
            "timestamp",
            Cosignature.timestampOf(opened.right.verified[0]?.signature ?? new Uint8Array()),
            timestamp
          )
        }
      })
      // every line together: a line of the known witness that does not verify rejects the note
      // (a malformed one first), else the verifying line makes it
      const verdicts = lines.map(wantedOf)
      const allWanted = verdicts.find((v) => v === "NoteMalformed") ??
        verdicts.find((v) => v === "NoteInvalidSignature") ?? "ok"
      const all = Note.open(`${text}\n${lines.join("\n")}\n`, [witness.right])
      same(problems, "all lines", Either.isRight(all) ? "ok" : all.left._tag, allWanted)
      // no log key given: a cosignature alone does not make a verified checkpoint
      const alone = Checkpoint.verifyCheckpoint(`${text}\n${lines[good]}\n`, [witness.right])
      same(problems, "cosignature alone", Either.isRight(alone) ? "ok" : alone.left._tag, "CheckpointNotSigned")
      // re-signing with the published seed reproduces the verifying line
      const seed = getString(c, "witnessSeedHex")
      if (seed !== undefined) {
        const signer = Cosignature.makeSigner(witness.right.name, Redacted.make(fromHex(seed)), timestamp)
        if (Either.isLeft(signer)) return [...problems, `signer: ${signer.left.message}`]
        same(problems, "witness key id", Note.hex8(signer.right.keyId), Note.hex8(witness.right.keyId))
        const signed = Note.sign(text, [signer.right])
        same(problems, "re-signed", Either.isRight(signed) ? signed.right : "", `${text}\n${lines[good]}\n`)
      }
      return problems
    })
  }
  return tally.result()
}
