//! A minimal client of the Toxiproxy HTTP API for fault tests (std only).
//!
//! `scripts/toxiproxy.sh start` runs a server and prints `TOXIPROXY_URL=...`;
//! [`Toxiproxy::from_env`] reads that variable and is `None` when it is unset,
//! so fault tests can skip. A test creates a [`Proxy`] in front of the MongoDB
//! server, points its client at [`Proxy::listen`] (see
//! [`mongodb_uri_through`]), then adds and removes toxics.
//!
//! Semantics worth knowing (Toxiproxy 2.5.0):
//! - Toxics apply to connections that are already open as well as new ones.
//! - `timeout` with `timeout_ms = 0` drops (not buffers) all data while it is
//!   present, and *removing* it closes every connection that went through it.
//!   New connections work again. Use [`Proxy::add_stall`] for a stall that
//!   resumes the same connections without losing data.
//! - Disabling a proxy closes its connections and its listener (connects are
//!   refused); enabling it listens on the same address again.
//!
//! Every request is a fresh HTTP/1.1 connection with `Connection: close`.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The server answers within 25 s (its request timeout) or not at all.
const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// A Toxiproxy server's HTTP API.
#[derive(Debug, Clone)]
pub struct Toxiproxy {
    /// `host:port` of the API.
    api: String,
}

/// One proxy: connections to `listen` are forwarded to its upstream.
#[derive(Debug, Clone)]
pub struct Proxy {
    api: String,
    pub name: String,
    /// `host:port` the proxy listens on.
    pub listen: String,
}

impl Toxiproxy {
    /// The API at `api`: `host:port` or `http://host:port[/]`.
    pub fn new(api: &str) -> Toxiproxy {
        let api = api.trim();
        let api = api.strip_prefix("http://").unwrap_or(api);
        Toxiproxy {
            api: api.trim_end_matches('/').to_owned(),
        }
    }

    /// The server named by `TOXIPROXY_URL` (`http://host:port`), if set.
    pub fn from_env() -> Option<Toxiproxy> {
        let url = std::env::var("TOXIPROXY_URL").ok()?;
        if url.trim().is_empty() {
            return None;
        }
        Some(Toxiproxy::new(&url))
    }

    /// `host:port` of the API.
    pub fn api(&self) -> &str {
        &self.api
    }

    /// The server's version string (`GET /version`); a cheap liveness check.
    pub fn version(&self) -> io::Result<String> {
        let (status, body) = request(&self.api, "GET", "/version", None)?;
        check("GET", "/version", status, &body)?;
        Ok(body.trim().to_owned())
    }

    /// Creates proxy `name` on `127.0.0.1:<free port>` forwarding to
    /// `upstream` (`host:port`), replacing any proxy of the same name.
    pub fn create_proxy(&self, name: &str, upstream: &str) -> io::Result<Proxy> {
        let path = format!("/proxies/{name}");
        let (status, body) = request(&self.api, "DELETE", &path, None)?;
        if status != 404 {
            check("DELETE", &path, status, &body)?;
        }
        let req = format!(
            r#"{{"name":{},"listen":"127.0.0.1:0","upstream":{},"enabled":true}}"#,
            json_str(name),
            json_str(upstream)
        );
        let (status, body) = request(&self.api, "POST", "/proxies", Some(&req))?;
        check("POST", "/proxies", status, &body)?;
        let listen = json_string_field(&body, "listen").ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("toxiproxy POST /proxies: no \"listen\" in response: {body}"),
            )
        })?;
        Ok(Proxy {
            api: self.api.clone(),
            name: name.to_owned(),
            listen,
        })
    }

    /// Removes all toxics and re-enables all proxies (`POST /reset`).
    pub fn reset(&self) -> io::Result<()> {
        let (status, body) = request(&self.api, "POST", "/reset", Some("{}"))?;
        check("POST", "/reset", status, &body)
    }
}

impl Proxy {
    fn toxics_path(&self) -> String {
        format!("/proxies/{}/toxics", self.name)
    }

    fn add_toxic(&self, name: &str, kind: &str, stream: &str, attributes: &str) -> io::Result<()> {
        let req = format!(
            r#"{{"name":{},"type":{},"stream":{},"toxicity":1.0,"attributes":{attributes}}}"#,
            json_str(name),
            json_str(kind),
            json_str(stream)
        );
        let path = self.toxics_path();
        let (status, body) = request(&self.api, "POST", &path, Some(&req))?;
        check("POST", &path, status, &body)
    }

    fn add_both(&self, name: &str, kind: &str, attributes: &str) -> io::Result<()> {
        self.add_toxic(&format!("{name}_up"), kind, "upstream", attributes)?;
        self.add_toxic(&format!("{name}_down"), kind, "downstream", attributes)
    }

    /// Delays data on `stream` (`"upstream"`: client to server,
    /// `"downstream"`: server to client) by `latency_ms` ± `jitter_ms`.
    pub fn add_latency(
        &self,
        toxic_name: &str,
        stream: &str,
        latency_ms: u64,
        jitter_ms: u64,
    ) -> io::Result<()> {
        self.add_toxic(
            toxic_name,
            "latency",
            stream,
            &format!(r#"{{"latency":{latency_ms},"jitter":{jitter_ms}}}"#),
        )
    }

    /// A `timeout` toxic on both streams (`{toxic_name}_up`/`_down`): no data
    /// gets through (it is dropped); after `timeout_ms` each connection is
    /// closed. `timeout_ms = 0` stalls until [`Proxy::remove_toxic`], which
    /// then closes the affected connections.
    pub fn add_timeout(&self, toxic_name: &str, timeout_ms: u64) -> io::Result<()> {
        self.add_both(
            toxic_name,
            "timeout",
            &format!(r#"{{"timeout":{timeout_ms}}}"#),
        )
    }

    /// A lossless stall on both streams (`{toxic_name}_up`/`_down`): a one-hour
    /// latency. Data is held, not dropped; [`Proxy::remove_toxic`] delivers it
    /// at once and the same connections carry on.
    pub fn add_stall(&self, toxic_name: &str) -> io::Result<()> {
        self.add_both(toxic_name, "latency", r#"{"latency":3600000,"jitter":0}"#)
    }

    /// A `reset_peer` toxic on the upstream stream: the next data the client
    /// sends on a connection is dropped, and `timeout_ms` later the
    /// connection is closed abruptly (`SO_LINGER` 0, so the client may see
    /// either a reset or a plain EOF).
    pub fn add_reset_peer(&self, toxic_name: &str, timeout_ms: u64) -> io::Result<()> {
        self.add_toxic(
            toxic_name,
            "reset_peer",
            "upstream",
            &format!(r#"{{"timeout":{timeout_ms}}}"#),
        )
    }

    /// Removes toxic `toxic_name`, or, if there is none by that name, the pair
    /// `{toxic_name}_up`/`{toxic_name}_down` added on both streams.
    pub fn remove_toxic(&self, toxic_name: &str) -> io::Result<()> {
        let path = format!("{}/{toxic_name}", self.toxics_path());
        let (status, body) = request(&self.api, "DELETE", &path, None)?;
        if status != 404 {
            return check("DELETE", &path, status, &body);
        }
        for suffix in ["_up", "_down"] {
            let path = format!("{}/{toxic_name}{suffix}", self.toxics_path());
            let (status, body) = request(&self.api, "DELETE", &path, None)?;
            check("DELETE", &path, status, &body)?;
        }
        Ok(())
    }

    /// Enables or disables the proxy. Disabling closes all its connections
    /// and stops listening; enabling listens on the same address again.
    pub fn set_enabled(&self, enabled: bool) -> io::Result<()> {
        let path = format!("/proxies/{}", self.name);
        let req = format!(r#"{{"enabled":{enabled}}}"#);
        let (status, body) = request(&self.api, "POST", &path, Some(&req))?;
        check("POST", &path, status, &body)
    }

    /// Deletes the proxy (closing its connections).
    pub fn delete(&self) -> io::Result<()> {
        let path = format!("/proxies/{}", self.name);
        let (status, body) = request(&self.api, "DELETE", &path, None)?;
        check("DELETE", &path, status, &body)
    }
}

/// `uri` (a simple `mongodb://[user:pass@]host:port[/db][?options]`) with its
/// host:port replaced by `listen`, keeping credentials, path and query, plus
/// `directConnection=true` unless a `directConnection` option is present (the
/// driver must not follow the server's own address from `hello`). Any
/// other scheme (`mongodb+srv://` names no port to proxy) is read as if it
/// were `mongodb://`.
pub fn mongodb_uri_through(uri: &str, listen: &str) -> String {
    let rest = uri.split_once("://").map_or(uri, |(_, rest)| rest);
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let userinfo = match authority.rfind('@') {
        Some(at) => &authority[..=at],
        None => "",
    };
    let (path, query) = match tail.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (tail, None),
    };
    let path = if path.is_empty() { "/" } else { path };
    let has_direct = query.is_some_and(|q| {
        q.split('&').any(|kv| {
            kv.split('=')
                .next()
                .is_some_and(|k| k.eq_ignore_ascii_case("directConnection"))
        })
    });
    let query = match query {
        Some("") => "directConnection=true".to_owned(),
        Some(q) if has_direct => q.to_owned(),
        Some(q) => format!("{q}&directConnection=true"),
        None => "directConnection=true".to_owned(),
    };
    format!("mongodb://{userinfo}{listen}{path}?{query}")
}

/// Fails with the HTTP status and body unless `status` is 2xx.
fn check(method: &str, path: &str, status: u16, body: &str) -> io::Result<()> {
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "toxiproxy {method} {path}: HTTP {status}: {}",
            body.trim()
        )))
    }
}

/// One HTTP/1.1 request on a fresh connection; returns (status, body).
fn request(api: &str, method: &str, path: &str, body: Option<&str>) -> io::Result<(u16, String)> {
    let addr = api.to_socket_addrs()?.next().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("toxiproxy: no address for {api}"),
        )
    })?;
    let mut stream = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let body = body.unwrap_or("");
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {api}\r\nUser-Agent: stream-store-tests\r\n\
         Accept: application/json\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(req.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse_response(&raw).map_err(|msg| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("toxiproxy {method} {path}: {msg}"),
        )
    })
}

fn parse_response(raw: &[u8]) -> Result<(u16, String), String> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("malformed HTTP response: {text:?}"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| format!("bad HTTP status line: {status_line:?}"))?;
    let chunked = lines.any(|l| {
        l.split_once(':').is_some_and(|(k, v)| {
            k.trim().eq_ignore_ascii_case("transfer-encoding")
                && v.trim().eq_ignore_ascii_case("chunked")
        })
    });
    let body = if chunked {
        dechunk(body).ok_or_else(|| format!("bad chunked body: {body:?}"))?
    } else {
        body.to_owned()
    };
    Ok((status, body))
}

fn dechunk(mut s: &str) -> Option<String> {
    let mut out = String::new();
    loop {
        let (size, rest) = s.split_once("\r\n")?;
        let size = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
        if size == 0 {
            return Some(out);
        }
        out.push_str(rest.get(..size)?);
        s = rest.get(size..)?.strip_prefix("\r\n")?;
    }
}

/// `s` as a JSON string literal.
fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The string value of the first `"key": "..."` in `json` (simple escapes
/// only; enough for Toxiproxy's host:port values).
fn json_string_field(json: &str, key: &str) -> Option<String> {
    let needle = format!("\"{key}\"");
    let after = &json[json.find(&needle)? + needle.len()..];
    let after = after.trim_start().strip_prefix(':')?.trim_start();
    let mut chars = after.strip_prefix('"')?.chars();
    let mut out = String::new();
    loop {
        match chars.next()? {
            '"' => return Some(out),
            '\\' => out.push(chars.next()?),
            c => out.push(c),
        }
    }
}
