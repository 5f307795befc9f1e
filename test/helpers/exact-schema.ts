import type { Ty } from './dejson.js';

/**
 * A compatibility surface's response schema as the struct it must equal (keys, types, whether null
 * is allowed), and a client's struct in the same form: tests compare the two.
 */
export function schemaShape(schema: any): unknown {
  if (schema.anyOf) {
    const [inner, nullable] = schema.anyOf;
    if (nullable?.type !== 'null') throw new Error(`unexpected union ${JSON.stringify(schema)}`);
    return { kind: 'option', of: schemaShape(inner) };
  }
  switch (schema.type) {
    case 'integer':
      return { kind: 'i64' };
    case 'string':
      return { kind: schema.format === 'uuid' ? 'uuid' : 'string' };
    case 'array':
      return { kind: 'vec', of: schemaShape(schema.items) };
    case 'object':
      if (schema.additionalProperties !== false) throw new Error('a compatibility object must forbid other keys');
      if ([...(schema.required ?? [])].sort().join() !== Object.keys(schema.properties).sort().join()) {
        throw new Error('every key of a compatibility object is sent');
      }
      return Object.fromEntries(Object.entries(schema.properties).map(([key, value]) => [key, schemaShape(value)]));
  }
  throw new Error(`unexpected schema ${JSON.stringify(schema)}`);
}

export function structShape(ty: Ty): unknown {
  if (ty.kind === 'option' || ty.kind === 'vec') return { kind: ty.kind, of: structShape(ty.of) };
  if (ty.kind === 'struct') return Object.fromEntries(Object.entries(ty.fields).map(([key, value]) => [key, structShape(value)]));
  return { kind: ty.kind };
}
