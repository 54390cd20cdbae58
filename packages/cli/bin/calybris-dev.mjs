// `pnpm calybris …` (the repository's script, from the sources): pnpm runs a script from the
// repository root and passes the folder it was called from as INIT_CWD; relative paths on the
// command line (`--journal ledger.jsonl`, `--key-file ledger.key`) mean the caller's folder, so
// the CLI runs there.
import { register } from "tsx/esm/api"

register()
if (process.env.INIT_CWD) process.chdir(process.env.INIT_CWD)
// the commands the CLI prints start with `pnpm calybris` (Invocation.ts)
process.env.CALYBRIS_LAUNCHER = "pnpm"
await import("../src/bin.ts")
