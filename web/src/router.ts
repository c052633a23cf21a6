import {
  createRouter,
  createWebHistory,
  type RouteRecordInfo,
  type RouteRecordRaw,
} from 'vue-router'
import { useSessionStore } from './stores/session'

declare module 'vue-router' {
  interface RouteMeta {
    title: string
    requiresAuth?: boolean
    admin?: boolean
  }
}

type Plain<Name extends string, Path extends string> = RouteRecordInfo<
  Name,
  Path,
  Record<never, never>,
  Record<never, never>
>
type WithParam<Name extends string, Path extends string, Param extends string> = RouteRecordInfo<
  Name,
  Path,
  Record<Param, string | number>,
  Record<Param, string>
>

/**
 * Every route by name, with its parameters: `router.push`, `RouterLink` and redirects are
 * checked against it, so a misspelt name or a missing `:id` fails vue-tsc instead of
 * navigating nowhere.
 */
interface RouteNamedMap {
  home: Plain<'home', '/'>
  login: Plain<'login', '/login'>
  'second-factor': Plain<'second-factor', '/login/code'>
  register: Plain<'register', '/register'>
  verify: Plain<'verify', '/verify'>
  forgot: Plain<'forgot', '/password/forgot'>
  reset: Plain<'reset', '/password/reset'>
  'not-me': Plain<'not-me', '/not-me'>
  'oidc-interaction': WithParam<'oidc-interaction', '/oidc-interaction/:uid', 'uid'>
  profile: Plain<'profile', '/profile'>
  totp: Plain<'totp', '/security/totp'>
  channels: Plain<'channels', '/security/codes'>
  'disable-mfa': Plain<'disable-mfa', '/security/disable'>
  products: Plain<'products', '/products'>
  'product-new': Plain<'product-new', '/products/new'>
  'product-edit': WithParam<'product-edit', '/products/:id', 'id'>
  'admin-users': Plain<'admin-users', '/admin/users'>
  'admin-roles': Plain<'admin-roles', '/admin/roles'>
  'admin-audit': Plain<'admin-audit', '/admin/audit'>
  'admin-api-keys': Plain<'admin-api-keys', '/admin/api-keys'>
  'not-found': WithParam<'not-found', '/:pathMatch(.*)*', 'pathMatch'>
}

declare module 'vue-router' {
  interface TypesConfig {
    RouteNamedMap: RouteNamedMap
  }
}

export type RouteName = keyof RouteNamedMap

type NamedRoute = RouteRecordRaw & { name: RouteName }

const routes: NamedRoute[] = [
  { path: '/', name: 'home', redirect: { name: 'profile' }, meta: { title: 'Home' } },
  {
    path: '/login',
    name: 'login',
    component: () => import('./pages/LoginPage.vue'),
    meta: { title: 'Sign in' },
  },
  {
    path: '/login/code',
    name: 'second-factor',
    component: () => import('./pages/SecondFactorPage.vue'),
    meta: { title: 'Second step' },
  },
  {
    path: '/register',
    name: 'register',
    component: () => import('./pages/RegisterPage.vue'),
    meta: { title: 'Create an account' },
  },
  {
    path: '/verify',
    name: 'verify',
    component: () => import('./pages/VerifyContactPage.vue'),
    meta: { title: 'Verify your contact' },
  },
  {
    path: '/password/forgot',
    name: 'forgot',
    component: () => import('./pages/ForgotPasswordPage.vue'),
    meta: { title: 'Forgot password' },
  },
  {
    path: '/password/reset',
    name: 'reset',
    component: () => import('./pages/ResetPasswordPage.vue'),
    meta: { title: 'Choose a new password' },
  },
  {
    path: '/not-me',
    name: 'not-me',
    component: () => import('./pages/NotMePage.vue'),
    meta: { title: "This wasn't me" },
  },
  {
    path: '/oidc-interaction/:uid',
    name: 'oidc-interaction',
    component: () => import('./pages/OidcInteractionPage.vue'),
    meta: { title: 'Sign in to an application' },
  },
  {
    path: '/profile',
    name: 'profile',
    component: () => import('./pages/ProfilePage.vue'),
    meta: { title: 'Your account', requiresAuth: true },
  },
  {
    path: '/security/totp',
    name: 'totp',
    component: () => import('./pages/TotpSetupPage.vue'),
    meta: { title: 'Set up an authenticator app', requiresAuth: true },
  },
  {
    path: '/security/codes',
    name: 'channels',
    component: () => import('./pages/ChannelsPage.vue'),
    meta: { title: 'Codes by email or SMS', requiresAuth: true },
  },
  {
    path: '/security/disable',
    name: 'disable-mfa',
    component: () => import('./pages/DisableMfaPage.vue'),
    meta: { title: 'Turn off two-step sign-in', requiresAuth: true },
  },
  {
    path: '/products',
    name: 'products',
    component: () => import('./pages/ProductsPage.vue'),
    meta: { title: 'Products', requiresAuth: true },
  },
  {
    path: '/products/new',
    name: 'product-new',
    component: () => import('./pages/ProductFormPage.vue'),
    meta: { title: 'New product', requiresAuth: true },
  },
  {
    path: '/products/:id',
    name: 'product-edit',
    component: () => import('./pages/ProductFormPage.vue'),
    meta: { title: 'Edit product', requiresAuth: true },
  },
  {
    path: '/admin/users',
    name: 'admin-users',
    component: () => import('./pages/admin/UsersPage.vue'),
    meta: { title: 'Users', requiresAuth: true, admin: true },
  },
  {
    path: '/admin/roles',
    name: 'admin-roles',
    component: () => import('./pages/admin/RolesPage.vue'),
    meta: { title: 'Roles', requiresAuth: true, admin: true },
  },
  {
    path: '/admin/audit',
    name: 'admin-audit',
    component: () => import('./pages/admin/AuditPage.vue'),
    meta: { title: 'Audit log', requiresAuth: true, admin: true },
  },
  {
    path: '/admin/api-keys',
    name: 'admin-api-keys',
    component: () => import('./pages/admin/ApiKeysPage.vue'),
    meta: { title: 'API keys', requiresAuth: true, admin: true },
  },
  {
    path: '/:pathMatch(.*)*',
    name: 'not-found',
    component: () => import('./pages/NotFoundPage.vue'),
    meta: { title: 'Page not found' },
  },
]

export const router = createRouter({ history: createWebHistory(), routes })

router.beforeEach(async (to) => {
  const session = useSessionStore()
  // After a reload the access token is gone; the refresh cookie may bring it back.
  await session.restore()
  if (to.meta.requiresAuth && !session.signedIn) {
    return { name: 'login', query: { redirect: to.fullPath } }
  }
  if (to.meta.admin && !session.isAdmin) return { name: 'profile' }
  return true
})

router.afterEach((to) => {
  document.title = `${to.meta.title} · Gatehouse`
})

/**
 * A `redirect` query worth following: a path on this site (not `//host`, nor `/\host`, which
 * browsers read as another origin), or undefined. Pages pass it on from one step to the next.
 */
export function safeRedirect(query: unknown): string | undefined {
  const target = typeof query === 'string' ? query : ''
  return target.startsWith('/') && !target.startsWith('//') && !target.startsWith('/\\')
    ? target
    : undefined
}

/** Where to go after signing in: back to the page that sent the person to login, if it is ours. */
export function redirectTarget(query: unknown): string {
  return safeRedirect(query) ?? '/profile'
}
