import { CONFUSABLES } from './confusables-data.js';

// The rules that keep one name from passing for another (issue 18): a new username may hide no
// invisible character and may not look like an existing one; a display name may hide no invisible
// character either, and may not look like someone else's username.

const PROTOTYPE = new Map<string, string>();
for (const [prototype, lookalikes] of CONFUSABLES) for (const c of lookalikes) PROTOTYPE.set(c, prototype);

// Characters that show nothing: zero-width characters, bidi controls, variation selectors, the
// combining grapheme joiner, Mongolian variation selectors, Hangul fillers, the soft hyphen, tags.
const INVISIBLE = /\p{Default_Ignorable_Code_Point}/u;
const INVISIBLES = new RegExp(INVISIBLE.source, 'gu');
const USERNAME = /^[\p{L}\p{M}\p{N}_.-]+$/u;
const LETTER_OR_DIGIT = /[\p{L}\p{N}]/u;
// All that emoji need of the invisibles, and all a display name may keep: a joiner before a
// pictograph, a presentation selector after an emoji (U+2764 U+FE0F, U+1F469 U+200D U+1F4BB).
const EMOJI_GLUE = /\u200D(?=\p{Extended_Pictographic})|(?<=\p{Emoji})[\uFE0E\uFE0F]/gu;
const HIDDEN = /[\p{Default_Ignorable_Code_Point}\p{Cc}]/u;

const codePoint = (c: string) => `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;

/**
 * Why `username` cannot name a new account, as a sentence that starts with the field; undefined
 * when it can. The request schema has already checked the characters as typed; these rules look at
 * the name as compatibility normalization (NFKC) reads it, which is how `usernameSkeleton` compares.
 */
export function usernameProblem(username: string): string | undefined {
  const name = username.normalize('NFKC');
  const invisible = INVISIBLE.exec(name)?.[0];
  if (invisible) return `username: must not contain invisible characters (${codePoint(invisible)})`;
  // ⑴ and ㈠ are digits as typed but parentheses once normalized.
  if (!USERNAME.test(name)) return 'username: must be letters, digits, _ . and - also once normalized';
  if (!LETTER_OR_DIGIT.test(name)) return 'username: must contain a letter or a digit';
  return undefined;
}

/** Why `displayName` cannot be shown, as a sentence that starts with the field; undefined when it can. */
export function displayNameProblem(displayName: string): string | undefined {
  const hidden = HIDDEN.exec(displayName.replace(EMOJI_GLUE, ''))?.[0];
  if (hidden) return `display_name: must not contain invisible or control characters (${codePoint(hidden)})`;
  return undefined;
}

/**
 * What `name` looks like: two names with the same skeleton pass for each other. The UTS #39
 * skeleton (NFD, each character to its prototype, NFD again) of the NFKC form without invisibles,
 * then lower-cased and mapped again. A name is shown as typed, so its capitals are mapped as they
 * look (Cyrillic capital EN is H) before case is dropped, and the second mapping makes M, m and rn meet.
 */
export function usernameSkeleton(name: string): string {
  return skeleton(skeleton(name.normalize('NFKC').replace(INVISIBLES, '')).toLowerCase());
}

function skeleton(text: string): string {
  let mapped = '';
  for (const c of text.normalize('NFD')) mapped += PROTOTYPE.get(c) ?? c;
  return mapped.normalize('NFD');
}
