import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose'
import { beforeAll, describe, expect, it } from 'vitest'
import { testDatabases } from '../support/databases.js'
import { useTestApp } from '../support/harness.js'
import { registerAndLogin } from '../support/http.js'
import { apiKey } from '../support/principals.js'

const databases = await testDatabases()
const ISSUER = 'https://auth.example.com'
const FORM = { 'content-type': 'application/x-www-form-urlencoded' }

interface Metadata {
  issuer: string
  jwks_uri: string
  token_endpoint: string
  introspection_endpoint: string
  grant_types_supported: string[]
  token_endpoint_auth_methods_supported: string[]
  introspection_endpoint_auth_methods_supported: string[]
}

/**
 * Issue 10, item 7: the RFC 8414 document advertised `grant_types_supported: ["password",
 * "refresh_token"]` at a token endpoint that refused the form bodies those grants use (415).
 * Now that the OpenID provider exists it is the provider's document (issue 13, item 6), and
 * every advertised endpoint is called the way the document says it can be.
 */
describe.each(databases)('authorization-server metadata on $name', (database) => {
  const { t, api } = useTestApp(database, { env: { PUBLIC_URL: ISSUER } })
  let meta: Metadata
  const path = (url: string) => {
    expect(url.startsWith(`${ISSUER}/`)).toBe(true)
    return url.slice(ISSUER.length)
  }

  beforeAll(async () => {
    meta = (await api.get<Metadata>('/.well-known/oauth-authorization-server')).body
  })

  it("is the OpenID provider's discovery document plus introspection (SPEC §4.10)", async () => {
    const openid = (await api.get<Record<string, unknown>>('/.well-known/openid-configuration'))
      .body
    expect(meta.issuer).toBe(ISSUER)
    for (const member of [
      'token_endpoint',
      'jwks_uri',
      'grant_types_supported',
      'authorization_endpoint',
      'revocation_endpoint',
      'token_endpoint_auth_methods_supported',
    ])
      expect(meta[member as keyof Metadata], member).toEqual(openid[member])
    expect(meta.token_endpoint).toBe(`${ISSUER}/oidc/token`)
    // No grant the provider refuses: neither ROPC nor implicit (SPEC §4.12).
    expect(meta.grant_types_supported).toEqual(
      expect.arrayContaining(['authorization_code', 'refresh_token']),
    )
    expect(meta.grant_types_supported).not.toContain('password')
    expect(meta.grant_types_supported).not.toContain('implicit')
  })

  it('the token endpoint is served and speaks OAuth: a form body gets an OAuth error, not 404 or 415', async () => {
    const res = await api.call('POST', path(meta.token_endpoint), {
      headers: FORM,
      body: 'grant_type=refresh_token&refresh_token=not-a-token&client_id=nobody',
    })
    expect([400, 401]).toContain(res.status)
    expect(typeof res.body.error).toBe('string')
  })

  it('the token endpoint refuses a grant it does not advertise', async () => {
    const res = await api.call('POST', path(meta.token_endpoint), {
      headers: FORM,
      body: 'grant_type=password&username=disco&password=whatever%20it%20is&client_id=nobody',
    })
    expect([400, 401]).toContain(res.status)
    expect(res.body.error).toMatch(/^(unsupported_grant_type|invalid_client)$/)
  })

  it('the JWKS verifies the tokens the service issues', async () => {
    const tokens = await registerAndLogin(api, 'disco-jwks')
    const jwks = await api.get<JSONWebKeySet>(path(meta.jwks_uri))
    // With the README's checks for a backend, typ included (RFC 9068).
    const { payload } = await jwtVerify(tokens.access_token, createLocalJWKSet(jwks.body), {
      issuer: meta.issuer,
      audience: 'gatehouse',
      algorithms: ['EdDSA'],
      typ: 'at+jwt',
      currentDate: t.clock.now(),
    })
    expect(payload.sub).toBe(tokens.user.id)
  })

  it('lets the JWKS be cached no longer than a key rotation takes to spread (5 s)', async () => {
    const discovery = await api.get<{ jwks_uri: string }>('/.well-known/openid-configuration')
    for (const uri of [meta.jwks_uri, discovery.body.jwks_uri]) {
      const res = await api.get(path(uri))
      expect(res.status, uri).toBe(200)
      expect(res.headers['cache-control'], uri).toBe('public, max-age=5')
    }
  })

  it.each(['form', 'json'] as const)(
    'the introspection endpoint answers with the advertised auth method (%s body)',
    async (encoding) => {
      expect(meta.introspection_endpoint_auth_methods_supported).toEqual(['X-API-Key'])
      const key = (await apiKey(t, ['introspect'], `disco-${encoding}`)).key
      const tokens = await registerAndLogin(api, `disco-intro-${encoding}`)
      const res = await api.call('POST', path(meta.introspection_endpoint), {
        headers: { 'x-api-key': key, ...(encoding === 'form' ? FORM : {}) },
        body:
          encoding === 'form'
            ? new URLSearchParams({ token: tokens.access_token }).toString()
            : { token: tokens.access_token },
      })
      expect(res.status).toBe(200)
      expect(res.body).toMatchObject({ active: true, username: `disco-intro-${encoding}` })
    },
  )
})
