/** The kinds of security notification NOTIFY_EVENTS chooses from (SPEC §4.13). */
export const NOTIFY_KINDS = [
  'new_device',
  'factor_changed',
  'mfa_disabled',
  'backup_code_used',
  'account_locked',
  'password_changed',
  'refresh_token_reused',
] as const
export type NotifyKind = (typeof NOTIFY_KINDS)[number]

export interface NoticeFacts {
  appName: string
  username: string
  kind: NotifyKind
  /** The audit event behind the notice, e.g. `password_reset` for a `password_changed`. */
  event: string
  occurredAt: Date
  ip: string | null
  userAgent: string | null
  details: Record<string, unknown>
  notMeUrl: string
}

export interface Notice {
  subject: string
  text: string
  html: string
  sms: string
}

const FACTOR_NAMES: Record<string, string> = {
  totp: 'an authenticator app (TOTP)',
  email: 'email codes',
  sms: 'SMS codes',
  webauthn: 'a passkey',
}

/** What happened, in one sentence, and a subject line. */
function headline(f: NoticeFacts): { subject: string; what: string } {
  switch (f.kind) {
    case 'new_device':
      return { subject: 'New sign-in', what: 'Your account was signed in to from a new device.' }
    case 'factor_changed': {
      if (f.event === 'backup_codes_regenerated')
        return {
          subject: 'New backup codes',
          what: 'A new set of backup codes was made for your account; the old ones no longer work.',
        }
      if (f.event === 'passkey_removed')
        return { subject: 'Passkey removed', what: 'A passkey was removed from your account.' }
      const method = typeof f.details.method === 'string' ? f.details.method : 'webauthn'
      const name = FACTOR_NAMES[method] ?? 'a second factor'
      return {
        subject: 'Second factor added',
        what: `A second factor was added to your account: ${name}.`,
      }
    }
    case 'mfa_disabled':
      return {
        subject: 'Two-step verification turned off',
        what:
          f.event === 'mfa_reset'
            ? 'An administrator removed every second factor and backup code from your account.'
            : 'Two-step verification was turned off: every second factor and backup code was removed from your account.',
      }
    case 'backup_code_used': {
      const left = typeof f.details.remaining === 'number' ? f.details.remaining : undefined
      const remaining =
        left === undefined ? '' : ` ${left} backup code${left === 1 ? ' is' : 's are'} left.`
      return {
        subject: 'Backup code used',
        what: `A backup code was used to sign in to your account.${remaining}`,
      }
    }
    case 'account_locked':
      return {
        subject: 'Account locked',
        what:
          f.event === 'user_updated'
            ? 'An administrator locked your account: it cannot sign in until it is unlocked, and every session of it was ended.'
            : 'Your account was locked for a while after too many failed sign-in attempts.',
      }
    case 'password_changed':
      return f.event === 'password_reset'
        ? { subject: 'Password reset', what: 'The password of your account was reset.' }
        : { subject: 'Password changed', what: 'The password of your account was changed.' }
    case 'refresh_token_reused':
      return {
        subject: 'Session ended after token reuse',
        what: 'A sign-in token of your account was used twice, which can mean it was copied; that session was ended.',
      }
  }
}

/** `2026-01-01 09:12:44 UTC`: readable, and unambiguous about the time zone. */
const utc = (d: Date) => `${d.toISOString().slice(0, 19).replace('T', ' ')} UTC`

const escapeHtml = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  )

/** The mail (plain text and HTML) and the SMS for one notice. */
export function composeNotice(f: NoticeFacts): Notice {
  const { subject, what } = headline(f)
  const facts: [string, string][] = [
    ['When', utc(f.occurredAt)],
    ['Address', f.ip ?? 'unknown'],
    ['Device', f.userAgent ?? 'unknown'],
  ]
  const ifNot =
    "If this wasn't you, open the link below (valid for 7 days, once): it signs your account " +
    'out everywhere and blocks the password until you reset it with "Forgot password".'
  const text = [
    `Hello ${f.username},`,
    '',
    what,
    '',
    ...facts.map(([k, v]) => `${`${k}:`.padEnd(9)}${v}`),
    '',
    'If this was you, there is nothing to do.',
    ifNot,
    '',
    f.notMeUrl,
    '',
    `— ${f.appName}`,
  ].join('\n')
  const html = [
    '<!doctype html><html><body style="font-family:sans-serif;line-height:1.5">',
    `<p>Hello ${escapeHtml(f.username)},</p>`,
    `<p>${escapeHtml(what)}</p>`,
    '<table>',
    ...facts.map(
      ([k, v]) => `<tr><th align="left">${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`,
    ),
    '</table>',
    '<p>If this was you, there is nothing to do.</p>',
    `<p>${escapeHtml(ifNot)}</p>`,
    `<p><a href="${escapeHtml(f.notMeUrl)}">This wasn't me</a></p>`,
    `<p>— ${escapeHtml(f.appName)}</p>`,
    '</body></html>',
  ].join('\n')
  const sms = `${f.appName}: ${what} ${utc(f.occurredAt)}, from ${f.ip ?? 'unknown'} (${shortDevice(f.userAgent)}). Not you? ${f.notMeUrl}`
  return { subject: `${f.appName}: ${subject}`, text, html, sms }
}

/** The device as an SMS names it: a user agent cut short, so the message stays one or two parts. */
function shortDevice(userAgent: string | null): string {
  if (!userAgent) return 'unknown device'
  return userAgent.length <= 40 ? userAgent : `${userAgent.slice(0, 39)}…`
}
