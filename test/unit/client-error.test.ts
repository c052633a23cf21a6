import type { ConnectionError, FastifyInstance } from 'fastify'
import type { Socket } from 'node:net'
import { describe, expect, it, vi } from 'vitest'
import { answerClientError } from '../../src/http/problem.js'

/** A socket as the handler sees it, recording what was written and whether it was destroyed. */
function fakeSocket(state: { writable: boolean; destroyed: boolean; headersSent?: boolean }) {
  const written: string[] = []
  const socket = {
    writable: state.writable,
    destroyed: state.destroyed,
    _httpMessage: state.headersSent === undefined ? null : { headersSent: state.headersSent },
    write: (text: string) => written.push(text),
    destroy: vi.fn(),
  }
  return { socket: socket as unknown as Socket, written, destroy: socket.destroy }
}

const instance = { log: { trace: vi.fn() } } as unknown as FastifyInstance
const errorWith = (code: string) =>
  Object.assign(new Error(code), { code, bytesParsed: 0 }) as ConnectionError

describe('the client error handler', () => {
  it.each([
    ['HPE_INVALID_METHOD', 400, 'malformed_request'],
    ['HPE_HEADER_OVERFLOW', 431, 'payload_too_large'],
    ['HPE_CHUNK_EXTENSIONS_OVERFLOW', 413, 'payload_too_large'],
    ['ERR_HTTP_REQUEST_TIMEOUT', 408, 'malformed_request'],
  ])('answers %s with %i problem+json %s, then closes', (code, status, problemCode) => {
    const { socket, written, destroy } = fakeSocket({ writable: true, destroyed: false })
    answerClientError.call(instance, errorWith(code), socket)
    expect(written).toHaveLength(1)
    const [head = '', body = ''] = written[0]!.split('\r\n\r\n')
    expect(head).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `))
    expect(head).toContain('Content-Type: application/problem+json')
    expect(head).toContain(`Content-Length: ${Buffer.byteLength(body)}`)
    expect(head).toContain('Connection: close')
    expect(JSON.parse(body)).toMatchObject({ status, code: problemCode })
    expect(destroy).toHaveBeenCalled()
  })

  it.each([
    ['a reset connection', 'ECONNRESET', { writable: true, destroyed: false }, false],
    ['a destroyed socket', 'HPE_INVALID_METHOD', { writable: false, destroyed: true }, false],
    [
      'a socket that cannot be written',
      'HPE_INVALID_METHOD',
      { writable: false, destroyed: false },
      true,
    ],
    [
      'a reply already under way',
      'ERR_HTTP_REQUEST_TIMEOUT',
      { writable: true, destroyed: false, headersSent: true },
      true,
    ],
  ])('writes nothing on %s', (_name, code, state, destroys) => {
    const { socket, written, destroy } = fakeSocket(state)
    answerClientError.call(instance, errorWith(code), socket)
    expect(written).toEqual([])
    expect(destroy).toHaveBeenCalledTimes(destroys ? 1 : 0)
  })
})
