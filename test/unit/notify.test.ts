import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLogMailer, createSmtpMailer } from '../../src/notify/mail.js'
import { createLogSms, createTwilioSms, createWebhookSms } from '../../src/notify/sms.js'
import { startMailCapture, type MailCapture } from '../support/mail.js'
import { startSmsCapture } from '../support/sms.js'

function memoryLog() {
  const lines: string[] = []
  return {
    lines,
    info: (obj: Record<string, unknown>, msg: string) =>
      lines.push(JSON.stringify({ ...obj, msg })),
    warn: (obj: Record<string, unknown>, msg: string) =>
      lines.push(JSON.stringify({ ...obj, msg })),
  }
}

describe('notifiers', () => {
  let mail: MailCapture
  beforeAll(async () => {
    mail = await startMailCapture()
  })
  afterAll(async () => mail.close())

  it('delivers mail over SMTP from EMAIL_FROM', async () => {
    const smtp = createSmtpMailer({ smtpUrl: mail.url, from: 'Gatehouse <auth@example.test>' })
    await smtp.send({ to: 'someone@example.com', subject: 'Gatehouse: hello', text: 'code 123456' })
    const received = await mail.next('someone@example.com')
    expect(received).toMatchObject({
      from: 'auth@example.test',
      subject: 'Gatehouse: hello',
    })
    expect(received.text.trim()).toBe('code 123456')
    smtp.close()
  })

  it('writes mail and SMS to the log when no transport is configured', async () => {
    const log = memoryLog()
    await createLogMailer(log).send({ to: 'a@example.com', subject: 's', text: 'code 654321' })
    await createLogSms(log).send({ to: '+14155550100', text: 'code 111222' })
    expect(log.lines.join('\n')).toContain('654321')
    expect(log.lines.join('\n')).toContain('111222')
  })

  it('a message written to the log is sent only once the log has written it', async () => {
    // pino writes asynchronously: the code must be in the log before the request that sent
    // it is answered, or whoever reads it from the log right after finds the previous one.
    const pending: (() => void)[] = []
    const log = { ...memoryLog(), flush: (done: () => void) => void pending.push(done) }
    for (const send of [
      () => createLogMailer(log).send({ to: 'a@example.com', subject: 's', text: 'code 1' }),
      () => createLogSms(log).send({ to: '+14155550100', text: 'code 2' }),
    ]) {
      let sent = false
      const sending = send().then(() => (sent = true))
      await new Promise((r) => setTimeout(r, 10))
      expect(sent).toBe(false)
      pending.shift()!()
      await sending
      expect(sent).toBe(true)
    }
  })

  it('posts {to, text} as JSON to the SMS webhook', async () => {
    const server = await startSmsCapture('webhook')
    try {
      await createWebhookSms({ webhookUrl: server.env.SMS_WEBHOOK_URL! }).send({
        to: '+14155550100',
        text: 'hello 123456',
      })
      expect(await server.next('+14155550100')).toEqual({
        to: '+14155550100',
        text: 'hello 123456',
      })
    } finally {
      await server.close()
    }
  })

  it('posts a Twilio Messages form with Basic auth; a refusal names the status, never the text', async () => {
    const server = await startSmsCapture('twilio')
    const cfg = {
      accountSid: server.env.TWILIO_ACCOUNT_SID!,
      authToken: server.env.TWILIO_AUTH_TOKEN!,
      from: '+15005550006',
      apiUrl: server.env.TWILIO_API_URL!,
    }
    try {
      await createTwilioSms(cfg).send({ to: '+14155550100', text: 'code 987654' })
      expect(await server.next('+14155550100')).toEqual({
        to: '+14155550100',
        text: 'code 987654',
        from: '+15005550006',
      })
      const wrong = createTwilioSms({ ...cfg, authToken: 'nope' })
      const err = await wrong
        .send({ to: '+14155550100', text: 'code 987654' })
        .catch((e: Error) => e)
      expect(err).toBeInstanceOf(Error)
      expect((err as Error).message).toBe('Twilio refused the SMS with HTTP 401')
    } finally {
      await server.close()
    }
  })
})
