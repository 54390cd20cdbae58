/** Shared by the tree log's tests. */
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
