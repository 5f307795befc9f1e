import type { Config } from './config.js';

const isLoopback = (host: string) => host === 'localhost' || host === '::1' || host.startsWith('127.');

/** What an operator should hear at start about settings that are unsafe where the server listens. */
export function startupWarnings(config: Pick<Config, 'authMode' | 'host' | 'corsOrigin'>): string[] {
  const warnings: string[] = [];
  if (isLoopback(config.host)) return warnings;
  if (config.authMode === 'open') {
    warnings.push(
      `AUTH_MODE=open while listening on ${config.host}: anyone who can reach the server and knows a username ` +
        'without a password can log in as it. On a network you do not trust, set AUTH_MODE=password (README, Security).',
    );
  }
  if (config.corsOrigin === '*') {
    warnings.push('CORS_ORIGIN=*: a page on any site can call this server with a token it holds (README, Security).');
  }
  return warnings;
}
