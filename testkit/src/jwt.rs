//! JWT-shaped tokens: real structure (header.payload.signature, base64url JSON),
//! a meaningless signature. Entra's own tokens are 1.5–3 KB; ours are of that size.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use serde_json::{Map, Value};

/// Encodes `claims` as a JWT with an RS256-looking header and a random-looking
/// 256-byte signature.
pub(crate) fn make_token(claims: &Map<String, Value>, seed: u64) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"RS256","kid":"entra-pg-test"}"#);
    let payload = URL_SAFE_NO_PAD.encode(Value::Object(claims.clone()).to_string());
    let signature = URL_SAFE_NO_PAD.encode(pseudo_random_bytes(seed, 256));
    format!("{header}.{payload}.{signature}")
}

/// The claims of a JWT-shaped token, or `None` when it is not one.
pub fn decode_claims(token: &str) -> Option<Map<String, Value>> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(claims) => Some(claims),
        _ => None,
    }
}

/// Bytes from a xorshift generator: unique per seed, no cryptographic value needed.
pub(crate) fn pseudo_random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed ^ 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}
