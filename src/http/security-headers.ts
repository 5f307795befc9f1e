import helmet from '@fastify/helmet';
import type { FastifyInstance } from 'fastify';
import type { IncomingMessage } from 'node:http';

/** A Host header that may go into a header as it is: a name or an address, and a port. */
const PLAIN_HOST = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/**
 * The page's own server, its WebSocket included. CSP 3 lets `'self'` match the socket, but browsers
 * that predate that (Safari before 15.4) need it named; a Host that is not a plain host name is not.
 * Behind a proxy that passes `Host $host` on a non-standard port the Host lacks the port the page
 * came from: `PUBLIC_URL` names it.
 */
const ownServer = (publicOrigin: string | null) => {
  const socketOfPublicOrigin = publicOrigin === null ? '' : ` ${publicOrigin.replace(/^http/, 'ws')}`;
  return (req: IncomingMessage) => {
    const host = req.headers.host;
    return (host !== undefined && PLAIN_HOST.test(host) ? `'self' ws://${host} wss://${host}` : "'self'") + socketOfPublicOrigin;
  };
};

/**
 * Security headers on every answer (helmet): the pages, the web client and Swagger UI, run only
 * their own scripts and styles and talk only to this server; no page may be framed, by another
 * site or by this one; nothing is sniffed into another type. A file's answer replaces the policy
 * with a sandbox of its own, but a PDF's, which browsers would then not show (see `Uploads.serve`).
 */
export async function registerSecurityHeaders(app: FastifyInstance): Promise<void> {
  await app.register(helmet, {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        baseUri: ["'none'"],
        connectSrc: [ownServer(app.config.publicOrigin)],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        // Swagger UI's logo and its stylesheet's icons are data: urls.
        imgSrc: ["'self'", 'data:'],
        objectSrc: ["'none'"],
        scriptSrc: ["'self'"],
        scriptSrcAttr: ["'none'"],
        styleSrc: ["'self'"],
      },
    },
    frameguard: { action: 'deny' },
    // Web clients that CORS_ORIGIN allows show files in their pages: another origin may load them.
    crossOriginResourcePolicy: false,
    // HTTPS, and so HSTS, is the TLS proxy's: over plain HTTP the header means nothing.
    strictTransportSecurity: false,
  });
}
