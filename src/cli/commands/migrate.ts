import { defineCommand } from '../args.js'

export const migrate = defineCommand({
  name: 'migrate',
  usage: 'migrate                      create or update the database schema',
  createsDatabase: true,
  async run(ctx) {
    // services() migrates on first use; this command reports what that did.
    await ctx.services()
    const applied = ctx.appliedMigrations?.() ?? []
    ctx.out(
      applied.length === 0
        ? 'database is up to date'
        : `applied ${applied.length} migration${applied.length === 1 ? '' : 's'}: ${applied.join(', ')}`,
    )
  },
})
