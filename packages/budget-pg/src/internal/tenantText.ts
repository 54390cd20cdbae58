import * as Hash from "@calybris/core/Hash"

/** (`ignoreBOM`: an id that starts with U+FEFF keeps it) */
const fromUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })

/**
 * A tenant id read from the database, as text. One that is not UTF-8 (written behind the ledger's
 * back: every id the ledger writes is) throws an `Error` naming its bytes, for the statement to
 * make its typed failure (a defect before; a hostile review).
 */
export const tenantText = (id: Uint8Array): string => {
  try {
    return fromUtf8.decode(id)
  } catch {
    throw new Error(`a tenant id is not UTF-8 (hex ${Hash.toHex(id)})`)
  }
}
