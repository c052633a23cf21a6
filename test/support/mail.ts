import type { AddressInfo } from 'node:net'
import { simpleParser } from 'mailparser'
import { SMTPServer } from 'smtp-server'

export interface ReceivedMail {
  from: string
  to: string
  subject: string
  text: string
  /** The HTML alternative, when the message has one. */
  html: string | undefined
}

/**
 * A real SMTP server in the test process: the app talks SMTP to it through nodemailer, and
 * the test reads what arrived. `next(to)` waits for the next message to that address.
 */
export async function startMailCapture() {
  const inbox: ReceivedMail[] = []
  /** Messages the server refused (see rejectNext): what the provider saw but did not deliver. */
  const refused: ReceivedMail[] = []
  let rejectNext = 0
  const waiters: { to: string; resolve: (m: ReceivedMail) => void }[] = []

  function deliver(mail: ReceivedMail) {
    const i = waiters.findIndex((w) => w.to === mail.to)
    if (i >= 0) {
      const [w] = waiters.splice(i, 1)
      w!.resolve(mail)
    } else {
      inbox.push(mail)
    }
  }

  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, session, callback) {
      simpleParser(stream).then(
        (parsed) => {
          const to = session.envelope.rcptTo.map((r) => r.address).join(',')
          const mail = {
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to,
            subject: parsed.subject ?? '',
            text: parsed.text ?? '',
            html: typeof parsed.html === 'string' ? parsed.html : undefined,
          }
          if (rejectNext > 0) {
            rejectNext--
            refused.push(mail)
            // As a mail server that is out of space or blocks the sender would answer.
            return callback(
              Object.assign(new Error('mailbox unavailable, try later'), { responseCode: 452 }),
            )
          }
          deliver(mail)
          callback()
        },
        (err: Error) => callback(err),
      )
    },
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.server.address() as AddressInfo

  return {
    url: `smtp://127.0.0.1:${port}`,
    /** Messages that arrived and nobody waited for. */
    inbox,
    refused,
    /** The server refuses the next n messages at the end of DATA. */
    rejectNextMessages(n: number) {
      rejectNext = n
    },
    next(to: string): Promise<ReceivedMail> {
      const i = inbox.findIndex((m) => m.to === to)
      if (i >= 0) return Promise.resolve(inbox.splice(i, 1)[0]!)
      return new Promise((resolve) => waiters.push({ to, resolve }))
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

export type MailCapture = Awaited<ReturnType<typeof startMailCapture>>

/** The 6-digit code in a message. */
export function codeIn(text: string): string {
  const match = /\b(\d{6})\b/.exec(text)
  if (!match) throw new Error(`no code in: ${text}`)
  return match[1]!
}
