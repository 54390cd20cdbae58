import { postgresSetup, project } from "../../vitest.shared.js"

// on a real PostgreSQL: the globalSetup gives the tests CALYBRIS_TEST_DATABASE_URL (or starts a cluster)
export default project("budget-pg", { globalSetup: [postgresSetup] })
