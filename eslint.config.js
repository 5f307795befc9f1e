import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.tap/', 'coverage/', 'web/vendor/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // The web client: modules for browsers (web/client.js runs in Node too, given a WebSocket class).
    files: ['web/**/*.js'],
    languageOptions: {
      sourceType: 'module',
      globals: Object.fromEntries(
        [
          'window', 'document', 'navigator', 'location', 'history', 'localStorage', 'fetch', 'crypto', 'WebSocket',
          'Node', 'URL', 'URLSearchParams', 'FormData', 'XMLHttpRequest', 'Notification', 'AudioContext',
          'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'queueMicrotask', 'requestAnimationFrame', 'AbortController',
        ].map((name) => [name, 'readonly']),
      ),
    },
  },
  {
    // Tests read arbitrary JSON answers; migrations are written against Kysely<any> on purpose.
    files: ['test/**/*.ts', 'migrations/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
