//! Who may use the emulator: the world's keys, checked the same way for the API (the
//! `DD-API-KEY` / `DD-APPLICATION-KEY` headers) and for the HTML pages, which a browser reaches
//! with HTTP Basic credentials instead (user name: an API key; password: an application key, or
//! anything when the world lists none). A key is compared, never logged or echoed.

use crate::world::World;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;

fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Whether an API request's key headers are accepted by the world.
pub(crate) fn api_allowed(world: &World, headers: &HeaderMap) -> bool {
    world.accepts_keys(
        header_text(headers, "dd-api-key"),
        header_text(headers, "dd-application-key"),
    )
}

/// Whether a page request is accepted: by its key headers (as for the API, e.g. from `curl`) or
/// by HTTP Basic credentials `API_KEY:APP_KEY` (from a browser).
pub(crate) fn page_allowed(world: &World, headers: &HeaderMap) -> bool {
    if api_allowed(world, headers) {
        return true;
    }
    let Some(credentials) = basic_credentials(headers) else {
        return false;
    };
    let (user, password) = credentials.split_once(':').unwrap_or((&credentials, ""));
    world.accepts_keys(Some(user), Some(password))
}

/// The `user:password` of an `Authorization: Basic …` header.
fn basic_credentials(headers: &HeaderMap) -> Option<String> {
    let value = header_text(headers, "authorization")?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    String::from_utf8(bytes).ok()
}

/// The answer to a page request without accepted credentials: the browser asks for them.
pub(crate) fn page_login_required() -> Response {
    let mut response = (
        StatusCode::UNAUTHORIZED,
        "This emulator requires keys: sign in with an API key as the user name and an \
         application key as the password.\n",
    )
        .into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"gatepost emulator\", charset=\"UTF-8\""),
    );
    response
}
