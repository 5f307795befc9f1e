import t from 'tap';
import { loadConfig } from '../../src/config.js';
import { startupWarnings } from '../../src/startup-warnings.js';

t.test('NODE_ENV=production asks for passwords unless AUTH_MODE=open is said', async (t) => {
  const production = { NODE_ENV: 'production', JWT_SECRET: 'a-production-secret-of-at-least-32-chars' };
  t.equal(loadConfig(production).authMode, 'password');
  t.equal(loadConfig({ ...production, AUTH_MODE: 'open' }).authMode, 'open', 'open when set');
  t.equal(loadConfig({}).authMode, 'open', 'development stays open: npm start, then log in with a name');
});

t.test('the security settings: defaults and refusals', async (t) => {
  const config = loadConfig({});
  t.equal(config.corsOrigin, '', 'no other origin by default, in development too');
  t.equal(config.registration, 'open');
  t.equal(config.publicOrigin, null);
  t.equal(config.ws.maxSocketsPerUser, 32);
  t.equal(config.ws.maxSocketsPerIp, 256);
  t.match(config.rateLimits, { password: 10, passwordWindowMs: 60_000, resume: 20, resumeWindowMs: 60_000 });
  t.equal(loadConfig({ REGISTRATION: 'invite' }).registration, 'invite');
  t.throws(() => loadConfig({ REGISTRATION: 'friends' }), { message: /REGISTRATION must be one of open, invite, closed/ });
  t.throws(() => loadConfig({ WS_MAX_SOCKETS_PER_USER: 'many' }), { message: /WS_MAX_SOCKETS_PER_USER/ });
});

t.test('the server warns at start when open mode or CORS * meet a network beyond this machine', async (t) => {
  t.same(startupWarnings({ authMode: 'open', host: '127.0.0.1', corsOrigin: '' }), [], 'loopback: nothing to say');
  t.same(startupWarnings({ authMode: 'password', host: '0.0.0.0', corsOrigin: '' }), []);
  const open = startupWarnings({ authMode: 'open', host: '0.0.0.0', corsOrigin: '*' });
  t.equal(open.length, 2);
  t.match(open[0], /AUTH_MODE=open while listening on 0\.0\.0\.0.*AUTH_MODE=password/);
  t.match(open[1], /CORS_ORIGIN=\*/);
});
