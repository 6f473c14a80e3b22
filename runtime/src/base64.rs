//! Base64 (RFC 4648, with padding) for the two places the runtime needs it: HTTP basic
//! auth (standard alphabet) and the Pushgateway's grouping values (URL-safe alphabet).

const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// The standard alphabet.
pub fn standard(bytes: &[u8]) -> String {
    encode(bytes, STANDARD)
}

/// The URL- and path-safe alphabet.
pub fn url_safe(bytes: &[u8]) -> String {
    encode(bytes, URL_SAFE)
}

fn encode(bytes: &[u8], alphabet: &[u8; 64]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(alphabet[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    while !out.len().is_multiple_of(4) {
        out.push('=');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_the_rfc_4648_test_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(standard(plain.as_bytes()), encoded);
        }
        assert_eq!(standard(&[0xfb, 0xff]), "+/8=");
        assert_eq!(url_safe(&[0xfb, 0xff]), "-_8=");
    }
}
