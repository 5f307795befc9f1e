import type SQLite from 'better-sqlite3';
import { createRequire } from 'node:module';
import path from 'node:path';
import { projectRoot } from '../paths.js';

export type WorkerName = 'checkpoint-worker' | 'hash-worker';

/**
 * Where the server's own files are: what it serves (the web client, Swagger UI's page and
 * scripts), its threads' entry points, and better-sqlite3's compiled addon. Each is asked for when
 * it is needed, not when this module loads: the single executable extracts them on first need.
 */
export interface ServerFiles {
  webClient(): string;
  swaggerUi(): string;
  worker(name: WorkerName): string | URL;
  /** better-sqlite3's options that load its addon. */
  sqliteOptions(): SQLite.Options;
}

// The sources keep each thread's entry point with its feature; the bundle has them beside itself.
const SOURCES: Record<WorkerName, string> = {
  'checkpoint-worker': '../db/checkpoint-worker.ts',
  'hash-worker': '../auth/hash-worker.ts',
};
const fromSources = import.meta.url.endsWith('.ts');

/**
 * The sources' files (tests), or the bundle's in dist/server (npm start), which is inside the
 * project: both find packages in node_modules. The single executable is built with
 * files-executable.ts in this module's place (scripts/package.mjs).
 */
export const serverFiles: ServerFiles = {
  webClient: () => path.join(projectRoot, 'web'),
  // The bundle holds @fastify/swagger-ui's code, which then cannot find its files beside itself.
  swaggerUi: () => path.join(path.dirname(createRequire(import.meta.url).resolve('@fastify/swagger-ui/package.json')), 'static'),
  worker: (name) => new URL(fromSources ? SOURCES[name] : `./${name}.js`, import.meta.url),
  // better-sqlite3 finds its addon in node_modules.
  sqliteOptions: () => ({}),
};
