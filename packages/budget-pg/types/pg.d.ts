/**
 * The part of `pg` (node-postgres, a dependency of `@effect/sql-pg`, without types of its own)
 * that `src/internal/pgPool.ts` uses (outside `src`: not published; no emitted declaration names it).
 */
declare module "pg" {
  export interface PoolConfig {
    readonly connectionString?: string | undefined
    readonly application_name?: string | undefined
    readonly max?: number | undefined
    readonly Client?: typeof Client | undefined
    /** run on each new connection before the pool hands it out; a rejection fails the connection */
    readonly onConnect?: ((client: Client) => Promise<unknown>) | undefined
  }
  export class Client {
    constructor(config?: Record<string, unknown>)
    query(config: { readonly text: string; readonly query_timeout?: number }): Promise<unknown>
  }
  export class Pool {
    constructor(config: PoolConfig)
    query(config: { readonly text: string; readonly query_timeout?: number }): Promise<unknown>
    end(): Promise<void>
    on(event: "error", listener: (error: Error) => void): this
  }
  const pg: { readonly Pool: typeof Pool; readonly Client: typeof Client }
  export default pg
}
