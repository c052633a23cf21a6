import { parseArgs } from 'node:util'
import { CliError, type Command } from '../context.js'

export const userCreate: Command = {
  name: 'user create',
  usage:
    'user create <username> [--email E] [--phone P] [--role R]... [--password-stdin]\n' +
    '                             create a user (the password is read from standard input)',
  async run(ctx) {
    const { values, positionals } = parseArgs({
      args: ctx.args,
      allowPositionals: true,
      options: {
        email: { type: 'string' },
        phone: { type: 'string' },
        role: { type: 'string', multiple: true },
        'password-stdin': { type: 'boolean' },
      },
    })
    const [username, ...extra] = positionals
    if (!username || extra.length > 0)
      throw new CliError(`usage: gatehouse ${userCreate.usage.split('\n')[0]}`)
    const password = values['password-stdin']
      ? (await ctx.readStdin()).replace(/\r?\n$/, '')
      : undefined
    const services = await ctx.services()
    const id = await services.accounts.create({
      username,
      password,
      email: values.email,
      phone: values.phone,
      roles: values.role ?? ['user'],
    })
    await services.audit.record({
      event: 'register',
      outcome: 'success',
      userId: id,
      username,
      details: { via: 'cli' },
    })
    ctx.out(
      `created user ${username} (${id})${password === undefined ? ' without a password' : ''}`,
    )
  },
}

export const userList: Command = {
  name: 'user list',
  usage: 'user list                    list users',
  async run(ctx) {
    const services = await ctx.services()
    let cursor: string | undefined
    ctx.out(['id', 'username', 'email', 'roles', 'status'].join('\t'))
    do {
      const page = await services.userDirectory.list({ limit: 100, cursor })
      for (const u of page.items) {
        const status = u.disabled ? 'disabled' : u.locked ? 'locked' : 'active'
        ctx.out([u.id, u.username, u.email ?? '-', u.roles.join(','), status].join('\t'))
      }
      cursor = page.nextCursor ?? undefined
    } while (cursor)
  },
}
