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

/** True when the database chose this statement's transaction as a deadlock's victim. */
export function isDeadlock(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false
  const { code, errno } = err as DriverError
  return (
    code === '40P01' || // PostgreSQL deadlock_detected
    code === 'ER_LOCK_DEADLOCK' ||
    errno === 1213 // MySQL / MariaDB
  )
}

/**
 * Runs a write again when it lost a deadlock. The database rolled the victim's transaction
 * back whole, so a write that may simply be repeated (a delete, a replace, a conditional
 * update) is; InnoDB picks such victims among concurrent deletes and inserts of neighbouring
 * rows even when each statement alone is correct.
 */
export async function retryOnDeadlock<T>(write: () => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write()
    } catch (err) {
      if (attempt >= attempts || !isDeadlock(err)) throw err
    }
  }
}

// Node's socket errors, and the codes mysql2 gives a lost or refused connection.
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ER_CON_COUNT_ERROR',
  // SQLite: another process held the write lock past busy_timeout.
  'SQLITE_BUSY',
])

// pg's own messages for a connection it lost, could not make in time, or gave up on.
const PG_CONNECTION_MESSAGE =
  /^(Connection terminated|Query read timeout|timeout exceeded when trying to connect|Client has encountered a connection error|Client was closed and is not queryable)/

/**
 * True when the database could not be reached (refused, cut, timed out), as opposed to a
 * query it refused. SPEC §3 answers these `503 unavailable`, never 500.
 */
export function isDatabaseUnavailable(err: unknown, depth = 0): boolean {
  if (typeof err !== 'object' || err === null || depth > 3) return false
  const { code, fatal, message, cause } = err as DriverError & {
    fatal?: unknown
    message?: unknown
    cause?: unknown
  }
  if (typeof code === 'string') {
    if (CONNECTION_CODES.has(code)) return true
    // PostgreSQL SQLSTATE class 08 (connection exception), 57P01–03 (shutting down, cannot
    // connect now) and 53300 (too many connections).
    if (/^08[0-9A-Z]{3}$|^57P0[1-3]$|^53300$/.test(code)) return true
  }
  // mysql2 marks every error that ends the connection as fatal.
  if (fatal === true) return true
  if (typeof message === 'string' && PG_CONNECTION_MESSAGE.test(message)) return true
  return isDatabaseUnavailable(cause, depth + 1)
}
