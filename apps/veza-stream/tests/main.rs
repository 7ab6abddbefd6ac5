//! The built binary as the local driver runs it: env in, one start line out,
//! real HTTP on a real socket, exit 0 on SIGTERM, exit 2 on bad input.
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_veza-stream");

fn request(addr: &str, method: &str, path: &str) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(s, "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status = head[9..12].parse().unwrap();
    (status, head, raw[split + 4..].to_vec())
}

#[test]
fn serves_hls_and_status_then_stops_on_sigterm() {
    let sha = "e".repeat(40);
    let mut child = Command::new(BIN)
        .env_clear()
        .envs([
            ("PORT", "0"),
            ("HOST", "127.0.0.1"),
            ("VEZA_RELEASE_SHA", sha.as_str()),
            ("VEZA_COLOR", "green"),
            ("VEZA_ENV", "prod"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let addr = line
        .strip_prefix("veza-stream start listen=")
        .and_then(|r| r.split(' ').next())
        .unwrap()
        .to_string();
    assert_eq!(line, format!("veza-stream start listen={addr} release={sha} color=green env=prod\n"));

    let (status, _, body) = request(&addr, "GET", "/stream/status");
    let body = String::from_utf8(body).unwrap();
    assert_eq!(status, 200);
    assert!(
        body.starts_with(&format!(
            r#"{{"component":"veza-stream","release":"{sha}","color":"green","env":"prod","uptimeSeconds":"#
        )),
        "{body}"
    );

    let (status, head, body) = request(&addr, "HEAD", "/stream/health");
    assert_eq!((status, body.len()), (200, 0));
    assert!(head.to_ascii_lowercase().contains("content-length: 15"), "{head}");

    let (status, head, playlist) = request(&addr, "GET", "/tracks/Track_01-a/index.m3u8");
    assert_eq!(status, 200);
    assert!(head.contains("application/vnd.apple.mpegurl"), "{head}");
    let playlist = String::from_utf8(playlist).unwrap();
    let segments: Vec<&str> = playlist.lines().filter(|l| l.ends_with(".ts")).collect();
    assert!((4..=8).contains(&segments.len()));
    for seg in segments {
        let (status, head, bytes) = request(&addr, "GET", &format!("/tracks/Track_01-a/{seg}"));
        assert_eq!(status, 200, "{seg}");
        assert!(head.contains("video/mp2t"));
        assert!(!bytes.is_empty() && bytes.len() % 188 == 0 && bytes.chunks(188).all(|p| p[0] == 0x47));
    }

    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let exit = child.wait().unwrap();
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    assert_eq!(exit.code(), Some(0));
    assert_eq!(rest, "veza-stream stop signal=SIGTERM\n");
}

#[test]
fn refuses_a_malformed_release_with_one_line_and_exit_2() {
    let out = Command::new(BIN)
        .env_clear()
        .envs([("PORT", "0"), ("VEZA_RELEASE_SHA", "HEAD")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "veza-stream: VEZA_RELEASE_SHA=\"HEAD\" is invalid — use a 40-hex git SHA or local-<12 hex>\n"
    );
    assert!(out.stdout.is_empty());
}
