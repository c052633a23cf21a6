import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose'
import { beforeAll, describe, expect, it } from 'vitest'
import { testDatabases } from '../support/databases.js'
import { useTestApp } from '../support/harness.js'
import { registerAndLogin, type Tokens } from '../support/http.js'
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
 * Here every advertised endpoint is called the way the document says it can be.
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

  it('names the issuer and advertises only the refresh_token grant from public clients', () => {
    expect(meta.issuer).toBe(ISSUER)
    expect(meta.grant_types_supported).toEqual(['refresh_token'])
    expect(meta.token_endpoint_auth_methods_supported).toEqual(['none'])
  })

  it.each(['form', 'json'] as const)(
    'the token endpoint grants every advertised grant type (%s body)',
    async (encoding) => {
      for (const grant of meta.grant_types_supported) {
        const tokens = await registerAndLogin(api, `disco-${encoding}-${grant.replace('_', '')}`)
        const fields = { grant_type: grant, refresh_token: tokens.refresh_token }
        const res = await api.call<Tokens>('POST', path(meta.token_endpoint), {
          headers: encoding === 'form' ? FORM : {},
          body: encoding === 'form' ? new URLSearchParams(fields).toString() : fields,
        })
        expect(res.status).toBe(200)
        expect(res.body.token_type).toBe('Bearer')
        expect(res.body.refresh_token).not.toBe(tokens.refresh_token)
        expect((await api.get('/api/auth/me', res.body.access_token)).status).toBe(200)
      }
    },
  )

  it('the token endpoint refuses a grant it does not advertise', async () => {
    expect(meta.grant_types_supported).not.toContain('password')
    const res = await api.call('POST', path(meta.token_endpoint), {
      headers: FORM,
      body: 'grant_type=password&username=disco&password=whatever%20it%20is',
    })
    expect(res.status).toBe(400)
    expect(res.body.code).toBe('validation_error')
  })

  it('the JWKS verifies the tokens the service issues', async () => {
    const tokens = await registerAndLogin(api, 'disco-jwks')
    const jwks = await api.get<JSONWebKeySet>(path(meta.jwks_uri))
    const { payload } = await jwtVerify(tokens.access_token, createLocalJWKSet(jwks.body), {
      issuer: meta.issuer,
      currentDate: t.clock.now(),
    })
    expect(payload.sub).toBe(tokens.user.id)
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
