export const adminSecurity = [{ bearerAuth: [] }]
/** Every admin route can answer these, besides its own. */
export const adminProblems = [400, 401, 403] as const
