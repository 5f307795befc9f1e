/** Query parameters that carry a credential: a token (`/ws?token=`) or a file url's signature (`sig=`). */
const SECRETS = new Set(['token', 'sig']);

/**
 * The url as it may be logged: the values of credential parameters are replaced. Names are compared
 * decoded, as the query parser reads them, so that `%74oken=` is redacted like `token=`.
 */
export function redactUrl(url: string): string {
  const start = url.indexOf('?');
  if (start === -1) return url;
  const query = url
    .slice(start + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      if (eq === -1) return pair;
      const name = pair.slice(0, eq);
      return SECRETS.has(decodeName(name).toLowerCase()) ? `${name}=[redacted]` : pair;
    });
  return `${url.slice(0, start + 1)}${query.join('&')}`;
}

function decodeName(name: string): string {
  try {
    return decodeURIComponent(name.replaceAll('+', ' '));
  } catch {
    // Not valid percent-encoding: the parser keeps such a name as it is.
    return name;
  }
}
