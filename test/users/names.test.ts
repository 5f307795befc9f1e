import t from 'tap';
import { displayNameProblem, usernameProblem, usernameSkeleton } from '../../src/users/names.js';

t.test('usernameProblem accepts names in any script, with accents, decomposed or full-width', async (t) => {
  for (const name of ['zoë', 'müller', 'José', 'rene\u0301', '田中', 'иван', 'a', '12345', 'dot.dash-under_score', 'ｐａｙｐａｌ']) {
    t.equal(usernameProblem(name), undefined, JSON.stringify(name));
  }
});

t.test('usernameProblem refuses invisible characters, naming the first', async (t) => {
  const cases: [string, string][] = [
    ['a\u034Fb', 'U+034F'], // combining grapheme joiner
    ['a\uFE0Fb', 'U+FE0F'], // variation selector
    ['a\u{E0100}b', 'U+E0100'], // variation selector supplement
    ['a\u180Bb', 'U+180B'], // Mongolian free variation selector
    ['\u3164', 'U+1160'], // Hangul filler, which NFKC makes the jungseong filler
    ['\uFFA0', 'U+1160'], // halfwidth Hangul filler
    ['\u115Fa', 'U+115F'],
    ['a\u200Bb', 'U+200B'], // zero-width space
    ['a\u200Db', 'U+200D'], // zero-width joiner
    ['a\u2060b', 'U+2060'], // word joiner
    ['a\uFEFFb', 'U+FEFF'],
    ['a\u202Eb', 'U+202E'], // right-to-left override
    ['a\u2067b', 'U+2067'], // right-to-left isolate
    ['a\u061Cb', 'U+061C'], // Arabic letter mark
    ['a\u00ADb', 'U+00AD'], // soft hyphen
  ];
  for (const [name, codePoint] of cases) {
    t.equal(usernameProblem(name), `username: must not contain invisible characters (${codePoint})`, JSON.stringify(name));
  }
});

t.test('usernameProblem refuses a name without a letter or digit, or with punctuation once normalized', async (t) => {
  for (const name of ['_', '...', '-_.', '\u0301']) t.equal(usernameProblem(name), 'username: must contain a letter or a digit', JSON.stringify(name));
  // ⑴ is a digit as typed, "(1)" once normalized.
  for (const name of ['\u2474', 'a\u3220']) t.match(usernameProblem(name), /^username: must be letters, digits/, JSON.stringify(name));
});

t.test('usernameSkeleton: look-alikes meet', async (t) => {
  const pairs: [string, string][] = [
    ['paypal', 'p\u0430ypal'], // Cyrillic а
    ['paypal', '\u0440\u0430\u0443\u0440\u0430l'], // Cyrillic р а у р а
    ['paypal', 'ｐａｙｐａｌ'], // full-width
    ['paypal', 'PayPal'],
    ['paypal', 'paypa1'],
    ['paypal', 'pay\u200Dpal'], // invisibles are dropped
    ['hello', '\u041D\u0415LLO'], // Cyrillic capitals Н Е look like H E
    ['Ilya', 'llya'], // a capital I is shown as typed
    ['modern', 'rnodern'],
    ['Modern', 'rnodern'],
    ['zoë', 'zoe\u0308'],
    ['田中', '\u2F65中'], // Kangxi radical field
  ];
  for (const [a, b] of pairs) t.equal(usernameSkeleton(a), usernameSkeleton(b), `${JSON.stringify(a)} ~ ${JSON.stringify(b)}`);
});

t.test('usernameSkeleton: different names stay apart', async (t) => {
  const pairs: [string, string][] = [
    ['иван', 'ivan'],
    ['zoë', 'zoe'],
    ['José', 'Jose'],
    ['müller', 'muller'],
    ['alice', 'alicia'],
  ];
  for (const [a, b] of pairs) t.not(usernameSkeleton(a), usernameSkeleton(b), `${JSON.stringify(a)} ≁ ${JSON.stringify(b)}`);
});

t.test('displayNameProblem refuses bidi controls, invisibles and control characters; emoji keep their joiners', async (t) => {
  for (const [name, codePoint] of [
    ['evil\u202Egnp.exe', 'U+202E'],
    ['a\u2066b\u2069', 'U+2066'],
    ['a\u200Fb', 'U+200F'],
    ['pay\u200Bpal', 'U+200B'],
    ['\u3164', 'U+3164'],
    ['soft\u00ADhyphen', 'U+00AD'],
    ['a\u200Db', 'U+200D'], // a joiner between letters joins nothing
    ['bell\u0007', 'U+0007'],
    ['two\nlines', 'U+000A'],
  ]) {
    t.equal(displayNameProblem(name!), `display_name: must not contain invisible or control characters (${codePoint})`, JSON.stringify(name));
  }
  for (const name of ['Pat Cher', 'Zoë 🌸', '\u2764\uFE0F', '\u{1F469}\u200D\u{1F4BB} dev', '1\uFE0F\u20E3', 'שלום', 'مرحبا']) {
    t.equal(displayNameProblem(name), undefined, JSON.stringify(name));
  }
});
