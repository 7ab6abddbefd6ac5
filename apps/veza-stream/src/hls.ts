import { createCipheriv, createHash } from 'node:crypto';

/**
 * A stand-in media library: every valid track id names a VOD track whose
 * segment count, durations and bytes are derived from the id alone, so any
 * slot of any colour serves identical playlists and segments (what the edge's
 * uri-hash balancing and client caches assume of real media).
 */
export const TRACK_ID = /^[A-Za-z0-9_-]{1,64}$/;
const TARGET_DURATION = 6;
const PACKET = 188;
const PAYLOAD = PACKET - 4;
const PACKETS_PER_SECOND = 20;
const PID = 0x100;

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** Segment durations in seconds: full TARGET_DURATION segments, then a shorter tail. */
export function segmentDurations(id: string): number[] {
  const h = digest(`veza-track:${id}`);
  const count = 4 + (h[0] % 5);
  const tail = 1 + (h[1] % 50) / 10;
  return [...Array<number>(count - 1).fill(TARGET_DURATION), tail];
}

export function playlist(id: string): string {
  const lines = ['#EXTM3U', '#EXT-X-VERSION:3', `#EXT-X-TARGETDURATION:${TARGET_DURATION}`, '#EXT-X-MEDIA-SEQUENCE:0', '#EXT-X-PLAYLIST-TYPE:VOD'];
  segmentDurations(id).forEach((d, n) => lines.push(`#EXTINF:${d.toFixed(3)},`, `${n}.ts`));
  lines.push('#EXT-X-ENDLIST', '');
  return lines.join('\n');
}

/**
 * MPEG-TS-shaped bytes: 188-byte packets with the 0x47 sync byte, one PID,
 * payload-unit-start on the first packet and a running continuity counter;
 * the payload is an AES-CTR keystream keyed by id and index, hence reproducible.
 */
export function segmentBytes(id: string, n: number, durationSeconds: number): Buffer {
  const packets = Math.max(1, Math.round(durationSeconds * PACKETS_PER_SECOND));
  const seed = digest(`veza-segment:${id}/${n}`);
  const keystream = createCipheriv('aes-128-ctr', seed.subarray(0, 16), seed.subarray(16, 32)).update(Buffer.alloc(packets * PAYLOAD));
  const out = Buffer.alloc(packets * PACKET);
  for (let k = 0; k < packets; k++) {
    const at = k * PACKET;
    out[at] = 0x47;
    out[at + 1] = (k === 0 ? 0x40 : 0) | ((PID >> 8) & 0x1f);
    out[at + 2] = PID & 0xff;
    out[at + 3] = 0x10 | (k & 0x0f);
    keystream.copy(out, at + 4, k * PAYLOAD, (k + 1) * PAYLOAD);
  }
  return out;
}

export function etagOf(body: Buffer | string): string {
  return `"${createHash('sha256').update(body).digest('hex').slice(0, 32)}"`;
}
