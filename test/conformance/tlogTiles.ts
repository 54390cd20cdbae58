/**
 * shared/tlog-vectors/tiles.json (c2sp.org/tlog-tiles) through @calybris/tlog/Tiles: tile and
 * entry-bundle paths (format, and parse back), the level/index parse cases (valid ones give the
 * expected tile, invalid ones are refused), the tiles of a tree size (C2SP's worked examples), the
 * complete tiny tessera log (for each size 1–15: the bundle parses to the leaves and re-encodes to
 * the same bytes, the level-0 tile is the leaves' hashes and sits at the expected path, the root
 * recomputed from the tiles equals the vector's and the checkpoint body's, the checkpoint verifies
 * with the log's `vkey` and re-signing its body with the log's `skey` gives it byte for byte, and
 * writing the tiles and bundles incrementally from the previous size reproduces the files), and Go sumdb's paths,
 * which are not C2SP paths and must be refused.
 */
import type * as Json from "@calybris/core/Json"
import * as Checkpoint from "@calybris/tlog/Checkpoint"
import * as Note from "@calybris/tlog/Note"
import * as Tiles from "@calybris/tlog/Tiles"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import * as crypto from "node:crypto"
import type { FileResult } from "./vectors.js"
import { asInteger, get, getArray, getString, readJson, Tally } from "./vectors.js"

/** RFC 6962 leaf hash, computed here independently of the library. */
const hashLeaf = (data: Uint8Array): Uint8Array =>
  new Uint8Array(crypto.createHash("sha256").update(Uint8Array.of(0)).update(data).digest())

const hex = (bytes: Uint8Array): string => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")

const unhex = (text: string): Uint8Array => {
  if (!/^([0-9a-f]{2})*$/.test(text)) throw new Error(`not lowercase hex: ${text.slice(0, 40)}`)
  const out = new Uint8Array(text.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16)
  return out
}

/** A required integer member (JSON number or decimal string) as bigint. */
const big = (value: Json.Json | undefined, key: string): bigint => {
  const v = get(value, key)
  if (typeof v === "string" && /^[0-9]+$/.test(v)) return BigInt(v)
  const n = asInteger(v)
  if (typeof n !== "bigint") throw new Error(`member ${key} is not an integer`)
  return n
}
const small = (value: Json.Json | undefined, key: string): number => Number(big(value, key))
const str = (value: Json.Json | undefined, key: string): string => {
  const v = getString(value, key)
  if (v === undefined) throw new Error(`member ${key} is not a string`)
  return v
}

const left = <E extends { readonly message: string }>(e: Either.Either<unknown, E>): string =>
  Either.isLeft(e) ? e.left.message : "accepted"

/** A formatted path, or why it was refused. */
const text = (e: Either.Either<string, { readonly message: string }>): string =>
  Either.isRight(e) ? e.right : `refused: ${e.left.message}`

export const runTiles = (file: string): FileResult => {
  const tally = new Tally()
  const root = readJson(file)
  const cases = (key: string) => getArray(get(root, key), "cases")

  // Paths: format gives the path; parsing it gives back the tile.
  cases("tilePaths").forEach((c, i) => {
    tally.case(`tilePaths[${i}] ${getString(c, "path")}`, () => {
      const problems: Array<string> = []
      const [level, index, width, path] = [small(c, "level"), big(c, "index"), small(c, "width"), str(c, "path")]
      const formatted = Tiles.tilePath(level, index, width)
      if (Either.isLeft(formatted) || formatted.right !== path) {
        problems.push(`format: ${text(formatted)}`)
      }
      const parsed = Tiles.parsePath(path)
      if (
        Either.isLeft(parsed) || parsed.right._tag !== "HashTile" || parsed.right.level !== level ||
        parsed.right.index !== index || parsed.right.width !== width
      ) problems.push(`parse: ${Either.isLeft(parsed) ? parsed.left.message : String(parsed.right)}`)
      return problems
    })
  })
  cases("entriesPaths").forEach((c, i) => {
    tally.case(`entriesPaths[${i}] ${getString(c, "path")}`, () => {
      const problems: Array<string> = []
      const [index, width, path] = [big(c, "index"), small(c, "width"), str(c, "path")]
      const formatted = Tiles.entriesPath(index, width)
      if (Either.isLeft(formatted) || formatted.right !== path) {
        problems.push(`format: ${text(formatted)}`)
      }
      const parsed = Tiles.parsePath(path)
      if (
        Either.isLeft(parsed) || parsed.right._tag !== "EntriesTile" || parsed.right.index !== index ||
        parsed.right.width !== width
      ) problems.push(`parse: ${Either.isLeft(parsed) ? parsed.left.message : String(parsed.right)}`)
      return problems
    })
  })
  cases("entriesPathForLeaf").forEach((c, i) => {
    tally.case(`entriesPathForLeaf[${i}] ${getString(c, "path")}`, () => {
      const got = Tiles.entriesPathForLeaf(big(c, "leafIndex"), big(c, "treeSize"))
      return Either.isRight(got) && got.right === str(c, "path") ? [] : [`got ${text(got)}`]
    })
  })
  // tessera's ParseTileLevelIndex(level, index): here the path tile/<level>/<index>.
  cases("parseTileLevelIndex").forEach((c, i) => {
    const path = `tile/${str(c, "level")}/${str(c, "indexPath")}`
    tally.case(`parseTileLevelIndex[${i}] ${path}`, () => {
      const parsed = Tiles.parsePath(path)
      if (get(c, "valid") !== true) {
        return Either.isLeft(parsed) && parsed.left._tag === "TilePathError" ? [] : ["accepted, expected a refusal"]
      }
      if (Either.isLeft(parsed)) return [`refused: ${parsed.left.message}`]
      const t = parsed.right
      const ok = t._tag === "HashTile" && t.level === small(c, "expectLevel") && t.index === big(c, "expectIndex") &&
        t.width === small(c, "expectWidth")
      return ok ? [] : [`got ${String(t)}`]
    })
  })
  getArray(root, "tilesForTreeSize").forEach((c) => {
    const size = big(c, "treeSize")
    tally.case(`tilesForTreeSize ${size}`, () => {
      const got = Tiles.tilesForSize(size).map((l) => `${l.level}:${l.fullTiles}+${l.partialWidth}`).join(" ")
      const want = getArray(c, "perLevel").map((l) =>
        `${small(l, "level")}:${big(l, "fullTiles")}+${small(l, "partialWidth")}`
      )
        .join(" ")
      return got === want ? [] : [`got ${got}, expected ${want}`]
    })
  })

  // The tiny tessera log: every size from its files, and the files rebuilt by appending.
  const log = get(root, "testLog")
  const encoder = new TextEncoder()
  const leaves = getArray(log, "leavesUtf8").map((l) => encoder.encode(typeof l === "string" ? l : ""))
  const files = new Map<string, Uint8Array>()
  let previous = 0n
  getArray(log, "sizes").forEach((c) => {
    const size = big(c, "treeSize")
    tally.case(`testLog size ${size}`, () => {
      const problems: Array<string> = []
      const n = Number(size)
      const bundle = unhex(str(c, "entriesBundleHex"))
      const tile = unhex(str(c, "tileHex"))
      const rootHex = str(c, "rootHashHex")
      // paths
      const bundlePath = Tiles.entriesPathForLeaf(size - 1n, size)
      if (text(bundlePath) !== str(c, "entriesPath")) {
        problems.push(`entries path ${text(bundlePath)}`)
      }
      const tilePath = Tiles.tilePath(0, 0n, Tiles.widthAt(size, 0, 0n))
      if (text(tilePath) !== str(c, "tilePath")) {
        problems.push(`tile path ${text(tilePath)}`)
      }
      // the bundle: the leaves, and back to the same bytes
      const entries = Tiles.parseEntryBundle(bundle, n)
      if (Either.isLeft(entries)) problems.push(`bundle: ${entries.left.message}`)
      else {
        if (entries.right.map(hex).join() !== leaves.slice(0, n).map(hex).join()) {
          problems.push("bundle entries differ from the leaves")
        }
        const again = Tiles.encodeEntryBundle(entries.right)
        if (Either.isLeft(again) || hex(again.right) !== hex(bundle)) {
          problems.push("bundle does not re-encode to its bytes")
        }
      }
      // the level-0 tile: the leaves' hashes
      const hashes = Tiles.parseHashTile(tile, n)
      if (Either.isLeft(hashes)) problems.push(`tile: ${hashes.left.message}`)
      else if (hashes.right.map(hex).join() !== leaves.slice(0, n).map((l) => hex(hashLeaf(l))).join()) {
        problems.push("tile hashes differ from the leaves' hashes")
      }
      // the root from the tiles (sizes < 256: the level-0 tile is the only one)
      const read: Tiles.TileReader = (level, index, width) =>
        level === 0 && index === 0n && width === n ? tile : undefined
      const fromTiles = Tiles.rootFromTiles(read, size)
      if (Either.isLeft(fromTiles) || hex(fromTiles.right) !== rootHex) {
        problems.push(`root from tiles ${Either.isLeft(fromTiles) ? fromTiles.left.message : hex(fromTiles.right)}`)
      }
      // the checkpoint's body: origin, size, root; its signature by the log's key
      const note = str(c, "checkpoint")
      const body = note.split("\n")
      const rootB64 = Buffer.from(unhex(rootHex)).toString("base64")
      if (body[0] !== str(log, "origin") || body[1] !== size.toString() || body[2] !== rootB64) {
        problems.push(`checkpoint body ${body.slice(0, 3).join("|")}`)
      }
      const vkey = getString(log, "vkey")
      if (vkey !== undefined) {
        const verified = Either.flatMap(
          Checkpoint.parseVerifierKey(vkey),
          (verifier) => Checkpoint.verifyCheckpoint(note, [verifier], { origin: str(log, "origin") })
        )
        if (Either.isLeft(verified)) problems.push(`checkpoint: ${verified.left.message}`)
        else if (verified.right.checkpoint.size !== size || hex(verified.right.checkpoint.root) !== rootHex) {
          problems.push(
            `checkpoint verified at size ${verified.right.checkpoint.size}, root ${hex(verified.right.checkpoint.root)}`
          )
        }
      }
      const skey = getString(log, "skey")
      if (skey !== undefined) {
        const signed = Either.flatMap(
          Note.parseSignerKey(Redacted.make(skey)),
          (signer) => Note.sign(note.slice(0, note.indexOf("\n\n") + 1), [signer])
        )
        if (Either.isLeft(signed) || signed.right !== note) {
          problems.push(`re-signed: ${Either.isLeft(signed) ? signed.left.message : JSON.stringify(signed.right)}`)
        }
      }
      // writing: appending the new leaves to the previous size's files reproduces this size's
      const reader: Tiles.TileReader = (level, index, width) =>
        files.get(Either.getOrThrow(Tiles.tilePath(level, index, width)))
      const bundleReader: Tiles.BundleReader = (index, width) =>
        files.get(Either.getOrThrow(Tiles.entriesPath(index, width)))
      const added = leaves.slice(Number(previous), n)
      const tiles = Tiles.appendTiles(reader, previous, added.map(hashLeaf))
      const bundles = Tiles.appendEntryBundles(bundleReader, previous, added)
      if (Either.isLeft(tiles) || Either.isLeft(bundles)) {
        problems.push(`append: ${left(tiles)} / ${left(bundles)}`)
      } else {
        const written = [...tiles.right, ...bundles.right]
        const want = `${str(c, "tilePath")}=${hex(tile)} ${str(c, "entriesPath")}=${hex(bundle)}`
        const got = written.map((w) => `${w.path}=${hex(w.bytes)}`).join(" ")
        if (got !== want) problems.push(`append wrote ${got.slice(0, 200)}`)
        for (const w of written) files.set(w.path, w.bytes)
      }
      previous = size
      return problems
    })
  })

  // Go's checksum database paths (tile/<H>/<L>/<N>) are not C2SP paths.
  cases("goSumdbTilePathsForContrast").forEach((c, i) => {
    tally.case(`goSumdbTilePathsForContrast[${i}] ${getString(c, "path")}`, () => {
      const parsed = Tiles.parsePath(str(c, "path"))
      return Either.isLeft(parsed) ? [] : [`accepted as ${String(parsed.right)}`]
    })
  })
  return tally.result()
}
