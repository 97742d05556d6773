//! IP address parsing and the "actionable" test that exports and blocklists use.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Parses a dotted quad strictly: exactly four parts of one to three decimal digits, each 0-255.
///
/// Leading zeros are accepted and dropped (`010.001.002.003` is `10.1.2.3`): logs write them, and
/// reading them as octal (as some C libraries do) would invent a different address.
pub(crate) fn parse_ipv4(s: &[u8]) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut n = 0;
    for part in s.split(|&c| c == b'.') {
        if n == 4 || part.is_empty() || part.len() > 3 || !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let v = part
            .iter()
            .fold(0u32, |acc, &d| acc * 10 + u32::from(d - b'0'));
        octets[n] = u8::try_from(v).ok()?;
        n += 1;
    }
    (n == 4).then(|| Ipv4Addr::from(octets))
}

/// Parses IPv6 text, refusing the bare `::` (it names no host).
pub(crate) fn parse_ipv6(s: &str) -> Option<Ipv6Addr> {
    if s == "::" || s.len() > 45 {
        return None;
    }
    s.parse().ok()
}

fn v4_actionable(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0 // "this network"
        || a == 10
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
        || a == 127
        || (a == 169 && b == 254)
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2) // TEST-NET-1
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast (deprecated)
        || (a == 192 && b == 168)
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || (a == 198 && b == 51 && c == 100) // TEST-NET-2
        || (a == 203 && b == 0 && c == 113) // TEST-NET-3
        || a >= 224) // multicast, reserved, broadcast
}

fn v6_actionable(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_actionable(v4);
    }
    let s = ip.segments();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || s[..6] == [0; 6] // IPv4-compatible (deprecated)
        || (s[0] == 0x0100 && s[1..4] == [0; 3]) // discard-only
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] & 0xfff0) == 0x3ff0 // documentation (RFC 9637)
        || (s[0] & 0xfe00) == 0xfc00 // unique local
        || (s[0] & 0xffc0) == 0xfe80 // link-local
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (s[0] & 0xff00) == 0xff00) // multicast
}

/// See [`crate::is_actionable_ip`].
pub(crate) fn actionable(ip: &str) -> bool {
    let ip = ip.trim().trim_start_matches('[').trim_end_matches(']');
    if let Some(v4) = parse_ipv4(ip.as_bytes()) {
        return v4_actionable(v4);
    }
    match ip.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => v6_actionable(v6),
        Ok(IpAddr::V4(v4)) => v4_actionable(v4),
        Err(_) => false,
    }
}
