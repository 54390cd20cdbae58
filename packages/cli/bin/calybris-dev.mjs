// `pnpm calybris …` (the repository's script, from the sources): pnpm runs a script from the
// repository root and passes the folder it was called from as INIT_CWD; relative paths on the
// command line (`--journal ledger.jsonl`, `--key-file ledger.key`) mean the caller's folder, so
// the CLI runs there.
import { fileURLToPath } from "node:url"
import { register } from "tsx/esm/api"

register()
if (process.env.INIT_CWD) process.chdir(process.env.INIT_CWD)
// the commands the CLI prints start with `pnpm --dir ROOT calybris` (Invocation.ts): runnable
// from any folder, this repository's root named
process.env.CALYBRIS_LAUNCHER = "pnpm"
process.env.CALYBRIS_LAUNCHER_ROOT = fileURLToPath(new URL("../../..", import.meta.url)).replace(/\/$/, "")
await import("../src/bin.ts")
