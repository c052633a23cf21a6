import { describe, expect, it } from 'vitest'
import { auditTail } from '../../src/cli/commands/audit.js'
import { userLock, userUnlock } from '../../src/cli/commands/user-lock.js'
import type { CliContext, Command } from '../../src/cli/context.js'
import { testDatabases } from '../support/databases.js'
import { useTestApp } from '../support/harness.js'
import { STRONG_PASSWORD } from '../support/http.js'

const databases = await testDatabases()

const NEW_PASSWORD = 'another long passphrase'
const UA = 'audit-test/2.0'
const IP = '198.51.100.23'

describe.each(databases)('audit log and its CLI on $name', (database) => {
  const { t } = useTestApp(database, {
    env: { LOGIN_MAX_FAILURES: '10', LOCKOUT_THRESHOLD: '2', REFRESH_REUSE_GRACE: '0' },
  })
  const secrets: string[] = [STRONG_PASSWORD, NEW_PASSWORD, 'wrong password!!']

  const call = async (method: 'GET' | 'POST', url: string, payload?: object, token?: string) => {
    const res = await t.app.inject({
      method,
      url,
      remoteAddress: IP,
      headers: { 'user-agent': UA, ...(token ? { authorization: `Bearer ${token}` } : {}) },
      ...(payload ? { payload } : {}),
    })
    return {
      status: res.statusCode,
      body: (res.body ? JSON.parse(res.body) : {}) as Record<string, string>,
    }
  }

  async function run(command: Command, args: string[]): Promise<string[]> {
    const lines: string[] = []
    const ctx: CliContext = {
      args,
      out: (line) => lines.push(line),
      readStdin: () => Promise.resolve(''),
      services: () => Promise.resolve(t.services),
      config: t.config,
    }
    await command.run(ctx)
    return lines
  }

  const events = () => t.services.db.selectFrom('audit_events').selectAll().orderBy('id').execute()

  it('writes every event so far with who, where and why, and never a secret', async () => {
    expect(
      (
        await call('POST', '/api/auth/register', {
          username: 'Audit.Amy',
          password: STRONG_PASSWORD,
        })
      ).status,
    ).toBe(201)
    expect(
      (
        await call('POST', '/api/auth/login', {
          username: 'audit.amy',
          password: 'wrong password!!',
        })
      ).status,
    ).toBe(401)
    expect(
      (
        await call('POST', '/api/auth/login', {
          username: 'nobody-audit',
          password: 'wrong password!!',
        })
      ).status,
    ).toBe(401)
    const login = await call('POST', '/api/auth/login', {
      username: 'Audit.Amy',
      password: STRONG_PASSWORD,
    })
    expect(login.status).toBe(200)
    secrets.push(login.body.access_token!, login.body.refresh_token!)

    const second = await call('POST', '/api/auth/login', {
      username: 'Audit.Amy',
      password: STRONG_PASSWORD,
    })
    secrets.push(second.body.access_token!, second.body.refresh_token!)
    const change = await call(
      'POST',
      '/api/auth/password/change',
      { current_password: STRONG_PASSWORD, new_password: NEW_PASSWORD },
      second.body.access_token,
    )
    expect(change.status).toBe(204) // ends the first session

    const third = await call('POST', '/api/auth/login', {
      username: 'Audit.Amy',
      password: NEW_PASSWORD,
    })
    secrets.push(third.body.access_token!, third.body.refresh_token!)
    const rotated = await call('POST', '/api/auth/refresh', {
      refresh_token: third.body.refresh_token,
    })
    expect(rotated.status).toBe(200)
    secrets.push(rotated.body.refresh_token!)
    // Presented again after rotation (grace 0): reuse, the session ends.
    expect(
      (await call('POST', '/api/auth/refresh', { refresh_token: third.body.refresh_token })).status,
    ).toBe(401)

    // Two consecutive failures lock the account (LOCKOUT_THRESHOLD=2); the next is refused.
    await call('POST', '/api/auth/login', { username: 'audit.amy', password: 'wrong password!!' })
    await call('POST', '/api/auth/login', { username: 'audit.amy', password: 'wrong password!!' })
    expect(
      (await call('POST', '/api/auth/login', { username: 'audit.amy', password: NEW_PASSWORD }))
        .status,
    ).toBe(429)

    const rows = await events()
    const byEvent = (name: string) => rows.filter((r) => r.event === name)
    const userId = byEvent('register')[0]!.user_id!

    expect(byEvent('register')[0]).toMatchObject({
      outcome: 'success',
      username: 'Audit.Amy',
      ip: IP,
      user_agent: UA,
    })
    const reasons = byEvent('login_failed').map((r) => [r.username, JSON.parse(r.details!).reason])
    expect(reasons).toEqual([
      ['audit.amy', 'wrong_password'],
      ['nobody-audit', 'unknown_user'],
      ['audit.amy', 'wrong_password'],
      ['audit.amy', 'wrong_password'],
      ['audit.amy', 'locked_out'],
    ])
    expect(byEvent('login_failed')[1]).toMatchObject({ user_id: null, ip: IP, user_agent: UA })
    expect(byEvent('login_succeeded')).toHaveLength(3)
    expect(byEvent('password_changed')[0]).toMatchObject({
      user_id: userId,
      ip: IP,
      user_agent: UA,
    })
    expect(
      byEvent('session_ended')
        .map((r) => JSON.parse(r.details!).reason)
        .sort(),
    ).toEqual(['password_changed', 'refresh_token_reused'])
    expect(byEvent('refresh_token_reused')[0]).toMatchObject({
      outcome: 'failure',
      user_id: userId,
      ip: IP,
    })
    expect(byEvent('account_locked')[0]).toMatchObject({
      user_id: userId,
      username: 'audit.amy',
      ip: IP,
      user_agent: UA,
    })

    for (const row of rows) {
      expect(row.time).toBeGreaterThan(0)
      expect(['success', 'failure']).toContain(row.outcome)
      const text = JSON.stringify(row)
      for (const secret of secrets) expect(text).not.toContain(secret)
      expect(text).not.toMatch(/\$argon2|\$2[aby]\$/)
    }
  })

  it('gatehouse user unlock lifts the lockout; user lock locks until unlocked', async () => {
    expect(await run(userUnlock, ['audit.amy'])).toEqual([
      'unlocked audit.amy (lifted: automatic lockout)',
    ])
    expect(
      (await call('POST', '/api/auth/login', { username: 'audit.amy', password: NEW_PASSWORD }))
        .status,
    ).toBe(200)
    expect(await run(userUnlock, ['audit.amy'])).toEqual([
      'audit.amy was not locked; failed-login counters reset',
    ])

    expect(await run(userLock, ['Audit.Amy'])).toEqual(['locked Audit.Amy; its sessions ended'])
    expect(await run(userLock, ['Audit.Amy'])).toEqual(['Audit.Amy was already locked'])
    const refused = await call('POST', '/api/auth/login', {
      username: 'audit.amy',
      password: NEW_PASSWORD,
    })
    expect(refused.body.code).toBe('account_locked')
    expect(await run(userUnlock, ['Audit.Amy'])).toEqual([
      'unlocked Audit.Amy (lifted: admin lock)',
    ])
    expect(
      (await call('POST', '/api/auth/login', { username: 'audit.amy', password: NEW_PASSWORD }))
        .status,
    ).toBe(200)

    await expect(run(userUnlock, ['no-such-user'])).rejects.toMatchObject({ code: 'not_found' })
    await expect(run(userUnlock, [])).rejects.toThrow(/usage/)
    const unlocked = (await events()).filter((r) => r.event === 'account_unlocked')
    expect(unlocked.map((r) => JSON.parse(r.details!))).toEqual([
      { admin_lock: false, lockout: true, via: 'cli' },
      { admin_lock: false, lockout: false, via: 'cli' },
      { admin_lock: true, lockout: false, via: 'cli' },
    ])
  })

  it('gatehouse audit tail prints the newest events, one line each, oldest first', async () => {
    const all = await events()
    const lines = await run(auditTail, ['--limit', '3', '--no-follow'])
    expect(lines).toHaveLength(3)
    const newest = all.slice(-3)
    lines.forEach((line, i) => {
      expect(line).not.toContain('\n')
      expect(line.startsWith(new Date(newest[i]!.time).toISOString())).toBe(true)
      expect(line).toContain(` ${newest[i]!.event} ${newest[i]!.outcome} `)
    })
    expect(lines[2]).toContain('login_succeeded success')
    expect(lines[2]).toContain(`ip=${IP}`)
    expect(lines[2]).toContain(`ua=${UA}`)

    const everything = (await run(auditTail, ['--limit', '10000', '--no-follow'])).join('\n')
    for (const secret of secrets) expect(everything).not.toContain(secret)
    await expect(run(auditTail, ['--limit', '0', '--no-follow'])).rejects.toThrow(/usage/)
  })

  it('a forged username cannot forge audit lines', async () => {
    await call('POST', '/api/auth/login', {
      username: 'x\nFAKE login_succeeded',
      password: 'wrong password!!',
    })
    const lines = await run(auditTail, ['--limit', '1', '--no-follow'])
    expect(lines).toHaveLength(1)
    expect(lines[0]).toContain('username="xFAKE login_succeeded"')
  })
})
