import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { userCreate, userTotp } from '../../src/cli/commands/user.js'
import type { CliContext } from '../../src/cli/context.js'
import { testDatabases } from '../support/databases.js'
import { startApp, type TestApp } from '../support/harness.js'
import { client, STRONG_PASSWORD, type Tokens } from '../support/http.js'
import { appCode } from '../support/totp.js'

const databases = await testDatabases()

describe.each(databases)('CLI TOTP enrolment on $name', (database) => {
  let t: TestApp
  let drop: () => Promise<void>

  beforeAll(async () => {
    const fresh = await database.create()
    drop = fresh.drop
    t = await startApp(fresh.url)
  })
  afterAll(async () => {
    await t.close()
    await drop()
  })

  async function run(command: typeof userCreate, args: string[], stdin = ''): Promise<string[]> {
    const lines: string[] = []
    const ctx: CliContext = {
      args,
      out: (line) => lines.push(line),
      readStdin: () => Promise.resolve(stdin),
      services: () => Promise.resolve(t.services),
      config: t.config,
    }
    await command.run(ctx)
    return lines
  }

  function printed(lines: string[]) {
    const secret = /^secret: +([A-Z2-7]+)$/m.exec(lines.join('\n'))?.[1]
    const url = /^otpauth URL: +(\S+)$/m.exec(lines.join('\n'))?.[1]
    return { secret: secret!, url: url! }
  }

  it('creates a user with --totp and prints the secret, the URL and a terminal QR code', async () => {
    const lines = await run(
      userCreate,
      ['cli-alice', '--password-stdin', '--totp', '--email', 'cli-alice@example.com'],
      `${STRONG_PASSWORD}\n`,
    )
    const { secret, url } = printed(lines)
    expect(secret).toMatch(/^[A-Z2-7]{32}$/)
    expect(url).toBe(
      `otpauth://totp/Gatehouse:cli-alice?secret=${secret}&issuer=Gatehouse&algorithm=SHA1&digits=6&period=30`,
    )
    // The small terminal renderer draws with half blocks.
    const qr = lines.join('\n')
    expect(qr).toMatch(/[▀▄█]/)
    expect(qr.split('\n').length).toBeGreaterThan(15)

    const api = client(t.app)
    const challenge = await api.post('/api/auth/login', {
      username: 'cli-alice',
      password: STRONG_PASSWORD,
    })
    expect(challenge.body).toMatchObject({ mfa_required: true, mfa_methods: ['totp'] })
    const tokens = await api.post<Tokens>('/api/auth/login/verify', {
      mfa_token: challenge.body.mfa_token,
      code: appCode(url, t.clock),
    })
    expect(tokens.status).toBe(200)
  })

  it('re-enrols with `user totp`: the old secret stops working', async () => {
    const before = printed(await run(userTotp, ['cli-alice']))
    t.clock.advance('30s')
    const after = printed(await run(userTotp, ['CLI-Alice']))
    expect(after.secret).not.toBe(before.secret)
    const api = client(t.app)
    const login = (otp: string) =>
      api.post('/api/auth/login', { username: 'cli-alice', password: STRONG_PASSWORD, otp })
    expect((await login(appCode(before.secret, t.clock))).status).toBe(401)
    expect((await login(appCode(after.secret, t.clock))).status).toBe(200)
  })

  it('fails with one clear error for an unknown user or missing argument', async () => {
    await expect(run(userTotp, ['nobody-here'])).rejects.toThrow('no user nobody-here')
    await expect(run(userTotp, [])).rejects.toThrow(/usage: gatehouse user totp <username>/)
  })
})
