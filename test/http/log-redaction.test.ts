import t from 'tap';
import { redactUrl } from '../../src/http/log-redaction.js';

t.test('the values of token and sig are redacted, however their names are written', async (t) => {
  const cases: [url: string, logged: string][] = [
    ['/v1/ws?token=SECRET', '/v1/ws?token=[redacted]'],
    ['/ws?%74oken=SECRET', '/ws?%74oken=[redacted]'],
    ['/ws?t%6Fk%65n=SECRET&x=1', '/ws?t%6Fk%65n=[redacted]&x=1'],
    ['/ws?TOKEN=SECRET', '/ws?TOKEN=[redacted]'],
    ['/ws?token=A&token=B', '/ws?token=[redacted]&token=[redacted]'],
    ['/v1/files/1/a.png?expires=1796576700&u=3&sig=SECRET', '/v1/files/1/a.png?expires=1796576700&u=3&sig=[redacted]'],
    ['/files/1/a.png?%73ig=SECRET', '/files/1/a.png?%73ig=[redacted]'],
    ['/ws?token=', '/ws?token=[redacted]'],
  ];
  for (const [url, logged] of cases) t.equal(redactUrl(url), logged, url);
});

t.test('everything else is logged as it is', async (t) => {
  for (const url of [
    '/v1/chats/3/messages?limit=50&before=10',
    '/v1/chats',
    '/search?q=token%3DA',
    '/x?tokens=1&mytoken=2&token',
    '/x?%zz=1&a==b',
    '/v1/files/1/token=x.png',
  ]) {
    t.equal(redactUrl(url), url, url);
  }
});
