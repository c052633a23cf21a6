import nodemailer from 'nodemailer'
import type { Mailer } from '../services/ports.js'
import type { NotifyLogger } from './logger.js'

/** Real delivery through the SMTP server of SMTP_URL (smtp:// or smtps://, credentials in the URL). */
export function createSmtpMailer(cfg: { smtpUrl: string; from: string }): Mailer & {
  close(): void
} {
  // nodemailer waits up to two minutes for a silent server by default; a sign-in code that
  // late is useless and holds the request, so fail fast and let the user ask again.
  const transport = nodemailer.createTransport({
    url: cfg.smtpUrl,
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 20_000,
  })
  return {
    async send(m) {
      await transport.sendMail({
        from: cfg.from,
        to: m.to,
        subject: m.subject,
        text: m.text,
        ...(m.html === undefined ? {} : { html: m.html }),
      })
    },
    close: () => transport.close(),
  }
}

/**
 * SPEC §2's default without SMTP_URL: the message, code included, goes to the log so a
 * developer can sign in without a mail server. Only this mailer ever logs a message body.
 */
export function createLogMailer(log: NotifyLogger): Mailer {
  return {
    async send(m) {
      log.info(
        { mail: { to: m.to, subject: m.subject, text: m.text } },
        'email not sent (SMTP_URL is unset); written to the log instead',
      )
    },
  }
}
