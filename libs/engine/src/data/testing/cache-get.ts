import { request } from 'node:http';

/** Helpers of the media cache's tests and bench; not used at run time. */

export interface CacheAnswer {
  status: number;
  /** X-Cache-Status. */
  cache: string;
  body: Buffer;
  /** From the request's start to the body's last byte. */
  ms: number;
}

/** One GET on a fresh connection (no reuse to skew a timing), the whole body read. */
export function cacheGet(url: string, headers: Record<string, string> = {}): Promise<CacheAnswer> {
  const start = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, cache: String(res.headers['x-cache-status'] ?? ''), body: Buffer.concat(chunks), ms: Number(process.hrtime.bigint() - start) / 1e6 }));
    });
    req.on('error', reject);
    req.end();
  });
}
