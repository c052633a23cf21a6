import { Type } from 'typebox'
import { refTo } from './common.js'

/** A product of the example protected resource (SPEC §4.8). */
export const ProductSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    description: Type.String(),
    price: Type.Number(),
    quantity: Type.Integer(),
    created_at: Type.String({ format: 'date-time' }),
    updated_at: Type.String({ format: 'date-time' }),
  },
  { $id: 'Product' },
)
export const ProductRef = refTo(ProductSchema)
