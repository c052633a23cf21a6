import { Writable } from 'node:stream'
import Fastify from 'fastify'
import { describe, expect, it } from 'vitest'
import { installProblemHandlers } from '../../src/http/problem.js'

describe('the 500 handler', () => {
  it('answers without details and logs no statement values, only what the error is', async () => {
    const lines: string[] = []
    const stream = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString())
        done()
      },
    })
    const app = Fastify({ logger: { level: 'error', stream } })
    installProblemHandlers(app, () => [])
    app.get('/boom', () => {
      // The shape mysql2 and pg give a failed statement: the values ride along.
      throw Object.assign(new Error('Data too long for column'), {
        code: 'ER_DATA_TOO_LONG',
        sql: "insert into users (password_hash) values ('$argon2id$v=19$secret-hash')",
        detail: 'Key (email)=(alice@example.test) already exists.',
      })
    })
    const res = await app.inject('/boom')
    expect(res.statusCode).toBe(500)
    expect(res.json()).toMatchObject({ code: 'internal_error', detail: 'internal error' })
    const log = lines.join('')
    expect(log).toContain('ER_DATA_TOO_LONG')
    expect(log).toContain('Data too long for column')
    expect(log).not.toContain('secret-hash')
    expect(log).not.toContain('alice@example.test')
    await app.close()
  })
})
