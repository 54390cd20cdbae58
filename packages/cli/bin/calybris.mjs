#!/usr/bin/env node
// The package's `calybris` executable: the CLI is TypeScript run by tsx (a devDependency of the
// workspace root); from the repository root, `pnpm calybris …` does the same.
import { register } from "tsx/esm/api"

register()
await import("../src/bin.ts")
