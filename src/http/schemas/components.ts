import { ProblemSchema, TokenResponseSchema, UserSchema } from './common.js'
import { OidcClientSchema } from './oidc-clients.js'
import { ProductSchema } from './products.js'
import { CredentialDescriptorSchema, PasskeySchema } from './webauthn.js'

/**
 * The shapes several routes answer with, each published once under the OpenAPI document's
 * components.schemas by its `$id` and referenced from the routes by `refTo` (app.ts adds them
 * to Fastify, whose serializer resolves the references).
 */
export const componentSchemas = [
  ProblemSchema,
  UserSchema,
  TokenResponseSchema,
  PasskeySchema,
  CredentialDescriptorSchema,
  ProductSchema,
  OidcClientSchema,
]
