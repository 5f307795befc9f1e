import { Type } from 'typebox';

export const Username = Type.String({
  minLength: 1,
  maxLength: 32,
  // Marks (\p{M}) let a decomposed accent through; names are stored NFC-normalized.
  pattern: '^[\\p{L}\\p{M}\\p{N}_.\\-]+$',
  description: 'Letters, digits, _ . - (1–32); unique without regard to case; a new name hides no invisible character and does not look like a taken one',
});
export const Password = Type.String({ minLength: 8, maxLength: 256 });
