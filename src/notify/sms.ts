import type { SmsSender } from '../services/ports.js'
import { logWritten, type NotifyLogger } from './logger.js'

const TIMEOUT_MS = 10_000

/** SMS_PROVIDER=log: the message goes to the log (development, like the log mailer). */
export function createLogSms(log: NotifyLogger): SmsSender {
  return {
    async send(m) {
      log.info({ sms: { to: m.to, text: m.text } }, 'SMS not sent (SMS_PROVIDER=log)')
      await logWritten(log)
    },
  }
}

// The provider's answer is not echoed: a body may quote the message, and the code with it.
async function expectOk(res: Response, provider: string): Promise<void> {
  if (!res.ok) {
    await res.body?.cancel()
    throw new Error(`${provider} refused the SMS with HTTP ${res.status}`)
  }
  await res.body?.cancel()
}

/** SMS_PROVIDER=webhook: POST {to, text} as JSON to SMS_WEBHOOK_URL; any 2xx is delivered. */
export function createWebhookSms(cfg: { webhookUrl: string }): SmsSender {
  return {
    async send(m) {
      const res = await fetch(cfg.webhookUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ to: m.to, text: m.text }),
        signal: AbortSignal.timeout(TIMEOUT_MS),
      })
      await expectOk(res, 'the SMS webhook')
    },
  }
}

/**
 * SMS_PROVIDER=twilio: Twilio's Messages resource, a form POST with HTTP Basic auth of the
 * account SID and auth token. TWILIO_API_URL points it elsewhere (a test double, a proxy).
 */
export function createTwilioSms(cfg: {
  accountSid: string
  authToken: string
  from: string
  apiUrl: string
}): SmsSender {
  const url = `${cfg.apiUrl}/2010-04-01/Accounts/${encodeURIComponent(cfg.accountSid)}/Messages.json`
  const auth = Buffer.from(`${cfg.accountSid}:${cfg.authToken}`, 'utf8').toString('base64')
  return {
    async send(m) {
      const res = await fetch(url, {
        method: 'POST',
        headers: {
          authorization: `Basic ${auth}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ To: m.to, From: cfg.from, Body: m.text }).toString(),
        signal: AbortSignal.timeout(TIMEOUT_MS),
      })
      await expectOk(res, 'Twilio')
    },
  }
}
