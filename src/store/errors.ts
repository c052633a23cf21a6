import { GatehouseError } from '../services/errors.js'

interface DriverError {
  code?: unknown
  errno?: unknown
}

/** True for a unique-key violation on any of the three drivers. */
export function isUniqueViolation(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false
  const { code, errno } = err as DriverError
  return (
    code === '23505' || // PostgreSQL unique_violation
    code === 'ER_DUP_ENTRY' ||
    errno === 1062 || // MySQL / MariaDB
    code === 'SQLITE_CONSTRAINT_UNIQUE' ||
    code === 'SQLITE_CONSTRAINT_PRIMARYKEY'
  )
}

/** Runs a write and turns a unique-key violation into `409 conflict` with the given detail. */
export async function withConflict<T>(detail: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write()
  } catch (err) {
    if (isUniqueViolation(err)) throw new GatehouseError('conflict', { detail })
    throw err
  }
}
