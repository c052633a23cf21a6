import { defineCommand } from '../args.js'

// The CLI is the operator's way back in (e.g. after the last admin was locked), so its
// changes are made with no acting admin and are not held to the last-admin rule.
const operator = { actorId: null }

// `user lock` and `user unlock` live in user-lock.ts: they also govern automatic lockouts.

export const userDelete = defineCommand({
  name: 'user delete',
  usage: 'user delete <username>       delete an account and everything it owns',
  positionals: [{ what: 'a username' }],
  async run(ctx, { positionals }) {
    const username = positionals[0]!
    const { userAdmin } = await ctx.services()
    await userAdmin.remove(await userAdmin.idOf(username), operator)
    ctx.out(`deleted ${username}`)
  },
})

export const userRoles = defineCommand({
  name: 'user roles',
  usage:
    'user roles <username> <role>...\n' + '                             set the roles of a user',
  positionals: [{ what: 'a username' }, { what: 'at least one role', many: true }],
  async run(ctx, { positionals }) {
    const [username, ...roles] = positionals as [string, ...string[]]
    const { userAdmin } = await ctx.services()
    const profile = await userAdmin.update(await userAdmin.idOf(username), { roles }, operator)
    ctx.out(`${profile.username} now has the roles ${profile.roles.join(', ')}`)
  },
})
