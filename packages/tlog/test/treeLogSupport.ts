/** Shared by the tree log's tests. */
import { createHmac } from "node:crypto"
import * as nodeFs from "node:fs"

/** Every file under `dir` (relative paths, sorted). */
export const filesUnder = (dir: string): Array<string> =>
  (nodeFs.readdirSync(dir, { recursive: true }) as Array<string>)
    .filter((p) => nodeFs.statSync(`${dir}/${p}`).isFile())
    .sort()

/** The lines of a log's bytes, each without its LF (a final line without LF included): the tree's leaves. */
export const linesOf = (bytes: Uint8Array): Array<Uint8Array> => {
  const out: Array<Uint8Array> = []
  let from = 0
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === 0x0a) {
      out.push(bytes.slice(from, i))
      from = i + 1
    }
  }
  if (from < bytes.length) out.push(bytes.slice(from))
  return out
}

/**
 * The bytes of `tree-head` for `size` and `rootHex`, computed here with `node:crypto` (not the
 * library's code): `<size>\n<root hex>\n`, and for a keyed log the HMAC-SHA256 under its key of
 * `calybris tlog tree-head v1\n<size>\n<root hex>\n`, in hex, on a third line.
 */
export const headText = (size: bigint | number, rootHex: string, key?: Uint8Array): string => {
  const body = `${size}\n${rootHex}\n`
  return key === undefined
    ? body
    : `${body}${createHmac("sha256", key).update(`calybris tlog tree-head v1\n${body}`).digest("hex")}\n`
}
