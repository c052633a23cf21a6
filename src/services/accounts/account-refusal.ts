import { GatehouseError } from '../errors.js'

// SPEC §4.13: after "this wasn't me" the right old password is refused until a reset.
export const passwordResetRequired = () =>
  new GatehouseError('password_reset_required', {
    detail: 'this password was blocked after a reported compromise; reset it with forgot password',
  })

/**
 * Why an account whose factor was just proved may still not sign in, or undefined: disabled,
 * locked by an admin, or reported compromised (SPEC §3, §4.13). The one rule for the password
 * step, a passkey and a second factor; each caller audits the refusal its own way, and the
 * refusal's `code` is the reason it records. `compromised` is asked last, and only then.
 */
export async function accountRefusal(
  account: { disabled_at: number | null; locked_at: number | null },
  compromised: () => boolean | Promise<boolean>,
): Promise<GatehouseError | undefined> {
  if (account.disabled_at !== null)
    return new GatehouseError('account_disabled', { detail: 'this account is disabled' })
  if (account.locked_at !== null)
    return new GatehouseError('account_locked', { detail: 'this account is locked' })
  if (await compromised()) return passwordResetRequired()
  return undefined
}
