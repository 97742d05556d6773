//! Who may use the dashboard, CSRF protection, and the headers every response carries.
//!
//! - No credentials configured (loopback only, enforced by config validation): everyone who
//!   can reach the port is the analyst "local". The `Host` header must then name a loopback
//!   host, so a hostile page cannot reach the dashboard through DNS rebinding.
//! - An access token: `Authorization: Bearer TOKEN` (scrapers, scripts), or the login form,
//!   which trades the token for a random session cookie (`HttpOnly`, `SameSite=Strict`).
//! - Basic auth: the configured user and password; the user is the name in the audit log.
//!
//! CSRF: every state-changing request must carry the per-process CSRF token (a hidden form
//! field, also in a `<meta>` for scripts) and, when the browser sends them, an `Origin`
//! matching the `Host` and no cross-site `Sec-Fetch-Site`.

use super::{html, Shared, WebError};
use crate::config::WebConfig;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use std::collections::VecDeque;
use std::io::Read;
use std::sync::Mutex;

/// At most this many login sessions are remembered; the oldest is forgotten first.
const MAX_SESSIONS: usize = 1024;
/// A login lasts a working day; then the token is asked for again.
const SESSION_SECS: u64 = 12 * 3600;

/// Resolved credentials and per-process secrets. Never rendered, never logged.
pub(crate) struct Auth {
    token: Option<String>,
    basic: Option<(String, String)>,
    /// The CSRF token of this process.
    pub csrf: String,
    /// (session id, analyst name, signed in at).
    sessions: Mutex<VecDeque<(String, String, std::time::Instant)>>,
}

/// The analyst making a request, as the audit log names them.
#[derive(Clone, Debug)]
pub(crate) struct Who(pub String);

/// 32 random bytes from the kernel, hex-encoded.
fn random_hex() -> anyhow::Result<String> {
    let mut buf = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut buf)?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// Compares secrets without an early exit on the first differing byte.
fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Decodes standard base64 (for basic auth); `None` on anything malformed.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.trim_end_matches('=').bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

impl Auth {
    /// Reads the configured secrets (from the environment or files) once, at start.
    pub fn from_config(web: &WebConfig) -> anyhow::Result<Auth> {
        let token = match &web.access_token {
            Some(s) => Some(s.resolve()?),
            None => None,
        };
        if token.as_deref().is_some_and(|t| t.len() < 16) {
            anyhow::bail!("the dashboard access token must be at least 16 characters long");
        }
        let basic = match (&web.user, &web.password) {
            (Some(u), Some(p)) => Some((u.clone(), p.resolve()?)),
            _ => None,
        };
        Ok(Auth {
            token,
            basic,
            csrf: random_hex()?,
            sessions: Mutex::new(VecDeque::new()),
        })
    }

    fn open(&self) -> bool {
        self.token.is_none() && self.basic.is_none()
    }

    /// Who the request's credentials name, if they are valid.
    fn identify(&self, headers: &HeaderMap) -> Option<String> {
        if self.open() {
            return Some("local".into());
        }
        if let Some(value) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        {
            if let (Some(t), Some(given)) = (&self.token, value.strip_prefix("Bearer ")) {
                if same(t, given.trim()) {
                    return Some("token".into());
                }
            }
            if let (Some((user, pass)), Some(b64)) = (&self.basic, value.strip_prefix("Basic ")) {
                let decoded = base64_decode(b64.trim()).and_then(|b| String::from_utf8(b).ok());
                if let Some((u, p)) = decoded.as_deref().and_then(|d| d.split_once(':')) {
                    if same(user, u) && same(pass, p) {
                        return Some(user.clone());
                    }
                }
            }
        }
        let cookie = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .find_map(|kv| kv.trim().strip_prefix("streamer_session="))?;
        let sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        sessions
            .iter()
            .find(|(id, _, at)| same(id, cookie) && at.elapsed().as_secs() < SESSION_SECS)
            .map(|(_, who, _)| who.clone())
    }

    /// Checks a submitted CSRF token.
    pub fn check_csrf(&self, given: &str) -> Result<(), WebError> {
        if same(&self.csrf, given) {
            Ok(())
        } else {
            Err(WebError::Forbidden(
                "The form's security token is missing or stale: reload the page and try again.",
            ))
        }
    }
}

fn host_is_loopback(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host)
    };
    name == "localhost"
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The middleware in front of every route: security headers, host and origin checks, and
/// authentication.
pub(crate) async fn guard(State(st): State<Shared>, mut req: Request, next: Next) -> Response {
    let mut resp = match check(&st, &mut req) {
        None => next.run(req).await,
        Some(refusal) => refusal,
    };
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
             connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // `same-origin`, not `no-referrer`: with no referrer Chrome sends `Origin: null` on form
    // posts, which the origin check must refuse. Other sites still never see our URLs.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

/// `None` lets the request through; `Some` is the refusal to send instead.
fn check(st: &Shared, req: &mut Request) -> Option<Response> {
    let path = req.uri().path().to_string();
    let headers = req.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    if st.auth.open() && !host_is_loopback(&host) {
        return Some(
            (
                StatusCode::MISDIRECTED_REQUEST,
                "this dashboard answers only to a loopback host name",
            )
                .into_response(),
        );
    }
    let safe = matches!(*req.method(), Method::GET | Method::HEAD);
    if !safe {
        if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
            if site == "cross-site" || site == "same-site" {
                return Some((StatusCode::FORBIDDEN, "cross-site request refused").into_response());
            }
        }
        if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
            let origin_host = origin.split_once("://").map(|(_, h)| h).unwrap_or("");
            if origin_host != host {
                return Some(
                    (StatusCode::FORBIDDEN, "cross-origin request refused").into_response(),
                );
            }
        }
    }
    if path == "/healthz" || path.starts_with("/static/") || path == "/login" {
        req.extensions_mut().insert(Who("anonymous".into()));
        return None;
    }
    match st.auth.identify(req.headers()) {
        Some(who) => {
            req.extensions_mut().insert(Who(who));
            None
        }
        // People are sent to the login form; scrapers and streams get a plain 401.
        None if st.auth.token.is_some() && safe && path != "/metrics" && path != "/events" => {
            Some(Redirect::to("/login").into_response())
        }
        None => {
            let mut r = (StatusCode::UNAUTHORIZED, "authentication required").into_response();
            if st.auth.basic.is_some() {
                r.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"streamer\", charset=\"UTF-8\""),
                );
            }
            Some(r)
        }
    }
}

/// The login form (token mode).
pub(crate) async fn login_page(State(st): State<Shared>) -> Html<String> {
    Html(login_html(&st, None))
}

fn login_html(st: &Shared, error: Option<&str>) -> String {
    let err = error
        .map(|e| format!("<p class=\"error\">{}</p>", html::esc(e)))
        .unwrap_or_default();
    html::page(
        "Sign in",
        html::Nav::None,
        "",
        &st.auth.csrf,
        &format!(
            "<h1>Sign in</h1>{err}<form method=\"post\" action=\"/login\" class=\"login\">{}\
<label>Your name (for the audit log)<input name=\"name\" required maxlength=\"64\"></label>\
<label>Access token<input name=\"token\" type=\"password\" required autocomplete=\"current-password\"></label>\
<button type=\"submit\">Sign in</button></form>",
            html::csrf_field(&st.auth.csrf)
        ),
    )
}

/// The login form's fields.
#[derive(serde::Deserialize)]
pub(crate) struct LoginForm {
    name: String,
    token: String,
    csrf: String,
}

/// Trades the access token for a session cookie.
pub(crate) async fn login(
    State(st): State<Shared>,
    axum::Form(form): axum::Form<LoginForm>,
) -> Result<Response, WebError> {
    st.auth.check_csrf(&form.csrf)?;
    let Some(token) = &st.auth.token else {
        return Ok(Redirect::to("/").into_response());
    };
    if !same(token, &form.token) {
        tracing::warn!("dashboard: failed sign-in");
        return Ok((
            StatusCode::UNAUTHORIZED,
            Html(login_html(&st, Some("That token is not valid."))),
        )
            .into_response());
    }
    let name: String = form
        .name
        .chars()
        .filter(|c| !c.is_control())
        .take(64)
        .collect();
    let name = if name.trim().is_empty() {
        "token".to_string()
    } else {
        name.trim().to_string()
    };
    let id = random_hex()?;
    {
        let mut sessions = st.auth.sessions.lock().unwrap_or_else(|e| e.into_inner());
        if sessions.len() >= MAX_SESSIONS {
            sessions.pop_front();
        }
        sessions.push_back((id.clone(), name, std::time::Instant::now()));
    }
    let mut resp = Redirect::to("/").into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&format!(
            "streamer_session={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={SESSION_SECS}"
        ))
        .map_err(|e| WebError::Internal(e.into()))?,
    );
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_and_hosts() {
        assert_eq!(
            base64_decode("YW5hOnMzY3JldA==").as_deref(),
            Some(&b"ana:s3cret"[..])
        );
        assert!(base64_decode("!!").is_none());
        assert!(host_is_loopback("127.0.0.1:8080"));
        assert!(host_is_loopback("localhost:1"));
        assert!(host_is_loopback("[::1]:8080"));
        assert!(!host_is_loopback("evil.example:8080"));
        assert!(!host_is_loopback("127.0.0.1.evil.example"));
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "ab"));
    }
}
