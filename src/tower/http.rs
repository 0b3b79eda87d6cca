//! The tower's HTTP API, compatible with teos's public one
//! (`teos/src/api/http.rs`): `POST /register`, `/add_appointment`,
//! `/get_appointment`, `/get_subscription_info` with JSON bodies, and
//! `GET /ping`. Errors are teos's `{"error", "error_code"}` bodies. Plain
//! HTTP/1.1 (hyper), on loopback unless told otherwise; and the client the
//! node uses to reach a tower.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};

use super::service::{codes, ApiError, Tower};

/// What the HTTP layer refuses before the tower sees a request.
#[derive(Clone, Debug, PartialEq)]
pub struct Limits {
    /// The largest body accepted, in bytes (teos: 2,048 for `add_appointment`;
    /// ours follows the blob limit: twice it in hex, plus the rest).
    pub max_body: usize,
    /// Requests per second allowed from one IP address, with a burst of as many.
    pub requests_per_second: f64,
}

/// Connections served at once, at most, and from one IP address; past
/// either, a new connection is closed at once (issue 35: the API is open
/// to anyone who can reach it).
pub const MAX_CONNECTIONS: usize = 256;
/// See [`MAX_CONNECTIONS`].
pub const MAX_CONNECTIONS_PER_IP: usize = 16;
/// A client has this long to send a request's headers (also the idle
/// time allowed between requests on a kept-alive connection), and as long
/// again for its body.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Client addresses the rate limiter tracks at most; past it, those
/// whose bucket has refilled are forgotten (their state is the default).
pub const MAX_TRACKED: usize = 10_000;

/// A token bucket per client address. Buckets that have refilled say
/// nothing a new one would not, so they are pruned every 1,024 requests
/// and whenever [`MAX_TRACKED`] addresses are tracked: the map holds the
/// clients of the last second or so (a burst's refill time at most).
#[derive(Default)]
pub struct RateLimiter {
    buckets: HashMap<IpAddr, (f64, Instant)>,
    calls: u64,
}

impl RateLimiter {
    /// Addresses tracked now.
    pub fn tracked(&self) -> usize {
        self.buckets.len()
    }

    /// Whether a request from `ip` is allowed at `rate` a second (with a
    /// burst of as many).
    pub fn allow(&mut self, ip: IpAddr, rate: f64) -> bool {
        let now = Instant::now();
        self.calls += 1;
        if self.buckets.len() >= MAX_TRACKED || self.calls.is_multiple_of(1024) {
            // A bucket refilled to its burst is what a new one would be.
            self.buckets.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * rate < rate
            });
        }
        let (tokens, at) = self.buckets.entry(ip).or_insert((rate, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * rate).min(rate);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

fn reply(status: u16, body: &Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("a status and a header always build")
}

fn refuse(e: ApiError) -> Response<Full<Bytes>> {
    reply(e.status, &e.body())
}

async fn handle(
    req: Request<Incoming>,
    peer: SocketAddr,
    tower: Arc<Mutex<Tower>>,
    limiter: Arc<Mutex<RateLimiter>>,
    limits: Limits,
) -> Response<Full<Bytes>> {
    if !limiter
        .lock()
        .expect("the limiter never panics while locked")
        .allow(peer.ip(), limits.requests_per_second)
    {
        return refuse(ApiError {
            status: 429,
            error: "Too many requests: try again shortly".into(),
            error_code: codes::SERVICE_UNAVAILABLE,
        });
    }
    let path = req.uri().path().trim_start_matches('/').to_string();
    if req.method() == Method::GET && path == "ping" {
        return reply(200, &json!({}));
    }
    if req.method() != Method::POST {
        return refuse(ApiError {
            status: 405,
            error: format!(
                "{} /{path}: the API takes POST (GET only for /ping)",
                req.method()
            ),
            error_code: codes::INVALID_REQUEST_FORMAT,
        });
    }
    let body = tokio::time::timeout(
        READ_TIMEOUT,
        Limited::new(req.into_body(), limits.max_body).collect(),
    )
    .await;
    let body = match body {
        Err(_) => {
            return refuse(ApiError {
                status: 408,
                error: format!("The request body did not arrive within {READ_TIMEOUT:?}"),
                error_code: codes::INVALID_REQUEST_FORMAT,
            })
        }
        Ok(Ok(b)) => b.to_bytes(),
        Ok(Err(_)) => {
            return refuse(ApiError {
                status: 413,
                error: format!("The request body is larger than {} bytes", limits.max_body),
                error_code: codes::APPOINTMENT_FIELD_TOO_BIG,
            })
        }
    };
    let body: Value = match serde_json::from_slice(&body) {
        Ok(v @ Value::Object(_)) => v,
        _ => {
            return refuse(ApiError {
                status: 400,
                error: "Invalid Body: expected a JSON object".into(),
                error_code: codes::INVALID_REQUEST_FORMAT,
            })
        }
    };
    // The tower writes its store (an fsync) on some calls: off the async threads.
    let result = tokio::task::spawn_blocking(move || {
        let mut t = tower.lock().expect("the tower never panics while locked");
        match path.as_str() {
            "register" => t.register(&body),
            "add_appointment" => t.add_appointment(&body),
            "get_appointment" => t.get_appointment(&body),
            "get_subscription_info" => t.get_subscription_info(&body),
            other => Err(ApiError {
                status: 404,
                error: format!("No endpoint /{other}"),
                error_code: codes::INVALID_REQUEST_FORMAT,
            }),
        }
    })
    .await
    .unwrap_or_else(|e| {
        Err(ApiError {
            status: 500,
            error: format!("internal error: {e}"),
            error_code: codes::UNEXPECTED_ERROR,
        })
    });
    match result {
        Ok(v) => reply(200, &v),
        Err(e) => refuse(e),
    }
}

/// Connections open now, in all and per address.
#[derive(Default)]
struct Open {
    total: usize,
    by_ip: HashMap<IpAddr, usize>,
}

/// One connection's place in [`Open`], given back when it ends.
struct Slot(Arc<Mutex<Open>>, IpAddr);

impl Drop for Slot {
    fn drop(&mut self) {
        let mut o = self.0.lock().expect("never poisoned");
        o.total -= 1;
        if let Some(n) = o.by_ip.get_mut(&self.1) {
            *n -= 1;
            if *n == 0 {
                o.by_ip.remove(&self.1);
            }
        }
    }
}

fn take_slot(open: &Arc<Mutex<Open>>, ip: IpAddr) -> Option<Slot> {
    let mut o = open.lock().expect("never poisoned");
    let from_ip = o.by_ip.get(&ip).copied().unwrap_or(0);
    if o.total >= MAX_CONNECTIONS || from_ip >= MAX_CONNECTIONS_PER_IP {
        return None;
    }
    o.total += 1;
    *o.by_ip.entry(ip).or_default() += 1;
    Some(Slot(open.clone(), ip))
}

/// How long, and how many bytes, a closing connection's unread input is
/// read and discarded for.
const LINGER: Duration = Duration::from_secs(2);
/// See [`LINGER`].
const LINGER_BYTES: usize = 4 << 20;

/// Close `stream` as nginx's `lingering_close` does: send our FIN, then
/// read and discard what the client still sends (bounded by [`LINGER`] and
/// [`LINGER_BYTES`]) until its FIN. Closing a socket with unread input
/// sends a TCP reset, and a reset can reach the client before it has read
/// our answer: a client still sending a body we refused (a 413) would see
/// "connection reset" instead of the 413.
async fn linger(mut stream: TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    if stream.shutdown().await.is_err() {
        return;
    }
    let drain = async {
        let mut buf = [0u8; 16 * 1024];
        let mut read = 0;
        while read < LINGER_BYTES {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => read += n,
            }
        }
    };
    let _ = tokio::time::timeout(LINGER, drain).await;
}

/// Serve the API on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, tower: Arc<Mutex<Tower>>, limits: Limits) {
    let limiter = Arc::new(Mutex::new(RateLimiter::default()));
    let open = Arc::new(Mutex::new(Open::default()));
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            continue;
        };
        let Some(slot) = take_slot(&open, peer.ip()) else {
            // Past the caps: closed at once (dropped).
            continue;
        };
        let (tower, limiter, limits) = (tower.clone(), limiter.clone(), limits.clone());
        tokio::spawn(async move {
            let _slot = slot;
            let service = hyper::service::service_fn(move |req| {
                let (tower, limiter, limits) = (tower.clone(), limiter.clone(), limits.clone());
                async move {
                    Ok::<_, std::convert::Infallible>(
                        handle(req, peer, tower, limiter, limits).await,
                    )
                }
            });
            // A client that hangs up mid-request is its own business; one
            // that sends its headers too slowly is cut at READ_TIMEOUT.
            let served = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(READ_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service)
                .without_shutdown()
                .await;
            if let Ok(parts) = served {
                linger(parts.io.into_inner()).await;
            }
        });
    }
}

/// Why a call to a tower got no answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The URL is not `http://HOST:PORT[/PREFIX]`.
    #[error("tower URL {0:?}: expected http://HOST:PORT")]
    Url(String),
    /// No connection, or it broke, or it timed out.
    #[error("tower {url}: {why}")]
    Unreachable {
        /// The tower.
        url: String,
        /// What happened.
        why: String,
    },
}

/// POST `body` to `url` + `/` + `endpoint`; the status and the JSON answer.
/// Bounded by `timeout` as a whole.
pub async fn post(
    url: &str,
    endpoint: &str,
    body: &Value,
    timeout: Duration,
) -> Result<(u16, Value), ClientError> {
    let unreachable = |why: String| ClientError::Unreachable {
        url: url.to_string(),
        why,
    };
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| ClientError::Url(url.to_string()))?;
    let (authority, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if authority.is_empty() {
        return Err(ClientError::Url(url.to_string()));
    }
    let path = format!(
        "/{}{endpoint}",
        if prefix.is_empty() {
            String::new()
        } else {
            format!("{prefix}/")
        }
    );
    let call = async {
        let stream = TcpStream::connect(authority)
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        tokio::spawn(conn);
        let req = Request::post(path)
            .header("host", authority)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body.to_string())))
            .map_err(|e| unreachable(e.to_string()))?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        let status = resp.status().as_u16();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| unreachable(e.to_string()))?
            .to_bytes();
        let value = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
            json!({"error": String::from_utf8_lossy(&bytes), "error_code": codes::UNEXPECTED_ERROR})
        });
        Ok((status, value))
    };
    tokio::time::timeout(timeout, call)
        .await
        .map_err(|_| unreachable(format!("no answer within {timeout:?}")))?
}

/// The status a tower answered, as `StatusCode` (for messages).
pub fn status_text(status: u16) -> String {
    StatusCode::from_u16(status)
        .map(|s| s.to_string())
        .unwrap_or_else(|_| status.to_string())
}
