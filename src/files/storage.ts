import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, rm, statfs, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Sniffer } from './sniff.js';

export interface Written {
  storedName: string;
  sizeBytes: number;
  mimeType: string;
}

/** Asked before each chunk is written, with its length: false refuses the file. */
export type Admit = (bytes: number) => boolean;

/** Uploaded bytes on disk, in one folder, each under a random name of the server's own. */
export class FileStore {
  constructor(readonly dir: string) {}

  /**
   * Streams `source` to a new file (never holding it in memory), detecting its type on the way,
   * and makes it durable before answering. A failed write leaves no file behind, and so does a file
   * that `admit` refused: then the rest of `source` is read and dropped, and the answer is undefined.
   */
  async write(source: Readable, admit: Admit): Promise<Written | undefined> {
    await mkdir(this.dir, { recursive: true });
    const storedName = randomBytes(16).toString('hex');
    const file = this.pathOf(storedName);
    const sniffer = new Sniffer();
    let sizeBytes = 0;
    let refused = false;
    const inspect = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        // Read to its end rather than destroyed: the multipart parser goes on to the next part.
        refused ||= !admit(chunk.length);
        if (refused) return done();
        sniffer.update(chunk);
        sizeBytes += chunk.length;
        done(null, chunk);
      },
    });
    // A part cut short (the body ended early) may already have failed; pipeline would wait on it forever.
    if (source.destroyed) throw new Error('The upload ended before the file did');
    try {
      await pipeline(source, inspect, createWriteStream(file, { flags: 'wx', mode: 0o600 }));
      if (refused) {
        await this.remove(storedName);
        return undefined;
      }
      // Durable before the database row that points at it is committed.
      const handle = await open(file, 'r+');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
    } catch (err) {
      await this.remove(storedName);
      throw err;
    }
    return { storedName, sizeBytes, mimeType: sniffer.mimeType() };
  }

  /** The bytes free for the server's user on the disk that holds the folder. */
  async freeBytes(): Promise<number> {
    await mkdir(this.dir, { recursive: true });
    const { bavail, bsize } = await statfs(this.dir);
    return bavail * bsize;
  }

  /** An open handle on the stored bytes, or undefined when they are gone. */
  async read(storedName: string): Promise<{ handle: FileHandle; size: number } | undefined> {
    let handle: FileHandle;
    try {
      handle = await open(this.pathOf(storedName), 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    try {
      return { handle, size: (await handle.stat()).size };
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  async remove(storedName: string): Promise<void> {
    await rm(this.pathOf(storedName), { force: true });
  }

  private pathOf(storedName: string): string {
    // Only names this class made reach here; the check keeps it that way.
    if (!/^[0-9a-f]{32}$/.test(storedName)) throw new Error(`not a stored file name: ${storedName}`);
    return path.join(this.dir, storedName);
  }
}
