import QRCode from 'qrcode'
import type { Services } from '../../container.js'
import { defineCommand } from '../args.js'
import { CliError, type CliContext } from '../context.js'

/** Enrols TOTP and prints what the user needs: the secret, the URL and a scannable QR code. */
async function printTotpEnrolment(ctx: CliContext, services: Services, username: string) {
  const enrolment = await services.mfa.enrolTotpFor(username)
  const qr = await QRCode.toString(enrolment.otpauthUrl, { type: 'terminal', small: true })
  ctx.out(`TOTP enabled for ${enrolment.username}`)
  ctx.out(`secret:      ${enrolment.secret}`)
  ctx.out(`otpauth URL: ${enrolment.otpauthUrl}`)
  ctx.out('scan with an authenticator app (Google Authenticator, Authy, 1Password):')
  ctx.out(qr.trimEnd())
}

export const userCreate = defineCommand({
  name: 'user create',
  usage:
    'user create <username> [--email E] [--phone P] [--role R]... [--password-stdin] [--totp]\n' +
    '                             create a user (the password is read from standard input;\n' +
    '                             --totp enrols TOTP and prints its QR code)',
  positionals: [{ what: 'a username' }],
  options: {
    email: { type: 'string' },
    phone: { type: 'string' },
    role: { type: 'string', multiple: true },
    'password-stdin': { type: 'boolean' },
    totp: { type: 'boolean' },
  },
  async run(ctx, { values, positionals }) {
    const username = positionals[0]!
    const password = values['password-stdin']
      ? (await ctx.readStdin()).replace(/\r?\n$/, '')
      : undefined
    // Said as what went wrong, not as "password must be at least 12 characters".
    if (password === '') throw new CliError('--password-stdin: no password on standard input')
    const services = await ctx.services()
    const id = await services.accounts.create(
      {
        username,
        password,
        email: values.email,
        phone: values.phone,
        roles: values.role ?? ['user'],
      },
      { details: { via: 'cli' } },
    )
    ctx.out(
      `created user ${username} (${id})${password === undefined ? ' without a password' : ''}`,
    )
    if (values.totp) await printTotpEnrolment(ctx, services, username)
  },
})

export const userTotp = defineCommand({
  name: 'user totp',
  usage:
    'user totp <username>         enrol a new TOTP secret (replacing any) and print its QR code',
  positionals: [{ what: 'a username' }],
  async run(ctx, { positionals }) {
    await printTotpEnrolment(ctx, await ctx.services(), positionals[0]!)
  },
})

export const userList = defineCommand({
  name: 'user list',
  usage: 'user list                    list users',
  readOnly: true,
  async run(ctx) {
    const services = await ctx.services()
    let cursor: string | undefined
    ctx.out(['id', 'username', 'email', 'roles', 'status'].join('\t'))
    do {
      const page = await services.userDirectory.list({ limit: 100, cursor })
      for (const u of page.items) {
        const status = u.disabled ? 'disabled' : u.locked || u.lockedOut ? 'locked' : 'active'
        ctx.out([u.id, u.username, u.email ?? '-', u.roles.join(','), status].join('\t'))
      }
      cursor = page.nextCursor ?? undefined
    } while (cursor)
  },
})
