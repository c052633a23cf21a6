/**
 * Routes name the limiter that guards them in their config (`config: { rateLimit: 'mfa' }`);
 * one hook applies it. Names match the `limit` label of gatehouse_rate_limited_total.
 */
export type LimitName =
  'login_user' | 'login_ip' | 'mfa' | 'send_code' | 'password_reset' | 'register' | 'totp_service'

declare module 'fastify' {
  interface FastifyContextConfig {
    rateLimit?: LimitName
  }
}
