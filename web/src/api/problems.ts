/**
 * problem+json (SPEC §3) → what a person reads. No DOM and no Vue here, so unit tests in
 * test/unit run it as plain TypeScript.
 */
import { problemCodeOf, type ProblemCode } from './problem-codes.js'

export interface Problem {
  type?: string
  title?: string
  status: number
  detail?: string
  code?: string
}

export interface ProblemMessage {
  /** The form field the message belongs beside, when `detail` names one the form has. */
  field?: string
  message: string
}

const byCode: Partial<Record<ProblemCode, string>> = {
  invalid_credentials: 'The username or password is wrong.',
  invalid_code: 'That code is not right, or it has expired. Check it and try again.',
  invalid_token: 'Your session has ended. Please sign in again.',
  token_expired: 'Your session has expired. Please sign in again.',
  unauthorized: 'Please sign in first.',
  account_disabled: 'This account is disabled. Contact an administrator.',
  account_locked: 'This account is locked. Contact an administrator.',
  forbidden: 'You do not have permission to do that.',
  mfa_required:
    'This needs a sign-in with a second factor. If you have none yet, set one up under Account; then sign out and sign in again with it.',
  password_reset_required: 'This account needs a new password. Use "Forgot password" to set one.',
  not_found: 'That no longer exists.',
  conflict: 'That conflicts with something that already exists.',
  payload_too_large: 'That is too large to send.',
  delivery_failed: 'The message could not be delivered. Try again in a moment.',
  unavailable: 'The service is unavailable right now. Try again shortly.',
  malformed_request: 'The request could not be understood. Reload the page and try again.',
  unsupported_media_type: 'The request could not be understood. Reload the page and try again.',
  network: 'Could not reach the server. Check your connection and try again.',
  passkey_cancelled:
    'No passkey was used: the request was cancelled or timed out. Try again when you are ready.',
  passkey_exists: 'This device already holds a passkey for your account.',
  passkey_unsupported: 'This browser cannot use passkeys.',
  passkey_refused: 'That passkey was not accepted. Try again, or choose another way.',
  // mfa_required when adding or removing a passkey: the way back in is a passkey, not only a code.
  passkey_mfa_required:
    'Changing your passkeys needs a sign-in that used your second factor. Sign out, then sign in again with a passkey, or with your password and second step.',
  passkey_failed: 'The passkey could not be used here. Try again, or choose another way.',
}

/** "in 1 minute", "in 45 seconds", "in 2 hours" — from a Retry-After in seconds. */
export function retryPhrase(seconds: number): string {
  const s = Math.max(1, Math.ceil(seconds))
  if (s < 60) return `in ${s} second${s === 1 ? '' : 's'}`
  const m = Math.ceil(s / 60)
  if (m < 60) return `in ${m} minute${m === 1 ? '' : 's'}`
  const h = Math.ceil(m / 60)
  return `in ${h} hour${h === 1 ? '' : 's'}`
}

function sentence(text: string): string {
  const trimmed = text.trim()
  if (trimmed === '') return trimmed
  const capital = trimmed[0]!.toUpperCase() + trimmed.slice(1)
  return /[.!?]$/.test(capital) ? capital : `${capital}.`
}

/**
 * Which field a `detail` names: "body.password: must be…", "new_password must be…",
 * "quantity: must be an integer", "current_password is wrong". Only names in `fields` count,
 * so a detail about something the form does not show goes to the top of the form.
 */
export function fieldOf(detail: string, fields: readonly string[]): string | undefined {
  const match = /^(?:body\.|query\.|params\.)?([a-z_][a-z0-9_]*)(?:\.[a-z0-9_.]+)?(?::|\s)/i.exec(
    detail,
  )
  const name = match?.[1]
  return name !== undefined && fields.includes(name) ? name : undefined
}

/** What the server's schema patterns ask for, in words (SPEC §7: human messages). */
const PATTERNS: Record<string, string> = {
  '^\\+[1-9][0-9]{6,14}$': 'must be an international number, such as +14155550100',
  '^[a-z][a-z0-9_.-]{0,63}$':
    'may use only lower-case letters, digits and . _ -, and must start with a letter',
}

/**
 * A schema check's wording ("must not have fewer than 1 characters", "must match pattern
 * …", "must be number") as a person would say it; rules the server words itself ("must be
 * at least 12 characters", "is too common") pass through.
 */
function plainRule(rule: string): string {
  const rules: [RegExp, (m: RegExpExecArray) => string][] = [
    [/^must have required propert(y|ies)\b/, () => 'is required'],
    [/^must not have fewer than 1 characters?$/, () => 'is required'],
    [/^must not have fewer than (\d+) characters$/, (m) => `needs at least ${m[1]} characters`],
    [/^must not have more than (\d+) characters$/, (m) => `can have at most ${m[1]} characters`],
    [/^must match pattern "(.*)"$/, (m) => PATTERNS[m[1]!] ?? 'is not in the expected form'],
    [/^must be number$/, () => 'must be a number'],
    [/^must be integer$/, () => 'must be a whole number'],
    [/^must be string$/, () => 'must be text'],
    [/^must be boolean$/, () => 'must be yes or no'],
    [/^must be >= (\S+)$/, (m) => `must be at least ${m[1]}`],
    [/^must be <= (\S+)$/, (m) => `must be at most ${m[1]}`],
    [/^must be equal to one of the allowed values$/, () => 'is not one of the choices'],
  ]
  for (const [pattern, say] of rules) {
    const m = pattern.exec(rule)
    if (m) return say(m)
  }
  return rule
}

/** The detail without its "body." prefix, with the field written as words: "New password must…". */
function humanDetail(detail: string): string {
  const plain = detail.replace(/^(?:body|query|params)\./, '')
  // "price.0: must be number" → "Price must be a number": the path inside the field adds nothing.
  const match = /^([a-z_][a-z0-9_]*)(?:\.[a-z0-9_.]+)?:?\s*(.*)$/i.exec(plain)
  if (!match) return sentence(plain)
  const [, name, rest] = match
  return sentence(`${name!.replaceAll('_', ' ')} ${plainRule(rest!)}`)
}

export function messageFor(
  problem: Problem,
  opts: { fields?: readonly string[]; retryAfterSec?: number } = {},
): ProblemMessage {
  const detail = problem.detail ?? ''
  if (problem.status === 429 || problem.code === 'rate_limited') {
    const when = opts.retryAfterSec !== undefined ? retryPhrase(opts.retryAfterSec) : 'later'
    return { message: `Too many attempts. Please try again ${when}.` }
  }
  if (problem.code === 'validation_error' && detail !== '') {
    const field = fieldOf(detail, opts.fields ?? [])
    return field ? { field, message: humanDetail(detail) } : { message: humanDetail(detail) }
  }
  if (problem.code === 'conflict' && detail !== '') {
    const field = fieldOf(detail, opts.fields ?? [])
    // "name: a role named x already exists" reads "A role named x already exists." beside Name.
    const text = detail.replace(/^[a-z_]+:\s*/i, '')
    return field ? { field, message: sentence(text) } : { message: sentence(text) }
  }
  if (problem.code === 'invalid_credentials' && detail !== '') {
    // Re-checks of the signed-in user's password name the field ("current_password is wrong").
    const field = fieldOf(detail, opts.fields ?? [])
    if (field) return { field, message: humanDetail(detail) }
  }
  if (problem.code === 'invalid_code' && opts.fields?.includes('code')) {
    return { field: 'code', message: byCode.invalid_code! }
  }
  const known = byCode[problemCodeOf(problem.code)]
  if (known) return { message: known }
  if (problem.status >= 500) return { message: byCode.unavailable! }
  return { message: sentence(detail || problem.title || 'Something went wrong.') }
}
