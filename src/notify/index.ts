import type { Config } from '../config/types.js'
import type { Mailer, SmsSender } from '../services/ports.js'
import type { NotifyLogger } from './logger.js'
import { createLogMailer, createSmtpMailer } from './mail.js'
import { createLogSms, createTwilioSms, createWebhookSms } from './sms.js'

export type { NotifyLogger } from './logger.js'
export { stderrLogger } from './logger.js'

/** The configured mailer: SMTP when SMTP_URL is set, the log otherwise (SPEC §2). */
export function createMailer(
  cfg: Config['mail'],
  log: NotifyLogger,
): { mailer: Mailer; close(): void } {
  if (cfg.smtpUrl === undefined) return { mailer: createLogMailer(log), close: () => undefined }
  const smtp = createSmtpMailer({ smtpUrl: cfg.smtpUrl, from: cfg.from })
  return { mailer: smtp, close: () => smtp.close() }
}

export function createSmsSender(cfg: Config['sms'], log: NotifyLogger): SmsSender {
  switch (cfg.provider) {
    case 'log':
      return createLogSms(log)
    case 'webhook':
      return createWebhookSms(cfg)
    case 'twilio':
      return createTwilioSms(cfg)
  }
}
