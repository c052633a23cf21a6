import { createHash } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { auditExport, auditVerify } from '../../src/cli/commands/audit.js'
import type { CliContext, Command } from '../../src/cli/context.js'
import type { Services } from '../../src/container.js'
import { testDatabases, type TestDatabase } from '../support/databases.js'
import { startApp, useFreshDatabase, useTestApp, type TestApp } from '../support/harness.js'
import { STRONG_PASSWORD, registerAndLogin } from '../support/http.js'
import { adminWithMfa } from '../support/principals.js'

const databases = await testDatabases()

async function run(services: Services, command: Command, args: string[] = []) {
  const lines: string[] = []
  const ctx: CliContext = {
    args,
    out: (line) => lines.push(line),
    readStdin: () => Promise.resolve(''),
    services: () => Promise.resolve(services),
    config: services.config,
  }
  const code = (await command.run(ctx)) ?? 0
  return { code, lines }
}

/** What a verifier elsewhere does with an export (the README's script, in TypeScript). */
function verifyExport(lines: string[]): number | string {
  const canonical = (v: unknown): string =>
    v === null || typeof v !== 'object'
      ? JSON.stringify(v)
      : Array.isArray(v)
        ? `[${v.map(canonical).join(',')}]`
        : `{${Object.keys(v)
            .sort()
            .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
            .join(',')}}`
  let previous = Buffer.alloc(32)
  for (const line of lines) {
    const { hash, ...row } = JSON.parse(line) as { hash: string; id: string }
    const expected = createHash('sha256').update(previous).update(canonical(row)).digest()
    if (expected.toString('hex') !== hash) return row.id
    previous = expected
  }
  return lines.length
}

type Row = Record<string, unknown> & { id: number }

describe.each(databases)('tamper-evident audit log on $name', (database) => {
  const { t, api } = useTestApp(database)
  const rows = async () =>
    (await t.services.db.selectFrom('audit_events').selectAll().orderBy('id').execute()) as Row[]
  const verify = () => run(t.services, auditVerify)

  beforeAll(async () => {
    for (const name of ['chain-ann', 'chain-bob', 'chain-cid']) await registerAndLogin(api, name)
    await api.post('/api/auth/login', { username: 'chain-ann', password: 'not the password!' })
    await t.services.auditSealer.sealNow()
  })

  it('seals every row; the admin API shows each hash', async () => {
    const admin = await adminWithMfa(t, 'chain-admin')
    const page = await api.get<{ items: { id: string; hash: string | null }[] }>(
      '/api/admin/audit-log?limit=100',
      admin.token,
    )
    expect(page.status).toBe(200)
    expect(page.body.items.length).toBeGreaterThanOrEqual(7)
    for (const item of page.body.items) expect(item.hash).toMatch(/^[0-9a-f]{64}$/)
    const stored = await rows()
    expect(stored.every((r) => typeof r.hash === 'string')).toBe(true)
    expect(await verify()).toEqual({ code: 0, lines: [`ok: ${stored.length} events`] })
  })

  it('detects an edited row, and is whole again once it is put back', async () => {
    const victim = (await rows()).find((r) => r.event === 'login_failed')!
    await t.services.db
      .updateTable('audit_events')
      .set({ username: 'someone-else' })
      .where('id', '=', victim.id)
      .execute()
    const broken = await verify()
    expect(broken.code).toBe(1)
    expect(broken.lines[0]).toMatch(new RegExp(`^broken: event ${victim.id} \\(`))
    await t.services.db
      .updateTable('audit_events')
      .set({ username: victim.username as string })
      .where('id', '=', victim.id)
      .execute()
    expect((await verify()).code).toBe(0)
  })

  it('detects a deleted row at its successor, and a cut tail', async () => {
    const all = await rows()
    const [victim, next] = [all[2]!, all[3]!]
    await t.services.db.deleteFrom('audit_events').where('id', '=', victim.id).execute()
    expect((await verify()).lines[0]).toMatch(new RegExp(`^broken: event ${next.id} `))
    await t.services.db
      .insertInto('audit_events')
      .values(victim as never)
      .execute()
    expect((await verify()).code).toBe(0)

    const last = (await rows()).at(-1)!
    await t.services.db.deleteFrom('audit_events').where('id', '=', last.id).execute()
    const cut = await verify()
    expect(cut.code).toBe(1)
    expect(cut.lines[0]).toMatch(new RegExp(`^broken: event ${last.id} \\(the sealed head`))
    await t.services.db
      .insertInto('audit_events')
      .values(last as never)
      .execute()
    expect((await verify()).code).toBe(0)
  })

  /** An id no row has, below the next one the database hands out: a gap in the chain. */
  async function gapId(): Promise<number> {
    const before = (await rows()).at(-1)!.id
    // PostgreSQL and MariaDB never hand out a rolled-back id again; SQLite takes max + 1.
    await t.services.db
      .transaction()
      .execute(async (trx) => {
        await trx
          .insertInto('audit_events')
          .values({ time: 0, event: 'x', outcome: 'success' })
          .execute()
        throw new Error('roll back')
      })
      .catch(() => undefined)
    await t.services.audit.record({ event: 'role_created', outcome: 'success' })
    await t.services.auditSealer.sealNow()
    const after = (await rows()).at(-1)!.id
    if (after > before + 1) return before + 1
    // SQLite reused the id: write a row two ids further on, leaving one free.
    await t.services.db
      .insertInto('audit_events')
      .values({ id: after + 2, time: 1, event: 'spacer', outcome: 'success' })
      .execute()
    await t.services.auditSealer.sealNow()
    return after + 1
  }

  it('detects a row inserted into the chain', async () => {
    const gap = await gapId()
    const before = (await rows()).filter((r) => r.id < gap).at(-1)!
    const forged = {
      id: gap,
      time: Number(before.time),
      event: 'login_succeeded',
      outcome: 'success',
      username: 'chain-ann',
      hash: createHash('sha256').update('forged').digest('hex'),
    }
    await t.services.db.insertInto('audit_events').values(forged).execute()
    const broken = await verify()
    expect(broken.code).toBe(1)
    expect(broken.lines[0]).toMatch(new RegExp(`^broken: event ${gap} `))
    await t.services.db.deleteFrom('audit_events').where('id', '=', gap).execute()
    expect((await verify()).code).toBe(0)
  })

  it('detects a row added after the sealed head with a hash of its own', async () => {
    const last = (await rows()).at(-1)!
    const forged = {
      id: last.id + 1_000_000,
      time: Number(last.time),
      event: 'login_succeeded',
      outcome: 'success',
      username: 'chain-ann',
      hash: '0'.repeat(64),
    }
    await t.services.db.insertInto('audit_events').values(forged).execute()
    const broken = await verify()
    expect(broken.code).toBe(1)
    expect(broken.lines[0]).toMatch(new RegExp(`^broken: event ${forged.id} `))
    await t.services.db.deleteFrom('audit_events').where('id', '=', forged.id).execute()
    expect((await verify()).code).toBe(0)
  })

  it('moves a row that committed after a later id was sealed to the end, then seals it', async () => {
    const gap = await gapId()
    // What a transaction that took its id early and committed late leaves behind.
    await t.services.db
      .insertInto('audit_events')
      .values({ id: gap, time: 5, event: 'mfa_enabled', outcome: 'success' })
      .execute()
    await t.services.auditSealer.sealNow()
    const all = await rows()
    expect(all.find((r) => r.id === gap)).toBeUndefined()
    const moved = all.at(-1)!
    expect(moved).toMatchObject({ event: 'mfa_enabled', time: 5 })
    expect(moved.hash).toMatch(/^[0-9a-f]{64}$/)
    expect(await verify()).toEqual({ code: 0, lines: [`ok: ${all.length} events`] })
  })

  it('exports NDJSON that verifies elsewhere, optionally from a time on', async () => {
    const all = await rows()
    const exported = await run(t.services, auditExport)
    expect(exported.lines).toHaveLength(all.length)
    expect(verifyExport(exported.lines)).toBe(all.length)
    const first = JSON.parse(exported.lines[0]!) as Record<string, unknown>
    expect(Object.keys(first).sort()).toEqual(
      [
        'actor_id',
        'details',
        'event',
        'hash',
        'id',
        'ip',
        'outcome',
        'time',
        'user_agent',
        'user_id',
        'username',
      ].sort(),
    )
    const text = exported.lines.join('\n')
    expect(text).not.toContain(STRONG_PASSWORD)
    expect(text).not.toMatch(/\$argon2/)

    // An edited export no longer verifies, at the edited line.
    const edited = [...exported.lines]
    edited[1] = edited[1]!.replace('"success"', '"failure"')
    expect(verifyExport(edited)).toBe(String(JSON.parse(edited[1]).id))

    const since = new Date(Number(all.at(-3)!.time)).toISOString()
    const tail = await run(t.services, auditExport, ['--since', since])
    expect(tail.lines.length).toBeGreaterThanOrEqual(1)
    expect(tail.lines.length).toBeLessThan(all.length)
    for (const line of tail.lines)
      expect(Date.parse((JSON.parse(line) as { time: string }).time)).toBeGreaterThanOrEqual(
        Date.parse(since),
      )
    for (const bad of ['yesterday', '1', '2026-02-30'])
      await expect(run(t.services, auditExport, ['--since', bad])).rejects.toThrow(/usage/)
    const day = new Date(Number(all.at(-1)!.time)).toISOString().slice(0, 10)
    const sameDay = await run(t.services, auditExport, ['--since', day])
    expect(sameDay.lines.length).toBeGreaterThanOrEqual(1)
    await expect(run(t.services, auditVerify, ['extra'])).rejects.toThrow(/usage/)
  })
})

/**
 * Two instances on one database write 500 events at once; the chain they seal together
 * must verify. On PostgreSQL and MariaDB a transaction also holds an early id open while
 * the other instance seals later ones, the out-of-order commit a plain "seal everything
 * visible" would get wrong.
 */
function useTwoInstances(database: TestDatabase) {
  const db = useFreshDatabase(database)
  const apps: { a?: TestApp; b?: TestApp } = {}
  beforeAll(async () => {
    apps.a = await startApp(db.url)
    apps.b = await startApp(db.url)
  })
  afterAll(async () => {
    await apps.a?.close()
    await apps.b?.close()
  })
  return apps as { a: TestApp; b: TestApp }
}

describe.each(databases)('two instances sealing one chain on $name', (database) => {
  const apps = useTwoInstances(database)

  it('500 events written in parallel verify', async () => {
    const write = (t: TestApp, i: number) =>
      t.services.audit.record({
        event: i % 2 ? 'login_failed' : 'login_succeeded',
        outcome: i % 2 ? 'failure' : 'success',
        username: `user-${i}`,
        details: { n: i },
        context: { ip: `192.0.2.${i % 250}`, userAgent: `agent ${i}` },
      })
    const { a, b } = apps
    await Promise.all(Array.from({ length: 500 }, (_, i) => write(i % 2 ? a : b, i)))
    await Promise.all([a.services.auditSealer.sealNow(), b.services.auditSealer.sealNow()])
    const verdict = await run(a.services, auditVerify)
    expect(verdict).toEqual({ code: 0, lines: ['ok: 500 events'] })
    const ids = (await a.services.db.selectFrom('audit_events').select('id').execute()).length
    expect(ids).toBe(500)
  })
})

// SQLite commits one writer at a time: a held transaction would only block the other instance.
const servers = databases.filter((d) => d.name !== 'sqlite')

describe.each(servers)('an out-of-order commit on $name', (database) => {
  const apps = useTwoInstances(database)

  it('a transaction that commits after later ids were sealed still lands in the chain', async () => {
    const { a, b } = apps
    let release!: () => void
    const held = new Promise<void>((resolve) => (release = resolve))
    let inserted!: () => void
    const hasId = new Promise<void>((resolve) => (inserted = resolve))
    const slow = a.services.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('audit_events')
        .values({ time: 1, event: 'password_changed', outcome: 'success', username: 'late' })
        .execute()
      inserted()
      await held
    })
    await hasId
    for (let i = 0; i < 5; i++)
      await b.services.audit.record({ event: 'login_succeeded', outcome: 'success' })
    await b.services.auditSealer.sealNow()
    release()
    await slow
    await a.services.auditSealer.sealNow()
    const last = await a.services.db
      .selectFrom('audit_events')
      .selectAll()
      .orderBy('id', 'desc')
      .executeTakeFirstOrThrow()
    expect(last).toMatchObject({ username: 'late' })
    expect(last.hash).not.toBeNull()
    expect(await run(b.services, auditVerify)).toEqual({ code: 0, lines: ['ok: 6 events'] })
  })
})
