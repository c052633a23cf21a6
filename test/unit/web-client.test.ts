import { Writable } from 'node:stream'
import cookie from '@fastify/cookie'
import Fastify from 'fastify'
import { describe, expect, it } from 'vitest'
import { webClientCookies, type RefreshCookieOptions } from '../../src/http/web-client.js'

async function appWith(signOn: RefreshCookieOptions['signOn']) {
  const lines: string[] = []
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString())
      done()
    },
  })
  const app = Fastify({ logger: { level: 'warn', stream } })
  await app.register(cookie, { hook: false })
  const web = webClientCookies(app, { maxAgeSec: 60, secure: false, signOn })
  app.post('/tokens', (request, reply) =>
    web.tokenReply(request, reply, { access_token: 'a', refresh_token: 'r-secret' }, 'session-1'),
  )
  return { app, lines }
}

const asWebClient = { 'x-gatehouse-client': 'web' }

describe('cookie-mode token responses', () => {
  it('carry the single sign-on cookies beside the refresh cookie', async () => {
    const { app } = await appWith(async (_request, _reply, sessionId) => [
      `_session=for-${sessionId}; path=/; httponly`,
    ])
    const res = await app.inject({ method: 'POST', url: '/tokens', headers: asWebClient })
    expect(res.json()).toEqual({ access_token: 'a' })
    const cookies = res.headers['set-cookie'] as string[]
    expect(cookies.some((c) => c.startsWith('gatehouse_refresh=r-secret;'))).toBe(true)
    expect(cookies).toContain('_session=for-session-1; path=/; httponly')
    await app.close()
  })

  it('still sign the person in when single sign-on cannot be opened, and log why without secrets', async () => {
    const { app, lines } = await appWith(async () => {
      throw new Error('database unreachable')
    })
    const res = await app.inject({ method: 'POST', url: '/tokens', headers: asWebClient })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ access_token: 'a' })
    expect(String(res.headers['set-cookie'])).toContain('gatehouse_refresh=r-secret')
    const log = lines.join('')
    expect(log).toContain('could not open the single sign-on session')
    expect(log).toContain('database unreachable')
    expect(log).not.toContain('r-secret')
    await app.close()
  })

  it('leave an API client alone: the refresh token stays in the body, no cookie, no sign-on', async () => {
    let called = false
    const { app } = await appWith(async () => {
      called = true
      return []
    })
    const res = await app.inject({ method: 'POST', url: '/tokens' })
    expect(res.json()).toEqual({ access_token: 'a', refresh_token: 'r-secret' })
    expect(res.headers['set-cookie']).toBeUndefined()
    expect(called).toBe(false)
    await app.close()
  })
})
