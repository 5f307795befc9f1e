import type { TestServer } from './server.js';

/** A 1×1 PNG. */
export const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==',
  'base64',
);

export interface Answer {
  status: number;
  body: any;
  headers: Headers;
}

/** `POST /v1/upload` as a browser sends it: multipart built with FormData, one `file` field. */
export async function upload(
  server: TestServer,
  token: string | undefined,
  bytes: Uint8Array | string,
  filename = 'file.bin',
  type = 'application/octet-stream',
): Promise<Answer> {
  const form = new FormData();
  form.append('file', new Blob([bytes], { type }), filename);
  return postForm(server, token, form);
}

export async function postForm(server: TestServer, token: string | undefined, form: FormData): Promise<Answer> {
  const res = await fetch(`${server.url}/v1/upload`, {
    method: 'POST',
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
    body: form,
  });
  const text = await res.text();
  return { status: res.status, body: text === '' ? null : JSON.parse(text), headers: res.headers };
}

/** An upload that must succeed: its file object. */
export async function uploaded(server: TestServer, token: string, bytes: Uint8Array | string, filename?: string) {
  const res = await upload(server, token, bytes, filename);
  if (res.status !== 201) throw new Error(`upload: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as { id: number; url: string; filename: string; mime_type: string; size_bytes: number; created_at: string };
}

/** GET a file url (relative, as the server gives it): the bytes and the headers. */
export async function download(server: TestServer, url: string, token?: string): Promise<{ status: number; bytes: Buffer; headers: Headers }> {
  const res = await fetch(server.url + url, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
  return { status: res.status, bytes: Buffer.from(await res.arrayBuffer()), headers: res.headers };
}

/** The url without its signature: only a bearer token can open it. */
export const unsigned = (url: string) => url.split('?')[0]!;
