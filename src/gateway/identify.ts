import { Type, type Static } from 'typebox';
import { compileJsonCheck } from '../http/validation.js';

const IdentifyFrame = Type.Object({ op: Type.Literal('IDENTIFY'), d: Type.Object({ token: Type.String({ minLength: 1 }) }) });
export type IdentifyFrame = Static<typeof IdentifyFrame>;

/** `{"op":"IDENTIFY","d":{"token":…}}`, the same on every surface. */
export const identifyFrame = compileJsonCheck(IdentifyFrame);
