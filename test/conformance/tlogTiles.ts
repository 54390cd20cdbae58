/** The transparency log's vectors (shared/tlog-vectors): not handled yet (issue 17, in progress). */
import type { FileResult } from "./vectors.js"

const notYet = (): FileResult => ({ passed: 0, failed: 0, failures: [], skipped: "not handled yet" })

export const runTiles = (_file: string): FileResult => notYet()
