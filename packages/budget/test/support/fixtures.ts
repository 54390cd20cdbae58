import type { Input } from "@calybris/core/Input"
import { ledgerInput, ledgerPolicy } from "@calybris/testing/Fixtures"
import type { Plain } from "@calybris/testing/Plain"

export const policy = ledgerPolicy(1n)

export const input = (sequence: number, over: Partial<Plain<Input>> = {}): Input =>
  ledgerInput({ request_sequence: BigInt(sequence), ...over })

/** The same catalogue under another policy epoch: the same decisions and costs, another policy digest. */
export const otherPolicy = ledgerPolicy(2n)
