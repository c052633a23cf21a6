import type { IncomingMessage, ServerResponse } from 'node:http'
import { describe, expect, it } from 'vitest'
import { GatehouseError } from '../../src/services/errors.js'
import { createOidcInteractions } from '../../src/services/oidc/interactions.js'

type Deps = Parameters<typeof createOidcInteractions>[0]

/** The interactions service over a provider whose interaction lookup fails with `failure`. */
function withLookupFailing(failure: Error) {
  const provider = {
    interactionDetails: () => Promise.reject(failure),
  }
  // Only the provider is reached before the lookup fails; the rest is never touched.
  const deps = { oidc: { provider: () => Promise.resolve(provider) } } as unknown as Deps
  return createOidcInteractions(deps)
}

const req = {} as IncomingMessage
const res = {} as ServerResponse

describe('OIDC interaction lookup', () => {
  it('answers not_found for an interaction this browser does not have', async () => {
    const missing = Object.assign(new Error('interaction session not found'), {
      name: 'SessionNotFound',
    })
    const err: unknown = await withLookupFailing(missing)
      .details(req, res, 'uid-1')
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(GatehouseError)
    expect((err as GatehouseError).code).toBe('not_found')
  })

  /** Regression: every failure was a 404, a database outage included (SPEC §3: 503). */
  it('lets any other failure through, for the error handler to answer', async () => {
    const outage = new Error('connect ECONNREFUSED 127.0.0.1:5432')
    const err: unknown = await withLookupFailing(outage)
      .details(req, res, 'uid-1')
      .catch((e: unknown) => e)
    expect(err).toBe(outage)
  })
})
