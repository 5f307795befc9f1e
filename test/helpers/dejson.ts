/**
 * A strict JSON decoder with the rules of makepad-micro-serde's `DeJson`, which the shindensen
 * client decodes with (COMPAT.md, "Why exactly"): it reads the raw text against a Rust struct, and
 * fails on a key the struct does not list, on a missing field that is not an `Option`, on anything
 * but an integer token for `i64` (`1.0` and `"1"` included) and on anything but a string for `String`.
 * With `everyKey`, an `Option` field must be present too: the server always sends every key.
 */

export type Ty =
  | { kind: 'i64' }
  | { kind: 'string' }
  | { kind: 'uuid' }
  | { kind: 'option'; of: Ty }
  | { kind: 'vec'; of: Ty }
  | { kind: 'struct'; name: string; fields: Record<string, Ty> };

export const i64: Ty = { kind: 'i64' };
export const string: Ty = { kind: 'string' };
/** serde's `Uuid` (the rooms server's clients): a string in the hyphenated form. */
export const uuid: Ty = { kind: 'uuid' };
export const option = (of: Ty): Ty => ({ kind: 'option', of });
export const vec = (of: Ty): Ty => ({ kind: 'vec', of });
export const struct = (name: string, fields: Record<string, Ty>): Ty & { kind: 'struct' } => ({ kind: 'struct', name, fields });

export class DecodeError extends Error {}

export function deJson(text: string, ty: Ty, options: { everyKey?: boolean } = {}): any {
  const parser = new Parser(text, options.everyKey ?? true);
  const value = parser.value(ty, '$');
  parser.end();
  return value;
}

class Parser {
  private at = 0;

  constructor(
    private readonly text: string,
    private readonly everyKey: boolean,
  ) {}

  value(ty: Ty, path: string): unknown {
    this.space();
    switch (ty.kind) {
      case 'i64': {
        const match = /^-?\d+/.exec(this.text.slice(this.at));
        const next = this.text[this.at + (match?.[0].length ?? 0)];
        if (!match || next === '.' || next === 'e' || next === 'E') this.fail(`${path}: expected an integer`);
        this.at += match![0].length;
        const n = Number(match![0]);
        if (!Number.isSafeInteger(n)) this.fail(`${path}: integer out of range`);
        return n;
      }
      case 'string':
        return this.string(path);
      case 'uuid': {
        const text = this.string(path);
        if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(text)) this.fail(`${path}: ${text} is not a UUID`);
        return text;
      }
      case 'option':
        if (this.text.startsWith('null', this.at)) {
          this.at += 4;
          return null;
        }
        return this.value(ty.of, path);
      case 'vec': {
        this.expect('[', path);
        const items: unknown[] = [];
        this.space();
        if (this.peek() === ']') {
          this.at++;
          return items;
        }
        for (;;) {
          items.push(this.value(ty.of, `${path}[${items.length}]`));
          this.space();
          if (this.peek() === ']') {
            this.at++;
            return items;
          }
          this.expect(',', path);
        }
      }
      case 'struct': {
        this.expect('{', path);
        const out: Record<string, unknown> = {};
        this.space();
        if (this.peek() === '}') this.at++;
        else
          for (;;) {
            this.space();
            const key = this.string(path);
            const field = ty.fields[key];
            if (!field) this.fail(`${path}: Unexpected key ${key} in ${ty.name}`);
            if (Object.hasOwn(out, key)) this.fail(`${path}: key ${key} twice`);
            this.space();
            this.expect(':', path);
            out[key] = this.value(field!, `${path}.${key}`);
            this.space();
            if (this.peek() === '}') {
              this.at++;
              break;
            }
            this.expect(',', path);
          }
        for (const [key, field] of Object.entries(ty.fields)) {
          if (Object.hasOwn(out, key)) continue;
          if (field.kind !== 'option' || this.everyKey) this.fail(`${path}: Key not found ${key} in ${ty.name}`);
          out[key] = null;
        }
        return out;
      }
    }
  }

  end(): void {
    this.space();
    if (this.at !== this.text.length) this.fail('trailing characters');
  }

  private string(path: string): string {
    if (this.peek() !== '"') this.fail(`${path}: expected a string`);
    const match = /^"(?:[^"\\]|\\.)*"/.exec(this.text.slice(this.at));
    if (!match) this.fail(`${path}: unterminated string`);
    this.at += match![0].length;
    return JSON.parse(match![0]) as string;
  }

  private expect(char: string, path: string): void {
    this.space();
    if (this.peek() !== char) this.fail(`${path}: expected ${char} at ${this.at}`);
    this.at++;
  }

  private peek(): string | undefined {
    return this.text[this.at];
  }

  private space(): void {
    while (/\s/.test(this.text[this.at] ?? '')) this.at++;
  }

  private fail(message: string): never {
    throw new DecodeError(`${message} (in ${this.text.slice(0, 200)})`);
  }
}
