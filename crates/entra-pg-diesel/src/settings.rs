//! libpq connection settings: parsing a URL or `key=value` string into
//! parameters as libpq reads them, and writing them back as a login URL.

use entra_pg_core::Error as CoreError;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

/// What is percent-encoded in a value of the login URL: everything but the
/// unreserved characters of RFC 3986. So `@`, `/`, `?`, `#`, `%`, `+`, `&`, `=`,
/// `:` and spaces in a user name or a password never change the URL's structure.
pub(crate) const VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The libpq parameters that hold secrets: redacted wherever settings are shown.
pub(crate) const SECRET_KEYS: [&str; 2] = ["password", "sslpassword"];

/// libpq connection parameters in order, each key once (the last value given wins,
/// as in libpq).
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, value)| value.as_str())
    }

    /// Sets `key` as libpq stores it: `requiressl` (legacy) is `sslmode=require`
    /// when its value starts with `1`, else `sslmode=prefer`; `ssl=true` (JDBC;
    /// libpq takes it in URLs only and refuses it in `key=value` strings) is
    /// `sslmode=require`. So no alias reaches the login URL, where libpq would
    /// apply it after `sslmode` and weaken TLS.
    pub(crate) fn set(&mut self, key: &str, value: &str) {
        match (key, value) {
            ("requiressl", _) if value.starts_with('1') => return self.set("sslmode", "require"),
            ("requiressl", _) => return self.set("sslmode", "prefer"),
            ("ssl", "true") => return self.set("sslmode", "require"),
            _ => {}
        }
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some(entry) => value.clone_into(&mut entry.1),
            None => self.0.push((key.to_owned(), value.to_owned())),
        }
    }

    /// Parses a `postgresql://` (or `postgres://`) URL or a libpq `key=value` string.
    ///
    /// Error messages name the part that is wrong, never a value (a password may
    /// be in it).
    pub(crate) fn parse(settings: &str) -> Result<Self, CoreError> {
        let trimmed = settings.trim();
        if let Some(rest) = trimmed
            .strip_prefix("postgresql://")
            .or_else(|| trimmed.strip_prefix("postgres://"))
        {
            parse_url(rest)
        } else {
            // Untrimmed: the parser skips whitespace between pairs itself, and a
            // trailing backslash-escaped space belongs to the last value.
            parse_key_value(settings)
        }
    }

    /// The libpq URL holding every parameter, each value percent-encoded:
    /// `postgresql://?host=…&port=…&user=…&password=…`.
    pub(crate) fn to_url(&self) -> String {
        let mut url = String::from("postgresql://?");
        for (index, (key, value)) in self.0.iter().enumerate() {
            if index > 0 {
                url.push('&');
            }
            url.extend(utf8_percent_encode(key, VALUE));
            url.push('=');
            url.extend(utf8_percent_encode(value, VALUE));
        }
        url
    }
}

/// Secrets (`password`, `sslpassword`) redacted.
impl std::fmt::Debug for Params {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut map = f.debug_map();
        for (key, value) in &self.0 {
            if SECRET_KEYS.contains(&key.as_str()) {
                map.entry(key, &"<redacted>");
            } else {
                map.entry(key, value);
            }
        }
        map.finish()
    }
}

fn invalid(what: &str) -> CoreError {
    CoreError::InvalidConfig {
        reason: format!(
            "cannot parse the PostgreSQL connection settings ({what}); use libpq `key=value` \
             pairs or a postgresql:// URL, and percent-encode special characters in a URL \
             (a user me@contoso.com is me%40contoso.com)"
        ),
    }
}

fn decode(part: &str, what: &str) -> Result<String, CoreError> {
    if has_bad_escape(part) {
        return Err(invalid(&format!("a bad percent-escape in the {what}")));
    }
    percent_decode_str(part)
        .decode_utf8()
        .map(|value| value.into_owned())
        .map_err(|_| invalid(&format!("the {what} is not UTF-8 once percent-decoded")))
}

fn has_bad_escape(part: &str) -> bool {
    let bytes = part.as_bytes();
    bytes.iter().enumerate().any(|(index, &byte)| {
        byte == b'%'
            && !(bytes.get(index + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(index + 2).is_some_and(u8::is_ascii_hexdigit))
    })
}

/// `[user[:password]@][host[:port][,…]][/dbname][?key=value[&…]]`, as libpq reads it.
fn parse_url(rest: &str) -> Result<Params, CoreError> {
    let mut params = Params::default();
    let (before_query, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (authority, dbname) = before_query.split_once('/').unwrap_or((before_query, ""));
    let hostspec = match authority.split_once('@') {
        Some((userinfo, hostspec)) => {
            let (user, password) = match userinfo.split_once(':') {
                Some((user, password)) => (user, Some(password)),
                None => (userinfo, None),
            };
            if !user.is_empty() {
                params.set("user", &decode(user, "user name")?);
            }
            // libpq skips an empty password here, as an empty user.
            if let Some(password) = password.filter(|password| !password.is_empty()) {
                params.set("password", &decode(password, "password")?);
            }
            hostspec
        }
        None => authority,
    };
    if !hostspec.is_empty() {
        let mut hosts = Vec::new();
        let mut ports = Vec::new();
        for spec in hostspec.split(',') {
            let (host, port) = if let Some(bracketed) = spec.strip_prefix('[') {
                let (host, after) = bracketed
                    .split_once(']')
                    .ok_or_else(|| invalid("an IPv6 address without its closing `]`"))?;
                let port = match after {
                    "" => None,
                    _ => Some(
                        after
                            .strip_prefix(':')
                            .ok_or_else(|| invalid("text after an IPv6 address"))?,
                    ),
                };
                (host, port)
            } else {
                match spec.split_once(':') {
                    Some((host, port)) => (host, Some(port)),
                    None => (spec, None),
                }
            };
            hosts.push(decode(host, "host")?);
            ports.push(decode(port.unwrap_or(""), "port")?);
        }
        if hosts.iter().any(|host| !host.is_empty()) {
            params.set("host", &hosts.join(","));
        }
        if ports.iter().any(|port| !port.is_empty()) {
            params.set("port", &ports.join(","));
        }
    }
    if !dbname.is_empty() {
        params.set("dbname", &decode(dbname, "database name")?);
    }
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| invalid("a URL query parameter without `=`"))?;
        let key = decode(key, "name of a URL query parameter")?;
        let value = decode(value, &format!("value of the URL query parameter {key}"))?;
        // `set` applies libpq's aliases (ssl=true means sslmode=require).
        params.set(&key, &value);
    }
    Ok(params)
}

/// C `isspace` in the "C" locale: the only whitespace libpq's `key = value`
/// parser skips (not, say, a no-break space, which is part of a value).
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

/// libpq's `key = value` syntax: values bare (backslash escapes the next
/// character) or single-quoted (`\'` and `\\` inside).
fn parse_key_value(input: &str) -> Result<Params, CoreError> {
    let mut params = Params::default();
    let mut chars = input.chars().peekable();
    loop {
        while chars.next_if(|&c| is_space(c)).is_some() {}
        if chars.peek().is_none() {
            return Ok(params);
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|&c| !is_space(c) && c != '=') {
            key.push(c);
        }
        while chars.next_if(|&c| is_space(c)).is_some() {}
        if chars.next() != Some('=') {
            // Not the key: it may be a password pasted without one.
            return Err(invalid(&format!(
                "`=` missing after the key of pair {}",
                params.0.len() + 1
            )));
        }
        while chars.next_if(|&c| is_space(c)).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next() {
                    Some('\\') => match chars.next() {
                        Some(c) => value.push(c),
                        None => return Err(unterminated(&params)),
                    },
                    Some('\'') => break,
                    Some(c) => value.push(c),
                    None => return Err(unterminated(&params)),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|&c| !is_space(c)) {
                if c == '\\' {
                    if let Some(escaped) = chars.next() {
                        value.push(escaped);
                    }
                } else {
                    value.push(c);
                }
            }
        }
        params.set(&key, &value);
    }
}

fn unterminated(params: &Params) -> CoreError {
    invalid(&format!(
        "an unterminated quote in the value of pair {}",
        params.0.len() + 1
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(settings: &str) -> Vec<(String, String)> {
        Params::parse(settings).unwrap().0
    }

    fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
        expected
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn urls_are_read_as_libpq_reads_them() {
        assert_eq!(
            parse(
                "postgresql://me%40contoso.com:p%3Aw@db.example.com:6432/app?sslmode=verify-full&application_name=x"
            ),
            pairs(&[
                ("user", "me@contoso.com"),
                ("password", "p:w"),
                ("host", "db.example.com"),
                ("port", "6432"),
                ("dbname", "app"),
                ("sslmode", "verify-full"),
                ("application_name", "x"),
            ])
        );
        assert_eq!(
            parse("postgres://h1:1,[::1]:2,h3/db"),
            pairs(&[("host", "h1,::1,h3"), ("port", "1,2,"), ("dbname", "db")])
        );
        assert_eq!(
            parse("postgresql:///db?host=/tmp&ssl=true"),
            pairs(&[("dbname", "db"), ("host", "/tmp"), ("sslmode", "require")])
        );
        assert_eq!(parse("postgresql://"), pairs(&[]));
    }

    #[test]
    fn key_value_strings_are_read_as_libpq_reads_them() {
        assert_eq!(
            parse(
                r"host=localhost  port = 5432 dbname='my db' user='o\'brien' application_name=a\ b"
            ),
            pairs(&[
                ("host", "localhost"),
                ("port", "5432"),
                ("dbname", "my db"),
                ("user", "o'brien"),
                ("application_name", "a b"),
            ])
        );
        assert_eq!(parse("  "), pairs(&[]));
    }

    #[test]
    fn parse_errors_never_echo_a_value() {
        for bad in [
            "postgresql://u:s3cr%zzet@h/db",
            "postgresql://h/db?password=s3cr%zzet",
            "host=h password='s3cret",
            "host=h s3cret",
            "postgresql://[s3cret/db",
        ] {
            let err = Params::parse(bad).unwrap_err().to_string();
            assert!(!err.contains("s3cr"), "{err}");
            assert!(err.contains("cannot parse"), "{err}");
        }
    }

    #[test]
    fn the_url_round_trips_every_special_character() {
        let mut params = Params::default();
        let user = "a@b/c?d#e%f+g h:i&j=k'l\"m\\n,o;ü";
        params.set("host", "localhost");
        params.set("user", user);
        params.set("password", "eyJ0.eyJ1-_~x");
        let url = params.to_url();
        assert!(url.starts_with("postgresql://?host=localhost&user=a%40b%2Fc%3Fd%23e%25f%2Bg%20h"));
        assert!(url.ends_with("&password=eyJ0.eyJ1-_~x"));
        assert_eq!(Params::parse(&url).unwrap(), params);
    }

    #[test]
    fn debug_hides_every_secret() {
        let params = Params::parse("host=h user=u password=s3cret sslpassword=k3y").unwrap();
        let debug = format!("{params:?}");
        assert!(
            !debug.contains("s3cret") && !debug.contains("k3y") && debug.contains("<redacted>"),
            "{debug}"
        );
    }

    /// Regressions (fuzz target `diesel_conninfo`): settings are read as libpq
    /// reads them, so the login URL means to libpq what the settings meant.
    #[test]
    fn settings_are_read_as_libpq_reads_them() {
        // Only C `isspace` separates pairs: a no-break space or U+2028 is part of
        // a bare value (libpq reads one user here, and no password).
        assert_eq!(
            parse("host=h user=a\u{a0}password=x application_name=b\u{2028}c"),
            pairs(&[
                ("host", "h"),
                ("user", "a\u{a0}password=x"),
                ("application_name", "b\u{2028}c"),
            ])
        );
        // A backslash-escaped space (or tab, vertical tab) at the end is kept.
        assert_eq!(
            parse("host=h dbname=db\\  options=\\\u{b}"),
            pairs(&[("host", "h"), ("dbname", "db "), ("options", "\u{b}")])
        );
        // libpq skips an empty password in a URL, as an empty user.
        assert_eq!(
            parse("postgres://s:@h/db"),
            pairs(&[("user", "s"), ("host", "h"), ("dbname", "db")])
        );
        // Aliases become sslmode where they stand, in both forms: kept as they
        // were, libpq read them after sslmode=verify-full in the login URL.
        for (settings, mode) in [
            ("host=h sslmode=verify-full requiressl=0", "prefer"),
            ("host=h sslmode=verify-full requiressl=", "prefer"),
            ("host=h requiressl=1 sslmode=verify-full", "verify-full"),
            ("host=h sslmode=verify-full requiressl=1x", "require"),
            ("host=h sslmode=verify-full ssl=true", "require"),
            ("postgresql://h?sslmode=verify-full&requiressl=0", "prefer"),
            ("postgresql://h?sslmode=verify-full&ssl=true", "require"),
        ] {
            let params = Params::parse(settings).unwrap();
            assert_eq!(params.get("sslmode"), Some(mode), "{settings}");
            assert_eq!(params.get("requiressl"), None, "{settings}");
            assert_eq!(params.get("ssl"), None, "{settings}");
            let url = params.to_url();
            assert!(url.contains(&format!("sslmode={mode}")), "{url}");
            assert!(!url.contains("ssl="), "{url}");
        }
    }
}
