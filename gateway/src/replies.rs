//! The platforms' reply bodies: Genesys `ErrorBody` (with `contextId`), CXone
//! `{error, error_description}`, 429s with the normalized Genesys code, and the HTML pages a load
//! balancer answers with. Pure functions of the platform and the request's correlation id.

use serde_json::json;

use crate::config::PlatformProfile;
use crate::events::AuthFailure;
use crate::http::Response;

/// The platform's error body.
pub(crate) fn error_body(
    platform: PlatformProfile,
    correlation_id: &str,
    status: u16,
    code: &str,
    message: &str,
) -> Response {
    match platform {
        PlatformProfile::Genesys => Response::json(
            status,
            &json!({
                "message": message, "code": code, "status": status,
                "contextId": correlation_id, "details": [], "errors": [],
            }),
        ),
        PlatformProfile::Cxone => {
            Response::json(status, &json!({"error": code, "error_description": message}))
        }
    }
}

/// A 429, in JSON (the platform's body) or as an HTML page (an edge in front of it). The caller
/// adds `Retry-After` in the style it was asked for.
pub(crate) fn too_many_requests(
    platform: PlatformProfile,
    correlation_id: &str,
    retry_after_s: Option<u64>,
    html: bool,
) -> Response {
    if html {
        Response::html(429, "Too Many Requests")
    } else {
        let seconds = retry_after_s.map_or("a few".to_string(), |s| s.to_string());
        match platform {
            PlatformProfile::Genesys => Response::json(
                429,
                &json!({
                    "message": format!("Rate limit exceeded the maximum. Retry the request in [{seconds}] seconds"),
                    "code": "too.many.requests.retry.after",
                    "status": 429,
                    "contextId": correlation_id,
                    "details": [],
                    "errors": [],
                }),
            ),
            PlatformProfile::Cxone => Response::json(
                429,
                &json!({
                    "error": "Too Many Requests",
                    "error_description": format!("Rate limit exceeded. Retry the request in {seconds} seconds"),
                }),
            ),
        }
    }
}

/// A 403 for a request outside the OAuth client's scopes. The Genesys code and message follow the
/// shape of its `missing.any.permissions` errors **[UNVERIFIED]** for scopes.
pub(crate) fn forbidden(platform: PlatformProfile, correlation_id: &str, scopes: &[&str]) -> Response {
    error_body(
        platform,
        correlation_id,
        403,
        "missing.any.scopes",
        &format!(
            "Unable to perform the requested action. You must have at least one of the following scopes: [{}]",
            scopes.join(", ")
        ),
    )
}

/// A 401 for a missing, unknown, expired or revoked token.
pub(crate) fn unauthorized(platform: PlatformProfile, correlation_id: &str, reason: AuthFailure) -> Response {
    match (platform, reason) {
        (PlatformProfile::Genesys, AuthFailure::Missing) => error_body(
            platform,
            correlation_id,
            401,
            "authentication.required",
            "No authentication bearer token specified in authorization header.",
        ),
        (PlatformProfile::Genesys, _) => error_body(
            platform,
            correlation_id,
            401,
            "bad.credentials",
            "Invalid login credentials.",
        ),
        (PlatformProfile::Cxone, _) => Response::json(
            401,
            &json!({"error": "invalid_token", "error_description": "The access token is invalid or has expired"}),
        ),
    }
}

/// A 5xx in the platform's JSON, or as a bare HTML page.
pub(crate) fn server_error(
    platform: PlatformProfile,
    correlation_id: &str,
    status: u16,
    html: bool,
) -> Response {
    if html {
        return Response::html(status, status_text(status));
    }
    let code = status_text(status).to_ascii_lowercase().replace(' ', ".");
    error_body(
        platform,
        correlation_id,
        status,
        &code,
        "The server encountered an error",
    )
}

fn status_text(status: u16) -> &'static str {
    match status {
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Server Error",
    }
}
