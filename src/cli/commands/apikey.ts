import { API_KEY_SCOPES, type ApiKeyScope } from '../../services/apikeys/api-keys.js'
import { defineCommand } from '../args.js'
import { CliError } from '../context.js'

const isScope = (s: string): s is ApiKeyScope => (API_KEY_SCOPES as readonly string[]).includes(s)

export const apikeyCreate = defineCommand({
  name: 'apikey create',
  usage:
    'apikey create <name> --scope S... [--owner O]\n' +
    `                             create an API key (scopes: ${API_KEY_SCOPES.join(', ')}); the key is printed once`,
  positionals: [{ what: 'a name' }],
  options: {
    scope: { type: 'string', multiple: true },
    owner: { type: 'string' },
  },
  async run(ctx, { values, positionals, refuse }) {
    const name = positionals[0]!
    const scopes = (values.scope ?? []).flatMap((s) => s.split(','))
    if (scopes.length === 0) throw refuse('at least one --scope is required')
    const unknown = scopes.filter((s) => !isScope(s))
    if (unknown.length > 0)
      throw new CliError(`unknown scope ${unknown.join(', ')}; use ${API_KEY_SCOPES.join(', ')}`)
    const { apiKeys } = await ctx.services()
    const { apiKey, key } = await apiKeys.create(
      { name, scopes: [...new Set(scopes.filter(isScope))], owner: values.owner ?? 'cli' },
      { actorId: null },
    )
    ctx.out(
      `created API key ${apiKey.id} (${name}, owner ${apiKey.owner}, scopes ${apiKey.scopes.join(',')})`,
    )
    ctx.out('the key is shown only now; store it safely:')
    ctx.out(key)
  },
})

export const apikeyList = defineCommand({
  name: 'apikey list',
  usage: 'apikey list                  list API keys in force',
  readOnly: true,
  async run(ctx) {
    const { apiKeys } = await ctx.services()
    ctx.out(['id', 'name', 'owner', 'scopes', 'created_at', 'last_used_at'].join('\t'))
    let cursor: string | undefined
    do {
      const page = await apiKeys.list({ limit: 100, cursor })
      for (const k of page.items) {
        ctx.out(
          [
            k.id,
            k.name,
            k.owner,
            k.scopes.join(','),
            k.createdAt.toISOString(),
            k.lastUsedAt?.toISOString() ?? '-',
          ].join('\t'),
        )
      }
      cursor = page.nextCursor ?? undefined
    } while (cursor)
  },
})

export const apikeyRevoke = defineCommand({
  name: 'apikey revoke',
  usage: 'apikey revoke <id>           revoke an API key',
  positionals: [{ what: 'an id' }],
  async run(ctx, { positionals }) {
    const id = positionals[0]!
    const { apiKeys } = await ctx.services()
    await apiKeys.revoke(id, { actorId: null })
    ctx.out(`revoked API key ${id}; running instances refuse it within seconds`)
  },
})
