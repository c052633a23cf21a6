// Where a scenario's Gatehouse keeps its data: a fresh SQLite file, or (BENCH_DB) a fresh
// schema in PostgreSQL / a fresh database in MariaDB or MySQL, dropped after the run.
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const POSTGRES_URL =
  process.env.BENCH_POSTGRES_URL ??
  process.env.TEST_POSTGRES_URL ??
  'postgres://postgres@127.0.0.1:5432/postgres'
export const MYSQL_URL =
  process.env.BENCH_MYSQL_URL ?? process.env.TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/mysql'

const freshName = () => `gh_bench_${randomBytes(5).toString('hex')}`

/** Resolves with `{ url, drop }` for a new, empty database of `kind`. */
export async function freshDatabase(kind) {
  switch (kind) {
    case 'sqlite': {
      const dir = await mkdtemp(join(tmpdir(), 'gatehouse-bench-'))
      return {
        url: `sqlite:${join(dir, 'bench.db')}`,
        drop: () => rm(dir, { recursive: true, force: true }),
      }
    }
    case 'postgres': {
      const { default: pg } = await import('pg')
      const schema = freshName()
      const admin = async (text) => {
        const c = new pg.Client({ connectionString: POSTGRES_URL })
        await c.connect()
        try {
          await c.query(text)
        } finally {
          await c.end()
        }
      }
      await admin(`create schema ${schema}`)
      const url = new URL(POSTGRES_URL)
      url.searchParams.set('options', `-c search_path=${schema}`)
      return { url: url.toString(), drop: () => admin(`drop schema ${schema} cascade`) }
    }
    case 'mysql': {
      const { createPool } = await import('mysql2/promise')
      const name = freshName()
      const admin = async (text) => {
        const c = createPool({ uri: MYSQL_URL, connectionLimit: 1 })
        try {
          await c.query(text)
        } finally {
          await c.end()
        }
      }
      await admin(`create database ${name} character set utf8mb4 collate utf8mb4_bin`)
      const url = new URL(MYSQL_URL)
      url.pathname = `/${name}`
      return { url: url.toString(), drop: () => admin(`drop database ${name}`) }
    }
    default:
      throw new Error(`unknown database kind ${kind} (sqlite, postgres or mysql)`)
  }
}
