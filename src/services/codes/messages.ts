import type { CodePurpose } from '../../store/repositories/one-time-codes.js'

/** Short texts naming the app; the code appears once and nothing else secret does. */
export function codeMessage(
  appName: string,
  purpose: CodePurpose,
  code: string,
  validMin: number,
): { subject: string; text: string; sms: string } {
  switch (purpose) {
    case 'verify_contact':
      return {
        subject: `${appName}: your verification code`,
        text: `Your ${appName} verification code is ${code}. It expires in ${validMin} minutes.`,
        sms: `${appName} verification code: ${code} (expires in ${validMin} min)`,
      }
    case 'login':
      return {
        subject: `${appName}: your sign-in code`,
        text:
          `Your ${appName} sign-in code is ${code}. It expires in ${validMin} minutes.\n\n` +
          `If you did not try to sign in, someone knows your password: change it.`,
        sms: `${appName} sign-in code: ${code} (expires in ${validMin} min)`,
      }
    case 'password_reset':
      return {
        subject: `${appName}: your password reset code`,
        text:
          `Your ${appName} password reset code is ${code}. It expires in ${validMin} minutes.\n\n` +
          `If you did not ask to reset your password, ignore this message.`,
        sms: `${appName} password reset code: ${code} (expires in ${validMin} min)`,
      }
  }
}
