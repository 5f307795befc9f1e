import { Ajv, type AnySchema, type ErrorObject, type Options, type ValidateFunction } from 'ajv';
import type { FastifyInstance } from 'fastify';
import { compileLater } from './deferred-compile.js';

const common: Options = { useDefaults: true, removeAdditional: true, allErrors: false, strict: false };

// JSON (bodies and WebSocket frames) is checked as sent: `{"content": 123}` is a wrong type, not "123".
const json = new Ajv({ ...common, coerceTypes: false });
// Query strings and path parameters arrive as text, so they are coerced to the declared types.
const text = new Ajv({ ...common, coerceTypes: 'array' });

export function useValidators(app: FastifyInstance): void {
  app.setValidatorCompiler(({ schema, httpPart }) => lazyValidator(httpPart === 'body' ? json : text, schema));
}

/** Ajv's validator for `schema`, compiled later (deferred-compile.ts). */
function lazyValidator(ajv: Ajv, schema: AnySchema) {
  const compiled = compileLater<ValidateFunction>(() => ajv.compile(schema));
  const check = (data: unknown): boolean => {
    const validate = compiled();
    const valid = validate(data);
    // Read by Fastify (and by compileJsonCheck) after a failed check, as on Ajv's own function.
    check.errors = validate.errors;
    return valid;
  };
  check.errors = undefined as ErrorObject[] | null | undefined;
  return check;
}

export interface Invalid {
  field: string | undefined;
  message: string;
}

/** A checker for JSON that is not an HTTP body (WebSocket frames): null when valid. */
export function compileJsonCheck(schema: object): (value: unknown) => Invalid | null {
  const validate = lazyValidator(json, schema);
  return (value) => (validate(value) ? null : describe(validate.errors?.[0]));
}

/** The first error as a field name (`body/content` → `content`) and a sentence that names it. */
export function describe(error: Pick<ErrorObject, 'instancePath' | 'params' | 'message'> | undefined, context?: string): Invalid {
  const missing = (error?.params as { missingProperty?: string } | undefined)?.missingProperty;
  const parts = (error?.instancePath ?? '').split('/').filter(Boolean);
  if (missing) parts.push(missing);
  const field = parts.length > 0 ? parts.join('.') : context;
  const message = error?.message ?? 'is not valid';
  return { field, message: field ? `${field}: ${message}` : message };
}
