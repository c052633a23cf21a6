import { describe, expect, it } from 'vitest'
import { fieldOf, messageFor, retryPhrase } from '../../../web/src/api/problems.js'

describe('messageFor: problem+json → what a person reads', () => {
  const registerFields = ['username', 'email', 'phone', 'password']

  it.each([
    // [detail as the server sends it, fields of the form, field, message]
    ['password is too common', registerFields, 'password', 'Password is too common.'],
    [
      'password must be at least 12 characters',
      registerFields,
      'password',
      'Password must be at least 12 characters.',
    ],
    [
      "body.email: must match format 'email'",
      registerFields,
      'email',
      "Email must match format 'email'.",
    ],
    [
      'new_password must not equal the username',
      ['username', 'code', 'new_password'],
      'new_password',
      'New password must not equal the username.',
    ],
    [
      'quantity: must be an integer ≥ 0',
      ['name', 'price', 'quantity'],
      'quantity',
      'Quantity must be an integer ≥ 0.',
    ],
    ['body.price.0: must be number', ['price'], 'price', 'Price must be a number.'],
    // The schema's own wording, as a person would say it (SPEC §7).
    [
      'body.username: must have required properties username, password',
      ['username', 'password'],
      'username',
      'Username is required.',
    ],
    [
      'body.password: must not have fewer than 1 characters',
      ['username', 'password'],
      'password',
      'Password is required.',
    ],
    [
      'body.username: must not have more than 255 characters',
      ['username'],
      'username',
      'Username can have at most 255 characters.',
    ],
    [
      'body.phone: must match pattern "^\\+[1-9][0-9]{6,14}$"',
      ['phone'],
      'phone',
      'Phone must be an international number, such as +14155550100.',
    ],
    [
      'body.name: must match pattern "^[a-z][a-z0-9_.-]{0,63}$"',
      ['name'],
      'name',
      'Name may use only lower-case letters, digits and . _ -, and must start with a letter.',
    ],
    ['body.code: must match pattern "^x$"', ['code'], 'code', 'Code is not in the expected form.'],
  ])('validation_error %j goes beside its field', (detail, fields, field, message) => {
    expect(messageFor({ status: 400, code: 'validation_error', detail }, { fields })).toEqual({
      field,
      message,
    })
  })

  it('a conflict that names its field goes beside it, without the name', () => {
    expect(
      messageFor(
        { status: 409, code: 'conflict', detail: 'name: a role named editor already exists' },
        { fields: ['name', 'permissions'] },
      ),
    ).toEqual({ field: 'name', message: 'A role named editor already exists.' })
  })

  it('mfa_required also tells someone with no second factor yet where to get one', () => {
    expect(messageFor({ status: 403, code: 'mfa_required' }).message).toContain(
      'set one up under Account',
    )
  })

  it('a validation_error about a field the form does not show goes to the top', () => {
    expect(
      messageFor(
        {
          status: 400,
          code: 'validation_error',
          detail: 'cursor: is not a cursor this server issued',
        },
        { fields: ['q'] },
      ),
    ).toEqual({ message: 'Cursor is not a cursor this server issued.' })
  })

  it('a wrong password re-check names its field', () => {
    expect(
      messageFor(
        { status: 401, code: 'invalid_credentials', detail: 'current_password is wrong' },
        { fields: ['current_password', 'new_password'] },
      ),
    ).toEqual({ field: 'current_password', message: 'Current password is wrong.' })
  })

  it('a wrong login is one message at the top, the same for both fields', () => {
    expect(
      messageFor(
        { status: 401, code: 'invalid_credentials', detail: 'invalid username or password' },
        { fields: ['username', 'password'] },
      ),
    ).toEqual({ message: 'The username or password is wrong.' })
  })

  it('a wrong code goes beside the code field', () => {
    expect(
      messageFor({ status: 401, code: 'invalid_code', detail: 'wrong code' }, { fields: ['code'] }),
    ).toEqual({ field: 'code', message: expect.stringContaining('That code is not right') })
  })

  it.each([
    [1, 'in 1 second'],
    [45, 'in 45 seconds'],
    [60, 'in 1 minute'],
    [61, 'in 2 minutes'],
    [900, 'in 15 minutes'],
    [7200, 'in 2 hours'],
  ])('429 with Retry-After %i says when: %s', (seconds, phrase) => {
    expect(retryPhrase(seconds)).toBe(phrase)
    expect(
      messageFor(
        { status: 429, code: 'rate_limited', detail: 'slow down' },
        { retryAfterSec: seconds },
      ),
    ).toEqual({ message: `Too many attempts. Please try again ${phrase}.` })
  })

  it('429 without Retry-After still says to wait', () => {
    expect(messageFor({ status: 429, code: 'rate_limited' })).toEqual({
      message: 'Too many attempts. Please try again later.',
    })
  })

  it.each([
    ['forbidden', 403, 'You do not have permission to do that.'],
    ['mfa_required', 403, expect.stringContaining('second factor')],
    // Adding or removing a passkey: the way back is a passkey too, not only "a code".
    ['passkey_mfa_required', 403, expect.stringContaining('sign in again with a passkey')],
    ['account_locked', 403, 'This account is locked. Contact an administrator.'],
    ['token_expired', 401, 'Your session has expired. Please sign in again.'],
    ['network', 0, expect.stringContaining('Could not reach the server')],
  ])('%s reads as a sentence at the top', (code, status, message) => {
    expect(messageFor({ status, code, detail: 'whatever' }, { fields: ['name'] })).toEqual({
      message,
    })
  })

  it('a 5xx without a known code never shows internals', () => {
    expect(messageFor({ status: 500, code: 'internal_error', detail: 'internal error' })).toEqual({
      message: 'The service is unavailable right now. Try again shortly.',
    })
  })

  it('an unknown code falls back to the detail as a sentence', () => {
    expect(messageFor({ status: 418, code: 'teapot', detail: 'short and stout' })).toEqual({
      message: 'Short and stout.',
    })
  })
})

describe('fieldOf', () => {
  it.each([
    ['body.password: must be at least 1 characters', 'password'],
    ['query.limit: must be <= 100', 'limit'],
    ['username must be 3 to 64 characters', 'username'],
    ['the account no longer exists', undefined],
    ['password is too common', undefined], // not a field of this form
  ])('%j names %s', (detail, field) => {
    expect(fieldOf(detail, field === undefined ? ['name'] : [field])).toBe(field)
  })
})

describe('messageFor: passkey ceremonies in the browser', () => {
  it.each([
    [
      'passkey_cancelled',
      'No passkey was used: the request was cancelled or timed out. Try again when you are ready.',
    ],
    ['passkey_refused', 'That passkey was not accepted. Try again, or choose another way.'],
    ['passkey_exists', 'This device already holds a passkey for your account.'],
    ['passkey_unsupported', 'This browser cannot use passkeys.'],
  ])(
    'the browser side of a passkey (%s) reads as a sentence, not a network failure',
    (code, message) => {
      expect(messageFor({ status: 0, code })).toEqual({ message })
    },
  )
})
