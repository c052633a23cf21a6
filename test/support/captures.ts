import { afterAll, beforeAll } from 'vitest'
import { startMailCapture, type MailCapture } from './mail.js'
import { startSmsCapture, type SmsCapture } from './sms.js'

/**
 * A suite's mail and SMS capture servers (SMTP and the webhook provider). Call it before
 * useTestApp: the captures then start before the app and close after it.
 */
export function useCaptures(): {
  readonly mail: MailCapture
  readonly sms: SmsCapture
  /** The app settings that send mail and SMS to the captures. */
  env(from?: string): Record<string, string>
} {
  let mail: MailCapture | undefined
  let sms: SmsCapture | undefined
  beforeAll(async () => {
    mail = await startMailCapture()
    sms = await startSmsCapture('webhook')
  })
  afterAll(async () => {
    await mail?.close()
    await sms?.close()
  })
  const started = <T>(capture: T | undefined): T => {
    if (!capture) throw new Error('the captures start in beforeAll: use them in hooks or tests')
    return capture
  }
  return {
    get mail() {
      return started(mail)
    },
    get sms() {
      return started(sms)
    },
    env: (from = 'auth@example.test') => ({
      SMTP_URL: started(mail).url,
      EMAIL_FROM: from,
      ...started(sms).env,
    }),
  }
}
