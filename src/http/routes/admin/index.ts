import type { Services } from '../../../container.js'
import { requireBearer } from '../../auth.js'
import { requireAdmin } from '../../guards.js'
import type { App } from '../types.js'
import { adminApiKeyRoutes } from './api-keys.js'
import { adminAuditRoutes } from './audit-log.js'
import { adminOidcClientRoutes } from './oidc-clients.js'
import { adminRoleRoutes } from './roles.js'
import { adminUserRoutes } from './users.js'

/** SPEC §4.6: every admin route sits behind the Bearer check and the admin (+ MFA) check. */
export function adminRoutes(services: Services) {
  return async (app: App) => {
    app.addHook('preValidation', requireBearer(services.sessions))
    app.addHook(
      'preValidation',
      requireAdmin(services.profiles, services.config.requireMfaForRoles),
    )
    await app.register(adminUserRoutes(services))
    await app.register(adminRoleRoutes(services))
    await app.register(adminAuditRoutes(services))
    await app.register(adminApiKeyRoutes(services))
    await app.register(adminOidcClientRoutes(services))
  }
}
