import bcrypt from 'bcryptjs'
import * as argon2 from 'argon2'
import { describe, expect, it, vi } from 'vitest'
import { createCodeHasher } from '../../src/crypto/code-hashes.js'
import { createPasswordHasher } from '../../src/crypto/password-hasher.js'
import { createWorkQueue, HashingRefused } from '../../src/crypto/work-queue.js'
import { sha256Hex } from '../../src/crypto/token-digest.js'
import { timingSafeEqualHex } from '../../src/crypto/compare.js'
import { cryptoRandom, pooledRandomBytes, randomToken } from '../../src/crypto/random.js'

const pw = 'correct horse battery staple'

// A pass-through wrapper, so a test can see which hash verifyDummy really checks.
vi.mock('argon2', async (importOriginal) => {
  const real = await importOriginal<typeof argon2>()
  return { ...real, verify: vi.fn(real.verify) }
})

describe('password hasher', () => {
  const hasher = createPasswordHasher()

  it('hashes with argon2id at the SPEC defaults', async () => {
    const h = await hasher.hash(pw)
    expect(h.startsWith('$argon2id$')).toBe(true)
    expect(h).toContain('m=19456,t=2,p=1')
  })

  it('verifies the right password and refuses a wrong one', async () => {
    const h = await hasher.hash(pw)
    expect(await hasher.verify(h, pw)).toEqual({ ok: true, needsRehash: false })
    expect(await hasher.verify(h, 'wrong password')).toEqual({ ok: false, needsRehash: false })
  })

  it('asks for a rehash when parameters or the variant differ', async () => {
    const weak = createPasswordHasher({ memoryKiB: 8192, timeCost: 1 })
    const h = await weak.hash(pw)
    expect(h).toContain('m=8192,t=1,p=1')
    expect(await hasher.verify(h, pw)).toEqual({ ok: true, needsRehash: true })
    expect(await weak.verify(h, pw)).toEqual({ ok: true, needsRehash: false })
    const argon2 = await import('argon2')
    const argon2i = await argon2.hash(pw, {
      type: argon2.argon2i,
      memoryCost: 19456,
      timeCost: 2,
      parallelism: 1,
    })
    expect(await hasher.verify(argon2i, pw)).toEqual({ ok: true, needsRehash: true })
  })

  it.each(['$2a$', '$2b$', '$2y$'])(
    'verifies imported bcrypt %s and asks for a rehash',
    async (prefix) => {
      const h = prefix + bcrypt.hashSync(pw, 4).slice(4)
      expect(h.startsWith(prefix)).toBe(true)
      expect(await hasher.verify(h, pw)).toEqual({ ok: true, needsRehash: true })
      expect(await hasher.verify(h, 'wrong password')).toEqual({ ok: false, needsRehash: false })
    },
  )

  it.each([
    '',
    'garbage',
    'plaintext-password',
    '$argon2id$',
    '$argon2id$v=19$m=19456,t=2,p=1$bm90c2FsdA$bm90aGFzaA',
    '$argon2id$v=19$m=abc$$',
    '$2b$04$short',
    '$2b$99$' + 'a'.repeat(53),
    '$1$md5crypt$abcdef',
  ])('treats %j as a failed verification without throwing', async (h) => {
    expect(await hasher.verify(h, pw)).toEqual({ ok: false, needsRehash: false })
  })

  it('verifyDummy verifies against an argon2id hash with the same parameters', async () => {
    // Unknown users must pay for a real argon2id verification with today's parameters, or
    // response time tells which usernames exist. Check the work, not the clock.
    const verify = vi.mocked(argon2.verify)
    await hasher.verifyDummy(pw) // builds the dummy hash on first use
    verify.mockClear()
    try {
      await hasher.verifyDummy(pw)
      expect(verify).toHaveBeenCalledTimes(1)
      const [dummyHash, given] = verify.mock.calls[0]!
      expect(given).toBe(pw)
      expect(dummyHash).toMatch(/^\$argon2id\$v=19\$m=\d+,t=\d+,p=\d+\$/)
      const real = await hasher.hash(pw)
      expect(String(dummyHash).split('$')[3]).toBe(real.split('$')[3])
    } finally {
      verify.mockClear()
    }
  })
})

describe('sha256Hex and timingSafeEqualHex', () => {
  it('hashes to 64 hex characters', () => {
    expect(sha256Hex('abc')).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    )
    expect(sha256Hex(Buffer.from('abc'))).toBe(sha256Hex('abc'))
  })

  it.each([
    ['abcd', 'abcd', true],
    ['ABCD', 'abcd', true],
    ['abcd', 'abce', false],
    ['abcd', 'abcdef', false],
    ['zz', 'yy', false],
    ['', '', false],
  ])('%j vs %j → %s', (a, b, expected) => {
    expect(timingSafeEqualHex(a, b)).toBe(expected)
  })
})

describe('code hasher', () => {
  const key = Buffer.alloc(32, 7)
  const codes = createCodeHasher(key)

  it('is deterministic and keyed', () => {
    const h = codes.hash('123456', 'login:email:user-1')
    expect(h).toMatch(/^[0-9a-f]{64}$/)
    expect(codes.hash('123456', 'login:email:user-1')).toBe(h)
    expect(h).not.toBe(sha256Hex('123456'))
    expect(createCodeHasher(Buffer.alloc(32, 8)).hash('123456', 'login:email:user-1')).not.toBe(h)
  })

  it('separates contexts, also when the boundary between context and code shifts', () => {
    const h = codes.hash('123456', 'login:email:user-1')
    expect(codes.hash('123456', 'reset:email:user-1')).not.toBe(h)
    expect(codes.hash('123456', 'login:email:user-2')).not.toBe(h)
    expect(codes.hash('23456', 'login:email:user-11')).not.toBe(
      codes.hash('123456', 'login:email:user-1'),
    )
  })
})

describe('cryptoRandom', () => {
  it('gives bytes and digits of the asked length', () => {
    expect(cryptoRandom.bytes(16).length).toBe(16)
    expect(cryptoRandom.digits(6)).toMatch(/^\d{6}$/)
    expect(cryptoRandom.digits(0)).toBe('')
  })

  it('spreads digits over 0–9', () => {
    const seen = new Set(cryptoRandom.digits(1000))
    expect(seen.size).toBe(10)
  })

  it('makes 256-bit base64url tokens', () => {
    const t = randomToken(cryptoRandom)
    expect(t).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(randomToken(cryptoRandom)).not.toBe(t)
    expect(randomToken(cryptoRandom, 16)).toMatch(/^[A-Za-z0-9_-]{22}$/)
  })
})

describe('pooledRandomBytes', () => {
  it('never hands out the same bytes twice, across refills of its pool', () => {
    const bytes = pooledRandomBytes(64)
    // 16-byte draws from a 64-byte pool: five refills, and a draw that does not fit the rest.
    const seen = new Set<string>()
    for (let i = 0; i < 20; i++) {
      const b = bytes(i % 5 === 4 ? 24 : 16)
      seen.add(b.toString('hex'))
    }
    expect(seen.size).toBe(20)
    const zeros = Buffer.alloc(16)
    for (const hex of seen)
      expect(Buffer.from(hex, 'hex').subarray(0, 16).equals(zeros)).toBe(false)
  })

  it('gives each caller a buffer of its own', () => {
    const bytes = pooledRandomBytes(64)
    const a = bytes(16)
    const copy = Buffer.from(a)
    const b = bytes(16)
    b.fill(0xff)
    bytes(64) // a refill
    expect(a).toEqual(copy)
    expect(a.buffer === b.buffer && a.byteOffset === b.byteOffset).toBe(false)
  })

  it('serves requests larger than the pool and refuses nonsense lengths', () => {
    const bytes = pooledRandomBytes(64)
    expect(bytes(1000).length).toBe(1000)
    expect(bytes(0).length).toBe(0)
    expect(() => bytes(-1)).toThrow(RangeError)
    expect(() => bytes(1.5)).toThrow(RangeError)
  })
})

describe('argon2id hash format', () => {
  it('is a canonical PHC string with a 16-byte salt and 32-byte digest', async () => {
    const h = await createPasswordHasher({ memoryKiB: 8192, timeCost: 1 }).hash(pw)
    expect(h).toMatch(/^\$argon2id\$v=19\$m=8192,t=1,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/)
  })

  it('still verifies hashes written in argon2 0.45’s own parameter order', async () => {
    const argon2 = await import('argon2')
    const h = await argon2.hash(pw, {
      type: argon2.argon2id,
      memoryCost: 19456,
      timeCost: 2,
      parallelism: 1,
    })
    expect(await createPasswordHasher().verify(h, pw)).toEqual({ ok: true, needsRehash: false })
  })
})

describe('argon2 work queue', () => {
  function deferred() {
    let resolve!: () => void
    const promise = new Promise<void>((r) => (resolve = r))
    return { promise, resolve }
  }
  const settle = async () => {
    for (let i = 0; i < 5; i++) await Promise.resolve()
  }

  it('runs at most its limit at once, the rest in arrival order', async () => {
    const { run } = createWorkQueue(2)
    const gates = Array.from({ length: 5 }, deferred)
    const started: number[] = []
    let inFlight = 0
    let most = 0
    const done = gates.map((gate, i) =>
      run(async () => {
        started.push(i)
        most = Math.max(most, ++inFlight)
        await gate.promise
        inFlight--
        return i
      }),
    )
    await settle()
    expect(started).toEqual([0, 1])
    gates[1]!.resolve()
    await settle()
    expect(started).toEqual([0, 1, 2])
    for (const gate of gates) gate.resolve()
    expect(await Promise.all(done)).toEqual([0, 1, 2, 3, 4])
    expect(started).toEqual([0, 1, 2, 3, 4])
    expect(most).toBe(2)
  })

  it('passes the slot on when a task fails', async () => {
    const { run } = createWorkQueue(1)
    const failing = run(() => Promise.reject(new Error('boom')))
    const next = run(() => Promise.resolve('next'))
    await expect(failing).rejects.toThrow('boom')
    expect(await next).toBe('next')
  })

  it('refuses a task at once when its limit of waiting ones is reached', async () => {
    const { run, load } = createWorkQueue(1, 1)
    const gate = deferred()
    const first = run(() => gate.promise)
    const second = run(() => Promise.resolve('second'))
    await expect(run(() => Promise.resolve('third'))).rejects.toEqual(new HashingRefused('busy'))
    expect(load()).toEqual({ running: 1, waiting: 1, refused: { busy: 1, abandoned: 0 } })
    gate.resolve()
    await first
    expect(await second).toBe('second')
    // The line has room again.
    expect(await run(() => Promise.resolve('fourth'))).toBe('fourth')
  })

  it('drops a waiting task whose signal fires, and never runs it', async () => {
    const { run, load } = createWorkQueue(1)
    const gate = deferred()
    const ran: string[] = []
    const first = run(async () => {
      ran.push('first')
      await gate.promise
    })
    const gone = new AbortController()
    const abandoned = run(async () => {
      ran.push('abandoned')
    }, gone.signal)
    const third = run(async () => {
      ran.push('third')
    })
    gone.abort()
    await expect(abandoned).rejects.toEqual(new HashingRefused('abandoned'))
    expect(load()).toEqual({ running: 1, waiting: 1, refused: { busy: 0, abandoned: 1 } })
    gate.resolve()
    await Promise.all([first, third])
    expect(ran).toEqual(['first', 'third'])
  })

  it('refuses a task whose signal fired before it asked, even with a free slot', async () => {
    const { run } = createWorkQueue(1)
    const gone = new AbortController()
    gone.abort()
    const task = vi.fn(() => Promise.resolve())
    await expect(run(task, gone.signal)).rejects.toEqual(new HashingRefused('abandoned'))
    expect(task).not.toHaveBeenCalled()
    // The slot was not taken.
    expect(await run(() => Promise.resolve('next'))).toBe('next')
  })

  it('lets a refusal through the hasher instead of calling it a wrong password', async () => {
    const hasher = createPasswordHasher({ memoryKiB: 1024, timeCost: 1 })
    const h = await hasher.hash(pw)
    const gone = new AbortController()
    gone.abort()
    await expect(hasher.verify(h, pw, gone.signal)).rejects.toBeInstanceOf(HashingRefused)
    // Imported bcrypt hashes wait in the same line.
    const imported = bcrypt.hashSync(pw, 4)
    await expect(hasher.verify(imported, pw, gone.signal)).rejects.toBeInstanceOf(HashingRefused)
    await expect(hasher.verifyDummy(pw, gone.signal)).rejects.toBeInstanceOf(HashingRefused)
    await expect(hasher.hash(pw, gone.signal)).rejects.toBeInstanceOf(HashingRefused)
    // The dummy hash was not dropped: an unknown user still costs one verification.
    const spy = vi.mocked(argon2.verify)
    spy.mockClear()
    await hasher.verifyDummy(pw)
    expect(spy).toHaveBeenCalledTimes(1)
  })

  it('bounds the hasher: with concurrency 1, verifications never overlap', async () => {
    const one = createPasswordHasher({ memoryKiB: 1024, timeCost: 1, concurrency: 1 })
    const h = await one.hash(pw)
    const spy = vi.mocked(argon2.verify)
    let inFlight = 0
    let most = 0
    const real = spy.getMockImplementation()!
    spy.mockImplementation(async (...args) => {
      most = Math.max(most, ++inFlight)
      try {
        return await real(...args)
      } finally {
        inFlight--
      }
    })
    try {
      const results = await Promise.all(Array.from({ length: 4 }, () => one.verify(h, pw)))
      expect(results.every((r) => r.ok)).toBe(true)
      expect(most).toBe(1)
    } finally {
      spy.mockImplementation(real)
    }
  })
})
