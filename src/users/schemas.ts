import { Type } from 'typebox';

export const Username = Type.String({
  minLength: 1,
  maxLength: 32,
  pattern: '^[\\p{L}\\p{N}_.\\-]+$',
  description: 'Letters, digits, _ . - (1–32); unique without regard to case',
});
export const Password = Type.String({ minLength: 8, maxLength: 256 });
