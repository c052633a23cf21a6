import type { ExpressionBuilder } from 'kysely'
import type { Database } from '../tables.js'

/**
 * The users a login identifier names: the normalized username or email. The login guard and
 * the password step must pick the same account (the oldest, ordering by `created_at`).
 */
export const namedBy = (identifier: string) => (eb: ExpressionBuilder<Database, 'users'>) =>
  eb.or([
    eb('users.username_normalized', '=', identifier),
    eb('users.email_normalized', '=', identifier),
  ])
