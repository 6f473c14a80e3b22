//! The client's address for `client_ip`: the peer's, unless the peer is a proxy the spec
//! trusts (`service.trusted_proxies`), in which case the forwarding headers (`Forwarded`,
//! else `X-Forwarded-For`) are walked from the nearest hop outwards to the first address
//! that is not a trusted proxy. Headers from anyone else are ignored: they are the
//! client's own words and would let it pose as any address.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;
use contract::cidr::Cidr;

/// The client address of a request that came from `peer`.
pub fn client_ip(headers: &HeaderMap, peer: IpAddr, trusted: &[Cidr]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|range| range.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let hops = forwarded_hops(headers);
    let mut client = peer;
    for hop in hops.iter().rev() {
        let Some(address) = hop else { break };
        client = *address;
        if !is_trusted(*address) {
            break;
        }
    }
    client
}

/// The hops the headers list, client first; `None` for a hop that is not an address
/// (`unknown`, an obfuscated name), which ends the walk there.
fn forwarded_hops(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let forwarded: Vec<Option<IpAddr>> = headers
        .get_all("forwarded")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|element| {
            element.split(';').find_map(|pair| {
                let (key, value) = pair.trim().split_once('=')?;
                key.eq_ignore_ascii_case("for").then(|| parse_node(value))
            })
        })
        .collect();
    if !forwarded.is_empty() {
        return forwarded;
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(parse_node)
        .collect()
}

/// `192.0.2.1`, `192.0.2.1:4711`, `"[2001:db8::1]:4711"` or `2001:db8::1`.
fn parse_node(text: &str) -> Option<IpAddr> {
    let text = text.trim().trim_matches('"');
    text.parse::<IpAddr>()
        .ok()
        .or_else(|| text.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| {
            let inner = text.strip_prefix('[')?.split(']').next()?;
            inner.parse().ok()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranges(list: &[&str]) -> Vec<Cidr> {
        list.iter().map(|r| Cidr::try_from(r.to_string()).unwrap()).collect()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().unwrap());
        }
        map
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let claims = headers(&[("x-forwarded-for", "1.2.3.4"), ("forwarded", "for=5.6.7.8")]);
        assert_eq!(
            client_ip(&claims, ip("203.0.113.9"), &ranges(&["10.0.0.0/8"])),
            ip("203.0.113.9")
        );
        assert_eq!(
            client_ip(&claims, ip("10.0.0.2"), &[]),
            ip("10.0.0.2"),
            "nothing trusted"
        );
    }

    #[test]
    fn behind_trusted_proxies_the_first_untrusted_hop_is_the_client() {
        let trusted = ranges(&["10.0.0.0/8", "172.16.0.0/12"]);
        let chain = headers(&[("x-forwarded-for", "6.6.6.6, 198.51.100.7, 10.0.0.5")]);
        // 6.6.6.6 was written by the client itself; 198.51.100.7 is what the first trusted
        // proxy saw.
        assert_eq!(client_ip(&chain, ip("172.17.0.1"), &trusted), ip("198.51.100.7"));
        let standard = headers(&[("forwarded", r#"for="[2001:db8::1]:4711";proto=https, for=10.0.0.5"#)]);
        assert_eq!(client_ip(&standard, ip("10.1.1.1"), &trusted), ip("2001:db8::1"));
        let ported = headers(&[("forwarded", "for=192.0.2.60:8080")]);
        assert_eq!(client_ip(&ported, ip("10.1.1.1"), &trusted), ip("192.0.2.60"));
    }

    #[test]
    fn an_unknown_hop_ends_the_walk_at_the_last_address_known() {
        let trusted = ranges(&["10.0.0.0/8"]);
        let chain = headers(&[("forwarded", "for=unknown, for=10.0.0.7")]);
        assert_eq!(client_ip(&chain, ip("10.0.0.1"), &trusted), ip("10.0.0.7"));
        assert_eq!(client_ip(&HeaderMap::new(), ip("10.0.0.1"), &trusted), ip("10.0.0.1"));
    }
}
