//! veza-stream's routes and its accept loop. `respond` is a pure function of
//! the request line and headers, so the routing is tested without sockets.

use std::convert::Infallible;
use std::future::{poll_fn, Future};
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, ALLOW, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

use crate::contract::Config;
use crate::hls;

/// In-flight requests get this long after SIGTERM; then what is left is cut.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

pub struct State {
    pub release: Option<String>,
    pub color: Option<String>,
    pub env: Option<String>,
    pub started: Instant,
}

impl State {
    pub fn new(cfg: &Config) -> Self {
        State {
            release: cfg.release.clone(),
            color: cfg.color.clone(),
            env: cfg.env.clone(),
            started: Instant::now(),
        }
    }
}

fn json_string(v: &Option<String>) -> String {
    // Values reaching here passed the contract's patterns: no quote or backslash to escape.
    match v {
        Some(s) => format!("\"{s}\""),
        None => "null".into(),
    }
}

fn response(status: StatusCode, content_type: &'static str, cache: &'static str, body: Vec<u8>) -> Response<Full<Bytes>> {
    let len = body.len();
    let mut res = Response::new(Full::new(Bytes::from(body)));
    *res.status_mut() = status;
    let h = res.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(CONTENT_LENGTH, HeaderValue::from(len));
    res
}

fn json(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    response(status, "application/json; charset=utf-8", "no-store", body.into_bytes())
}

fn media(if_none_match: Option<&str>, body: Vec<u8>, content_type: &'static str, cache: &'static str) -> Response<Full<Bytes>> {
    let etag = hls::etag(&body);
    if if_none_match == Some(etag.as_str()) {
        let mut res = response(StatusCode::NOT_MODIFIED, content_type, cache, Vec::new());
        res.headers_mut().remove(CONTENT_TYPE);
        res.headers_mut().remove(CONTENT_LENGTH);
        res.headers_mut().insert(ETAG, HeaderValue::from_str(&etag).expect("hex etag"));
        return res;
    }
    let mut res = response(StatusCode::OK, content_type, cache, body);
    res.headers_mut().insert(ETAG, HeaderValue::from_str(&etag).expect("hex etag"));
    res
}

/// `/tracks/<id>/<file>` with exactly two non-empty segments.
fn track_path(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix("/tracks/")?;
    let (id, file) = rest.split_once('/')?;
    (!id.is_empty() && !file.is_empty() && !file.contains('/')).then_some((id, file))
}

/// `0.ts` … `9999.ts`, no leading zeros.
fn segment_index(file: &str) -> Option<usize> {
    let n = file.strip_suffix(".ts")?;
    let ok = !n.is_empty() && n.len() <= 4 && n.bytes().all(|b| b.is_ascii_digit()) && (n == "0" || !n.starts_with('0'));
    ok.then(|| n.parse().ok()).flatten()
}

fn track(id: &str, file: &str, if_none_match: Option<&str>) -> Response<Full<Bytes>> {
    if !hls::valid_track_id(id) {
        return json(StatusCode::BAD_REQUEST, r#"{"error":"invalid track id: use 1-64 of A-Z a-z 0-9 _ -"}"#.into());
    }
    if file == "index.m3u8" {
        return media(
            if_none_match,
            hls::playlist(id).into_bytes(),
            "application/vnd.apple.mpegurl",
            "public, max-age=60",
        );
    }
    let durations = hls::segment_durations(id);
    match segment_index(file).filter(|n| *n < durations.len()) {
        // Segment bytes never change for a given URL.
        Some(n) => media(
            if_none_match,
            hls::segment_bytes(id, n, durations[n]),
            "video/mp2t",
            "public, max-age=31536000, immutable",
        ),
        None => json(StatusCode::NOT_FOUND, r#"{"error":"no such segment"}"#.into()),
    }
}

pub fn respond(state: &State, method: &Method, path: &str, if_none_match: Option<&str>) -> Response<Full<Bytes>> {
    let tracks = track_path(path);
    if tracks.is_none() && path != "/stream/health" && path != "/stream/status" {
        return json(StatusCode::NOT_FOUND, r#"{"error":"not found"}"#.into());
    }
    if method != Method::GET && method != Method::HEAD {
        let mut res = json(StatusCode::METHOD_NOT_ALLOWED, r#"{"error":"method not allowed"}"#.into());
        res.headers_mut().insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return res;
    }
    if let Some((id, file)) = tracks {
        return track(id, file, if_none_match);
    }
    if path == "/stream/health" {
        return json(StatusCode::OK, r#"{"status":"ok"}"#.into());
    }
    json(
        StatusCode::OK,
        format!(
            r#"{{"component":"veza-stream","release":{},"color":{},"env":{},"uptimeSeconds":{}}}"#,
            json_string(&state.release),
            json_string(&state.color),
            json_string(&state.env),
            state.started.elapsed().as_secs()
        ),
    )
}

pub enum Either<A, B> {
    Left(A),
    Right(B),
}

/// Whichever finishes first; tokio's select! would need its macros feature
/// (and a proc-macro crate in every cold build) for this one use.
pub async fn first<A: Future, B: Future>(a: A, b: B) -> Either<A::Output, B::Output> {
    let (mut a, mut b) = (pin!(a), pin!(b));
    poll_fn(|cx| {
        if let Poll::Ready(v) = a.as_mut().poll(cx) {
            return Poll::Ready(Either::Left(v));
        }
        if let Poll::Ready(v) = b.as_mut().poll(cx) {
            return Poll::Ready(Either::Right(v));
        }
        Poll::Pending
    })
    .await
}

/// Serves until `stop` resolves, then stops accepting, lets in-flight
/// requests finish for SHUTDOWN_GRACE and returns what `stop` gave.
pub async fn serve<T>(listener: TcpListener, state: Arc<State>, stop: impl Future<Output = T>) -> T {
    let graceful = GracefulShutdown::new();
    let mut stop = pin!(stop);
    let reason = loop {
        match first(listener.accept(), stop.as_mut()).await {
            Either::Right(reason) => break reason,
            // A failed accept (e.g. the peer reset before we took it) concerns that client only.
            Either::Left(Err(_)) => continue,
            Either::Left(Ok((stream, _))) => {
                let state = state.clone();
                let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                    let inm = req.headers().get(IF_NONE_MATCH).and_then(|v| v.to_str().ok());
                    let res = respond(&state, req.method(), req.uri().path(), inm);
                    async move { Ok::<_, Infallible>(res) }
                });
                let conn = graceful.watch(http1::Builder::new().serve_connection(TokioIo::new(stream), service));
                tokio::spawn(async move {
                    let _ = conn.await;
                });
            }
        }
    };
    drop(listener);
    let _ = first(graceful.shutdown(), tokio::time::sleep(SHUTDOWN_GRACE)).await;
    reason
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> State {
        State {
            release: Some("d".repeat(40)),
            color: Some("blue".into()),
            env: Some("prod".into()),
            started: Instant::now(),
        }
    }

    fn get(path: &str) -> Response<Full<Bytes>> {
        respond(&state(), &Method::GET, path, None)
    }

    #[test]
    fn unknown_paths_odd_names_and_missing_segments_are_404() {
        let count = hls::segment_durations(&"z".repeat(64)).len();
        let missing = format!("/tracks/{}/{count}.ts", "z".repeat(64));
        for p in [
            missing.as_str(),
            "/tracks/abc/01.ts",
            "/tracks/abc/-1.ts",
            "/tracks/abc/1.m4s",
            "/tracks/abc/index.m3u",
            "/tracks/abc",
            "/tracks//index.m3u8",
            "/stream",
            "/",
        ] {
            assert_eq!(get(p).status(), StatusCode::NOT_FOUND, "{p}");
        }
    }

    #[test]
    fn invalid_track_ids_are_400_even_when_percent_encoded() {
        for id in ["a".repeat(65).as_str(), "bad.id", "..", "%2e%2e", "caf%C3%A9", "a%20b"] {
            assert_eq!(get(&format!("/tracks/{id}/index.m3u8")).status(), StatusCode::BAD_REQUEST, "{id}");
        }
    }

    #[test]
    fn writes_are_405_naming_get_and_head() {
        let res = respond(&state(), &Method::POST, "/tracks/abc/0.ts", None);
        assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(res.headers()[ALLOW], "GET, HEAD");
    }

    #[test]
    fn a_matching_if_none_match_is_304_without_a_body() {
        let first = get("/tracks/abc/1.ts");
        let etag = first.headers()[ETAG].to_str().unwrap().to_string();
        let again = respond(&state(), &Method::GET, "/tracks/abc/1.ts", Some(&etag));
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(again.headers()[ETAG], etag.as_str());
    }
}
