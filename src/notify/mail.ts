import type { Transporter } from 'nodemailer'
import type { Mailer } from '../services/ports.js'
import { logWritten, type NotifyLogger } from './logger.js'

/** Real delivery through the SMTP server of SMTP_URL (smtp:// or smtps://, credentials in the URL). */
export function createSmtpMailer(cfg: { smtpUrl: string; from: string }): Mailer & {
  close(): void
} {
  // nodemailer is loaded with the first message (most processes send none, and it costs
  // about 2 MiB each). It waits up to two minutes for a silent server by default; a sign-in
  // code that late is useless and holds the request, so fail fast and let the user ask again.
  let transport: Promise<Transporter> | undefined
  const open = () =>
    (transport ??= import('nodemailer').then(({ default: nodemailer }) =>
      nodemailer.createTransport({
        url: cfg.smtpUrl,
        connectionTimeout: 10_000,
        greetingTimeout: 10_000,
        socketTimeout: 20_000,
      }),
    ))
  return {
    async send(m) {
      await (
        await open()
      ).sendMail({
        from: cfg.from,
        to: m.to,
        subject: m.subject,
        text: m.text,
        ...(m.html === undefined ? {} : { html: m.html }),
      })
    },
    close: () => void transport?.then((t) => t.close()),
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
      await logWritten(log)
    },
  }
}
