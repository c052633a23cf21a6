import { defineCommand } from '../args.js'

export const userLock = defineCommand({
  name: 'user lock',
  usage: 'user lock <username>          lock an account until unlocked; its sessions end',
  positionals: [{ what: 'a username' }],
  async run(ctx, { positionals }) {
    const username = positionals[0]!
    const { accountLocks } = await ctx.services()
    const userId = await accountLocks.resolve(username)
    const changed = await accountLocks.lock(userId, { via: 'cli', username })
    ctx.out(changed ? `locked ${username}; its sessions ended` : `${username} was already locked`)
  },
})

export const userUnlock = defineCommand({
  name: 'user unlock',
  usage:
    'user unlock <username>        lift an admin lock and an automatic lockout (and its throttling)',
  positionals: [{ what: 'a username' }],
  async run(ctx, { positionals }) {
    const username = positionals[0]!
    const { accountLocks } = await ctx.services()
    const userId = await accountLocks.resolve(username)
    const lifted = await accountLocks.unlock(userId, { via: 'cli', username })
    const what = [
      ...(lifted.adminLock ? ['admin lock'] : []),
      ...(lifted.lockout ? ['automatic lockout'] : []),
    ]
    ctx.out(
      what.length > 0
        ? `unlocked ${username} (lifted: ${what.join(', ')})`
        : `${username} was not locked; failed-login counters reset`,
    )
  },
})
