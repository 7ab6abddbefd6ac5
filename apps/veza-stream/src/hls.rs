//! A stand-in media library: every valid track id names a VOD track whose
//! segment count, durations and bytes are derived from the id alone, so any
//! slot of any colour serves identical playlists and segments (what the
//! edge's uri-hash balancing and client caches assume of real media).

use sha2::{Digest, Sha256};

pub const TARGET_DURATION: u32 = 6;
const PACKET: usize = 188;
const PAYLOAD: usize = PACKET - 4;
const PACKETS_PER_SECOND: f64 = 20.0;
const PID: u16 = 0x100;

pub fn valid_track_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn digest(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// Segment durations in seconds: full TARGET_DURATION segments, then a shorter tail.
pub fn segment_durations(id: &str) -> Vec<f64> {
    let h = digest(&[b"veza-track:", id.as_bytes()]);
    let count = 4 + (h[0] % 5) as usize;
    let tail = 1.0 + f64::from(h[1] % 50) / 10.0;
    let mut out = vec![f64::from(TARGET_DURATION); count - 1];
    out.push(tail);
    out
}

pub fn playlist(id: &str) -> String {
    let mut out = format!("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:{TARGET_DURATION}\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n");
    for (n, d) in segment_durations(id).iter().enumerate() {
        out.push_str(&format!("#EXTINF:{d:.3},\n{n}.ts\n"));
    }
    out.push_str("#EXT-X-ENDLIST\n");
    out
}

/// MPEG-TS-shaped bytes: 188-byte packets with the 0x47 sync byte, one PID,
/// payload-unit-start on the first packet and a running continuity counter;
/// the payload is a SHA-256 counter-mode keystream seeded by id and index,
/// hence reproducible.
pub fn segment_bytes(id: &str, n: usize, duration_seconds: f64) -> Vec<u8> {
    let packets = ((duration_seconds * PACKETS_PER_SECOND).round() as usize).max(1);
    let seed = digest(&[b"veza-segment:", id.as_bytes(), b"/", n.to_string().as_bytes()]);
    let mut keystream = Vec::with_capacity(packets * PAYLOAD + 32);
    let mut block: u64 = 0;
    while keystream.len() < packets * PAYLOAD {
        keystream.extend_from_slice(&digest(&[&seed, &block.to_be_bytes()]));
        block += 1;
    }
    let mut out = vec![0u8; packets * PACKET];
    for (k, packet) in out.chunks_exact_mut(PACKET).enumerate() {
        packet[0] = 0x47;
        packet[1] = (if k == 0 { 0x40 } else { 0 }) | ((PID >> 8) as u8 & 0x1f);
        packet[2] = (PID & 0xff) as u8;
        packet[3] = 0x10 | (k as u8 & 0x0f);
        packet[4..].copy_from_slice(&keystream[k * PAYLOAD..(k + 1) * PAYLOAD]);
    }
    out
}

pub fn etag(body: &[u8]) -> String {
    let h = digest(&[body]);
    let hex: String = h[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_full_segments_then_a_shorter_tail() {
        for id in ["a", "Track_01-a", &"z".repeat(64)] {
            let d = segment_durations(id);
            assert!((4..=8).contains(&d.len()), "{id}: {d:?}");
            assert!(d[..d.len() - 1].iter().all(|x| *x == 6.0));
            assert!(*d.last().unwrap() >= 1.0 && *d.last().unwrap() <= 5.9);
        }
    }

    #[test]
    fn playlist_lists_every_segment_in_order() {
        let p = playlist("abc");
        assert!(p.starts_with("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:6\n"));
        assert!(p.ends_with("#EXT-X-ENDLIST\n"));
        let uris: Vec<&str> = p.lines().filter(|l| l.ends_with(".ts")).collect();
        let want: Vec<String> = (0..segment_durations("abc").len()).map(|n| format!("{n}.ts")).collect();
        assert_eq!(uris, want);
    }

    #[test]
    fn segments_are_ts_packets_with_sync_bytes_and_continuity() {
        let s = segment_bytes("abc", 1, 6.0);
        assert_eq!(s.len(), 120 * 188);
        for (k, p) in s.chunks(188).enumerate() {
            assert_eq!(p[0], 0x47);
            assert_eq!(p[3] & 0x0f, (k & 0x0f) as u8);
            assert_eq!(p[1] & 0x40 != 0, k == 0, "payload-unit-start only on the first packet");
        }
        assert_eq!(s, segment_bytes("abc", 1, 6.0), "the same bytes every time");
        assert_ne!(s[4..188], segment_bytes("abc", 2, 6.0)[4..188]);
        assert_ne!(s[4..188], segment_bytes("abd", 1, 6.0)[4..188]);
    }

    #[test]
    fn track_ids_are_1_to_64_url_safe_characters() {
        assert!(valid_track_id("Track_01-a") && valid_track_id(&"z".repeat(64)));
        for bad in ["", "bad.id", "..", "%2e%2e", "a b", "café", &"a".repeat(65)] {
            assert!(!valid_track_id(bad), "{bad}");
        }
    }
}
