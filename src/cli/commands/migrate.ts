import type { Command } from '../context.js'

export const migrate: Command = {
  name: 'migrate',
  usage: 'migrate                      create or update the database schema',
  async run(ctx) {
    // services() migrates on first use; this command only reports it.
    await ctx.services()
    ctx.out('database is up to date')
  },
}
