import { OIDC_SCOPES } from '../../services/oidc/clients.js'
import { defineCommand } from '../args.js'

export const clientCreate = defineCommand({
  name: 'client create',
  usage:
    'client create <name> --redirect-uri URI... [--type public|confidential] [--require-mfa]\n' +
    '                             [--post-logout-redirect-uri URI]... [--scope S]... [--resource URI]...\n' +
    '                             [--id-token-alg RS256|EdDSA]\n' +
    '                             register an OpenID Connect client; a secret is printed once;\n' +
    `                             --scope adds a scope (e.g. an API's) to ${OIDC_SCOPES.join(' ')}`,
  positionals: [{ what: 'a name' }],
  options: {
    'redirect-uri': { type: 'string', multiple: true },
    'post-logout-redirect-uri': { type: 'string', multiple: true },
    type: { type: 'string' },
    scope: { type: 'string', multiple: true },
    resource: { type: 'string', multiple: true },
    'require-mfa': { type: 'boolean' },
    'id-token-alg': { type: 'string' },
  },
  async run(ctx, { values, positionals, refuse }) {
    const name = positionals[0]!
    const redirectUris = values['redirect-uri'] ?? []
    if (redirectUris.length === 0) throw refuse('at least one --redirect-uri is required')
    const type = values.type ?? 'confidential'
    if (type !== 'public' && type !== 'confidential')
      throw refuse('--type must be public or confidential')
    const alg = values['id-token-alg'] ?? 'RS256'
    if (alg !== 'RS256' && alg !== 'EdDSA') throw refuse('--id-token-alg must be RS256 or EdDSA')
    const { oidcClients } = await ctx.services()
    const { client, clientSecret } = await oidcClients.create(
      {
        name,
        type,
        redirectUris,
        postLogoutRedirectUris: values['post-logout-redirect-uri'],
        requireMfa: values['require-mfa'] ?? false,
        // Added to, not instead of, the OpenID Connect scopes: `--scope api:read` is asked
        // for to reach an API, and a client without `openid` could sign nobody in.
        scopes: values.scope && [
          ...OIDC_SCOPES,
          ...values.scope.flatMap((s) => s.split(/[ ,]/)).filter(Boolean),
        ],
        resources: values.resource,
        idTokenSignedResponseAlg: alg,
      },
      { actorId: null },
    )
    ctx.out(`created ${client.type} client ${name}`)
    ctx.out(`client_id: ${client.clientId}`)
    if (clientSecret !== undefined) {
      ctx.out('the secret is shown only now; store it safely:')
      ctx.out(`client_secret: ${clientSecret}`)
    }
  },
})

export const clientList = defineCommand({
  name: 'client list',
  usage: 'client list                  list OpenID Connect clients',
  async run(ctx) {
    const { oidcClients } = await ctx.services()
    ctx.out(['client_id', 'name', 'type', 'require_mfa', 'redirect_uris', 'created_at'].join('\t'))
    let cursor: string | undefined
    do {
      const page = await oidcClients.list({ limit: 100, cursor })
      for (const c of page.items) {
        ctx.out(
          [
            c.clientId,
            c.name,
            c.type,
            String(c.requireMfa),
            c.redirectUris.join(','),
            c.createdAt.toISOString(),
          ].join('\t'),
        )
      }
      cursor = page.nextCursor ?? undefined
    } while (cursor)
  },
})

export const clientDelete = defineCommand({
  name: 'client delete',
  usage: 'client delete <client_id>    delete an OpenID Connect client',
  positionals: [{ what: 'a client_id' }],
  async run(ctx, { positionals }) {
    const id = positionals[0]!
    const { oidcClients } = await ctx.services()
    await oidcClients.remove(id, { actorId: null })
    ctx.out(`deleted client ${id}; its tokens are refused from now on`)
  },
})
