/** The same record with its branded integers as plain numbers / bigints (for test fixtures). */
export type Plain<T> = {
  readonly [K in keyof T]: T[K] extends number ? number
    : T[K] extends bigint ? bigint
    : T[K] extends string ? T[K]
    : T[K]
}
