import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    projects: ["packages/*", "test", "test/postgres", "bench"],
    // Test files run one after another in one worker process (per project), not each in a fresh
    // one: a fresh process re-imports Effect's hundreds of modules for every file, ~1 s a file on
    // these 2-core machines (measured: the core and budget projects, 32 files, 94 s → 47 s; the
    // whole suite's collect time 115 s → 32 s). So a test file leaves the process as it found it:
    // an environment variable it sets is restored, a worker or server it starts is stopped, and
    // nothing is mocked (no `vi.mock`).
    isolate: false
  }
})
