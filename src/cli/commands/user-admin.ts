import { parseArgs } from 'node:util'
import { CliError, type CliContext, type Command } from '../context.js'

// The CLI is the operator's way back in (e.g. after the last admin was locked), so its
// changes are made with no acting admin and are not held to the last-admin rule.
const operator = { actorId: null }

function oneUsername(ctx: CliContext, usage: string): string {
  const { positionals } = parseArgs({ args: ctx.args, allowPositionals: true, options: {} })
  const [username, ...extra] = positionals
  if (!username || extra.length > 0) throw new CliError(`usage: gatehouse ${usage}`)
  return username
}

// `user lock` and `user unlock` live in user-lock.ts: they also govern automatic lockouts.

export const userDelete: Command = {
  name: 'user delete',
  usage: 'user delete <username>       delete an account and everything it owns',
  async run(ctx) {
    const username = oneUsername(ctx, 'user delete <username>')
    const { userAdmin } = await ctx.services()
    await userAdmin.remove(await userAdmin.idOf(username), operator)
    ctx.out(`deleted ${username}`)
  },
}

export const userRoles: Command = {
  name: 'user roles',
  usage:
    'user roles <username> <role>...\n' + '                             set the roles of a user',
  async run(ctx) {
    const { positionals } = parseArgs({ args: ctx.args, allowPositionals: true, options: {} })
    const [username, ...roles] = positionals
    if (!username || roles.length === 0)
      throw new CliError('usage: gatehouse user roles <username> <role>...')
    const { userAdmin } = await ctx.services()
    const profile = await userAdmin.update(await userAdmin.idOf(username), { roles }, operator)
    ctx.out(`${profile.username} now has the roles ${profile.roles.join(', ')}`)
  },
}
