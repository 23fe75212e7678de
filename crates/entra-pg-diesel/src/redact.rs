//! Removing passwords from libpq URLs and `key=value` strings, for logs.

use crate::settings::{Params, SECRET_KEYS};

/// A URL with every password removed, safe to log: a `password` query parameter
/// or `key=value` pair, and the password of `user:password@`, become
/// `<redacted>`.
///
/// For diesel instrumentation, whose connection events carry the URL given to
/// `establish` (for Entra connections: the token). Anything it cannot read is
/// replaced whole.
pub(crate) fn redact_url(url: &str) -> String {
    const REDACTED: &str = "<redacted>";
    let trimmed = url.trim();
    let Some((scheme, rest)) = ["postgresql://", "postgres://"]
        .iter()
        .find_map(|scheme| trimmed.strip_prefix(scheme).map(|rest| (*scheme, rest)))
    else {
        // key=value form: re-render with the password hidden, or hide everything.
        return match Params::parse(trimmed) {
            Ok(params) => format!("{params:?}"),
            Err(_) => REDACTED.to_owned(),
        };
    };
    let (before_query, query) = match rest.split_once('?') {
        Some((before, query)) => (before, Some(query)),
        None => (rest, None),
    };
    let mut out = String::from(scheme);
    let (authority, path) = match before_query.split_once('/') {
        Some((authority, path)) => (authority, Some(path)),
        None => (before_query, None),
    };
    // The last `@`: whatever an unencoded password holds stays hidden.
    match authority.rsplit_once('@') {
        Some((userinfo, hosts)) => {
            match userinfo.split_once(':') {
                Some((user, _)) => {
                    out.push_str(user);
                    out.push(':');
                    out.push_str(REDACTED);
                }
                None => out.push_str(userinfo),
            }
            out.push('@');
            out.push_str(hosts);
        }
        None => out.push_str(authority),
    }
    if let Some(path) = path {
        out.push('/');
        out.push_str(path);
    }
    if let Some(query) = query {
        out.push('?');
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _))
                    if SECRET_KEYS
                        .iter()
                        .any(|secret| key.eq_ignore_ascii_case(secret)) =>
                {
                    format!("{key}={REDACTED}")
                }
                _ => pair.to_owned(),
            })
            .collect();
        out.push_str(&pairs.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn redact_url_hides_every_password() {
        assert_eq!(
            redact_url("postgresql://?host=h&user=a%40b&password=eyJ.x.y&sslmode=verify-full"),
            "postgresql://?host=h&user=a%40b&password=<redacted>&sslmode=verify-full"
        );
        assert_eq!(
            redact_url("postgresql://h?sslpassword=k3y&user=u"),
            "postgresql://h?sslpassword=<redacted>&user=u"
        );
        assert_eq!(
            redact_url("postgres://me:s3cret@h:5432/db"),
            "postgres://me:<redacted>@h:5432/db"
        );
        let key_value = redact_url("host=h password='s3cret'");
        assert!(!key_value.contains("s3cret"), "{key_value}");
        assert_eq!(redact_url("host=h password='s3cret"), "<redacted>");
    }
}
