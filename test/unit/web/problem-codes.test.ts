import { describe, expect, it } from 'vitest'
import { errorTable } from '../../../src/services/errors.js'
import { problemCodeOf, SERVER_CODES } from '../../../web/src/api/problem-codes.js'

describe("the web app's problem codes", () => {
  it('are the codes the server answers with (SPEC §3), no more and no fewer', () => {
    expect([...SERVER_CODES].sort()).toEqual(Object.keys(errorTable).sort())
  })

  it('reads a code it does not know as unknown', () => {
    expect(problemCodeOf('invalid_token')).toBe('invalid_token')
    expect(problemCodeOf('something_new')).toBe('unknown')
    expect(problemCodeOf(undefined)).toBe('unknown')
  })
})
