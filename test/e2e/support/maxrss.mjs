// Preloaded into a CLI child by the e2e tests: report the process's peak RSS (KiB) on stderr at exit.
process.on("exit", () => {
  process.stderr.write(`\ncalybris-test-maxrss-kb=${process.resourceUsage().maxRSS}\n`)
})
