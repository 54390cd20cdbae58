import * as os from "node:os"
import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    projects: ["packages/*", "test", "test/postgres", "bench"],
    // Test files share a worker process (per project), one file after another in it, not each in
    // a fresh one: a fresh process re-imports Effect's hundreds of modules for every file, ~1 s a
    // file on these 2-core machines (measured: the core and budget projects, 32 files, 94 s → 47 s;
    // the whole suite's collect time 115 s → 32 s). So a test file leaves the process as it found it:
    // an environment variable it sets is restored, a worker or server it starts is stopped, and
    // nothing is mocked (no `vi.mock`).
    isolate: false,
    // One test file per core at a time. vitest's default on a 2-core machine is one worker (its
    // cores minus one), so the files ran one after another, the second core mostly idle while a
    // test waited on a child process or PostgreSQL (measured on this 2-core kind, the whole suite
    // with its PostgreSQL server: 633 s with one worker, 500 s with two, the same 1,363 tests
    // passing). Test files share nothing that two at once could trip over: each takes its own
    // temp folders and its own database, and the bundles children run are built once, atomically.
    // Which files share a process then varies from run to run, so a file must not depend on the
    // one before it: vitest.setup.ts restores @effect/vitest's `it` before each file (a `layer`
    // leaked into the next file's tests; found by this change).
    maxWorkers: os.availableParallelism()
  }
})
