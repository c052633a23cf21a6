import { Type } from 'typebox'

/** SPEC §3: lists that can grow take `limit` (1–100, default 50) and an opaque `cursor`. */
export const DEFAULT_LIMIT = 50

export const PageQuery = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
}

export function pageSchema<T extends Parameters<typeof Type.Array>[0]>(item: T) {
  return Type.Object({
    items: Type.Array(item),
    next_cursor: Type.Union([Type.String(), Type.Null()]),
  })
}

export const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) })
