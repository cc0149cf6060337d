//! Secrets never reach a log line, a record or a scorecard: query values that carry them are
//! redacted wherever a request's target is written.

/// Query parameters whose values are secrets: never written to a log.
const SECRET_PARAMETERS: [&str; 10] = [
    "client_secret",
    "password",
    "access_token",
    "assertion",
    "client_assertion",
    "refresh_token",
    "id_token",
    "accesskeysecret",
    "authorization",
    "token",
];

/// `target` with the values of secret query parameters replaced by `<redacted>`.
pub fn redacted_target(target: &str) -> String {
    let Some((path, query)) = target.split_once('?') else {
        return target.to_string();
    };
    let parts: Vec<String> = query
        .split('&')
        .map(|pair| {
            let name = pair.split('=').next().unwrap_or("");
            let decoded: String = form_urlencoded::parse(name.as_bytes())
                .map(|(n, _)| n.into_owned())
                .collect();
            if SECRET_PARAMETERS
                .iter()
                .any(|secret| decoded.eq_ignore_ascii_case(secret))
            {
                format!("{name}=<redacted>")
            } else {
                pair.to_string()
            }
        })
        .collect();
    format!("{path}?{}", parts.join("&"))
}
