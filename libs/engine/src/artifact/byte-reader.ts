/**
 * Pull-style reads of exact byte counts over a stream of buffers of any size,
 * without concatenating more than the caller asked for: the zstd frame
 * splitter parses fixed-layout records out of arbitrarily cut chunks.
 */
export class ByteReader {
  private cur: Buffer = Buffer.alloc(0);
  private off = 0;
  private readonly it: AsyncIterator<Buffer>;
  /** Bytes handed out so far, for error messages that name an offset. */
  position = 0;

  constructor(source: AsyncIterable<Buffer>, private readonly onTruncated: (what: string) => Error) {
    this.it = source[Symbol.asyncIterator]();
  }

  private async fill(): Promise<boolean> {
    while (this.off >= this.cur.length) {
      const r = await this.it.next();
      if (r.done) return false;
      this.cur = r.value;
      this.off = 0;
    }
    return true;
  }

  /** Exactly `n` bytes, or null when the stream ends cleanly before the first one. */
  async exactOrEnd(n: number, what: string): Promise<Buffer | null> {
    if (!(await this.fill())) return null;
    return this.exact(n, what);
  }

  /** Exactly `n` bytes; the stream ending first means the input was truncated. */
  async exact(n: number, what: string): Promise<Buffer> {
    const first = await this.piece(n, what);
    if (first.length === n) return first;
    const parts = [first];
    let got = first.length;
    while (got < n) {
      const p = await this.piece(n - got, what);
      parts.push(p);
      got += p.length;
    }
    return Buffer.concat(parts, n);
  }

  /** Between 1 and `max` bytes, sliced from the current chunk without copying. */
  async piece(max: number, what: string): Promise<Buffer> {
    if (!(await this.fill())) throw this.onTruncated(what);
    const take = Math.min(max, this.cur.length - this.off);
    const out = this.cur.subarray(this.off, this.off + take);
    this.off += take;
    this.position += take;
    return out;
  }

  async skip(n: number, what: string): Promise<void> {
    let left = n;
    while (left > 0) left -= (await this.piece(left, what)).length;
  }
}
