import t from 'tap';
import { deJson, i64, option, string, struct, vec } from '../helpers/dejson.js';

// The decoder that the shindensen tests rely on must fail where the client's does.

const Point = struct('Point', { x: i64, label: option(string), tags: vec(string) });

t.test('decodes a struct with exactly its keys', async (t) => {
  t.same(deJson('{"x": -3, "label": null, "tags": ["a", "b\\"c"]}', Point), { x: -3, label: null, tags: ['a', 'b"c'] });
  t.same(deJson(' { "tags" : [ ] , "label" : "l" , "x" : 0 } ', Point), { x: 0, label: 'l', tags: [] });
});

t.test('fails as DeJson does', async (t) => {
  const fails = (text: string, pattern: RegExp, options?: { everyKey?: boolean }) =>
    t.throws(() => deJson(text, Point, options), pattern, text);
  fails('{"x":1,"label":null,"tags":[],"extra":1}', /Unexpected key extra/);
  fails('{"label":null,"tags":[]}', /Key not found x/);
  fails('{"x":1.0,"label":null,"tags":[]}', /expected an integer/);
  fails('{"x":1e3,"label":null,"tags":[]}', /expected an integer/);
  fails('{"x":"1","label":null,"tags":[]}', /expected an integer/);
  fails('{"x":1,"label":2,"tags":[]}', /expected a string/);
  fails('{"x":1,"label":null,"tags":[1]}', /expected a string/);
  fails('{"x":1,"x":2,"label":null,"tags":[]}', /twice/);
  fails('{"x":1,"label":null,"tags":[]} x', /trailing/);
  fails('[]', /expected \{/);
  // A missing Option is None for DeJson; the server always sends every key, so tests ask for it.
  fails('{"x":1,"tags":[]}', /Key not found label/);
  t.same(deJson('{"x":1,"tags":[]}', Point, { everyKey: false }), { x: 1, label: null, tags: [] });
});
