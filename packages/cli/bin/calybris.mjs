#!/usr/bin/env node
// The `calybris` executable: the CLI's bundle, which `pnpm build` writes to dist/bundle (one ES
// module and its lazily loaded chunks). This file is committed so that the bin exists before the
// build: installing the workspace links it without a warning.
import "../dist/bundle/calybris.mjs"
