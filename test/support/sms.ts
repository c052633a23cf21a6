import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface ReceivedSms {
  to: string
  text: string
  /** For the Twilio double: the request's From and whether Basic auth matched. */
  from?: string
}

async function bodyOf(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const c of req) chunks.push(c as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

/**
 * A real HTTP server standing in for an SMS provider: `webhook` takes SPEC §2's JSON
 * `{to, text}`; `twilio` checks what Twilio's Messages API checks (path, Basic auth, form
 * fields To, From, Body) and answers 401/400 otherwise, as Twilio would.
 */
export async function startSmsCapture(
  kind: 'webhook' | 'twilio',
  twilio = { accountSid: 'AC0123456789abcdef0123456789abcdef', authToken: 'test-auth-token' },
) {
  const inbox: ReceivedSms[] = []
  const waiters: { to: string; resolve: (m: ReceivedSms) => void }[] = []
  const rejected: { status: number; reason: string }[] = []
  /** Bodies of requests failed on purpose (failNextRequests): what the provider saw. */
  const failedBodies: string[] = []
  let failNext = 0

  function deliver(sms: ReceivedSms) {
    const i = waiters.findIndex((w) => w.to === sms.to)
    if (i >= 0) waiters.splice(i, 1)[0]!.resolve(sms)
    else inbox.push(sms)
  }

  const server = createServer((req, res) => {
    void (async () => {
      const body = await bodyOf(req)
      const refuse = (status: number, reason: string) => {
        rejected.push({ status, reason })
        res.writeHead(status, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ message: reason }))
      }
      if (failNext > 0) {
        failNext--
        failedBodies.push(body)
        return refuse(503, 'provider down')
      }
      if (req.method !== 'POST') return refuse(405, 'method')
      if (kind === 'webhook') {
        if (req.url !== '/sms' || !/json/.test(req.headers['content-type'] ?? ''))
          return refuse(400, 'not json')
        const { to, text } = JSON.parse(body) as { to: string; text: string }
        deliver({ to, text })
      } else {
        const expectedPath = `/2010-04-01/Accounts/${twilio.accountSid}/Messages.json`
        if (req.url !== expectedPath) return refuse(404, `path ${req.url}`)
        const expectedAuth = `Basic ${Buffer.from(`${twilio.accountSid}:${twilio.authToken}`).toString('base64')}`
        if (req.headers.authorization !== expectedAuth) return refuse(401, 'auth')
        if (!/application\/x-www-form-urlencoded/.test(req.headers['content-type'] ?? ''))
          return refuse(400, 'not a form')
        const form = new URLSearchParams(body)
        const to = form.get('To')
        const from = form.get('From')
        const text = form.get('Body')
        if (!to || !from || !text) return refuse(400, 'missing To, From or Body')
        deliver({ to, text, from })
      }
      res.writeHead(201, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ sid: 'SM0000', status: 'queued' }))
    })()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  const base = `http://127.0.0.1:${port}`

  const env: Record<string, string> =
    kind === 'webhook'
      ? { SMS_PROVIDER: 'webhook', SMS_WEBHOOK_URL: `${base}/sms` }
      : {
          SMS_PROVIDER: 'twilio',
          TWILIO_ACCOUNT_SID: twilio.accountSid,
          TWILIO_AUTH_TOKEN: twilio.authToken,
          TWILIO_FROM: '+15005550006',
          TWILIO_API_URL: base,
        }
  return {
    env,
    inbox,
    rejected,
    failedBodies,
    /** The provider answers 503 to the next n requests. */
    failNextRequests(n: number) {
      failNext = n
    },
    next(to: string): Promise<ReceivedSms> {
      const i = inbox.findIndex((m) => m.to === to)
      if (i >= 0) return Promise.resolve(inbox.splice(i, 1)[0]!)
      return new Promise((resolve) => waiters.push({ to, resolve }))
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

export type SmsCapture = Awaited<ReturnType<typeof startSmsCapture>>
