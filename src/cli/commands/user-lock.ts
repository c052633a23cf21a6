import { CliError, type Command } from '../context.js'

function oneUsername(args: string[], usage: string): string {
  const [username, ...extra] = args
  if (!username || extra.length > 0 || username.startsWith('-'))
    throw new CliError(`usage: gatehouse ${usage.split('\n')[0]}`)
  return username
}

export const userLock: Command = {
  name: 'user lock',
  usage: 'user lock <username>          lock an account until unlocked; its sessions end',
  async run(ctx) {
    const username = oneUsername(ctx.args, userLock.usage)
    const { accountLocks } = await ctx.services()
    const userId = await accountLocks.resolve(username)
    const changed = await accountLocks.lock(userId, { via: 'cli', username })
    ctx.out(changed ? `locked ${username}; its sessions ended` : `${username} was already locked`)
  },
}

export const userUnlock: Command = {
  name: 'user unlock',
  usage:
    'user unlock <username>        lift an admin lock and an automatic lockout (and its throttling)',
  async run(ctx) {
    const username = oneUsername(ctx.args, userUnlock.usage)
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
}
