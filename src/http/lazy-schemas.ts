import { SerializerSelector } from '@fastify/fast-json-stringify-compiler'
import { TypeBoxValidatorCompiler, type TSchema } from '@fastify/type-provider-typebox'
import type { FastifySchemaCompiler, FastifyServerOptions } from 'fastify'

/** `make()` on the first call, then the made function for this and every later call. */
function onFirstCall<F extends (...args: never[]) => unknown>(make: () => F): F {
  let made: F | undefined
  return ((...args: Parameters<F>) => (made ??= make())(...args)) as F
}

/**
 * Fastify compiles every route's validators and response serializers (generated code, one
 * per schema part and status) while it starts. Most routes of an instance are never called
 * (admin, OIDC, the TOTP service): compiling each on its first request instead keeps
 * ~15 MiB of code and start-up garbage out of an idle instance, for a few milliseconds once
 * per route. Schemas are still checked at start-up by the OpenAPI document and the tests.
 */
export const lazyValidatorCompiler: FastifySchemaCompiler<TSchema> = (route) =>
  onFirstCall(() => TypeBoxValidatorCompiler(route))

/** Fastify's own serializer compiler (fast-json-stringify), made lazy the same way. */
export const lazySerializers: NonNullable<FastifyServerOptions['schemaController']> = {
  compilersFactory: {
    buildSerializer: (externalSchemas, options) => {
      const compile = SerializerSelector()(externalSchemas, options)
      return (route) => onFirstCall(() => compile(route))
    },
  },
}
