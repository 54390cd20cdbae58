/** The policy and inputs of the admits in the ledger crash test (shared by the test and its child). */
import type { Input } from "@calybris/core/Input"
import { ledgerInput, ledgerPolicy } from "@calybris/testing/Fixtures"

export const policy = ledgerPolicy(3n)

/** An input whose cost grows with `tokens`. */
export const input = (sequence: bigint, tokens: number): Input =>
  ledgerInput({ request_sequence: sequence, input_tokens: tokens })
