//! Bitcoin address checksums: Base58Check (legacy P2PKH and P2SH) and bech32 / bech32m (SegWit).
//!
//! Only addresses whose checksum holds are reported: a random 34-character token of the right
//! alphabet passes a 32-bit checksum about once in four billion tries, so this is what keeps
//! ordinary base58-looking text out of the `btc` list.

use sha2::{Digest, Sha256};

const BASE58: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

fn base58_value(c: u8) -> Option<u32> {
    BASE58.iter().position(|&x| x == c).map(|p| p as u32)
}

/// True for a legacy (`1...`) or P2SH (`3...`) mainnet address with a valid Base58Check checksum.
pub(crate) fn is_base58_address(s: &[u8]) -> bool {
    if !(26..=35).contains(&s.len()) || !matches!(s[0], b'1' | b'3') {
        return false;
    }
    // Decode into a big-endian byte array; 35 base58 digits fit in 26 bytes.
    let mut bytes = [0u8; 32];
    for &c in s {
        let Some(mut carry) = base58_value(c) else {
            return false;
        };
        for byte in bytes.iter_mut().rev() {
            carry += u32::from(*byte) * 58;
            *byte = (carry & 0xff) as u8;
            carry >>= 8;
        }
        if carry != 0 {
            return false;
        }
    }
    let leading_ones = s.iter().take_while(|&&c| c == b'1').count();
    let first_nonzero = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    let decoded = &bytes[first_nonzero..];
    let total = leading_ones + decoded.len();
    if total != 25 {
        return false;
    }
    let mut full = [0u8; 25];
    full[leading_ones..].copy_from_slice(decoded);
    let version = full[0];
    if !((version == 0x00 && s[0] == b'1') || (version == 0x05 && s[0] == b'3')) {
        return false;
    }
    let check = Sha256::digest(Sha256::digest(&full[..21]));
    check[..4] == full[21..]
}

const CHARSET: &[u8; 32] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";
const BECH32_CONST: u32 = 1;
const BECH32M_CONST: u32 = 0x2bc8_30a3;

fn polymod(values: impl Iterator<Item = u8>) -> u32 {
    const GEN: [u32; 5] = [
        0x3b6a_57b2,
        0x2650_8e6d,
        0x1ea1_19fa,
        0x3d42_33dd,
        0x2a14_62b3,
    ];
    let mut chk: u32 = 1;
    for v in values {
        let top = chk >> 25;
        chk = ((chk & 0x01ff_ffff) << 5) ^ u32::from(v);
        for (i, g) in GEN.iter().enumerate() {
            if (top >> i) & 1 == 1 {
                chk ^= g;
            }
        }
    }
    chk
}

/// True for a mainnet SegWit address (`bc1...`) whose bech32 (v0) or bech32m (v1+) checksum
/// holds and whose witness program has a valid length. Mixed case is invalid (BIP 173).
pub(crate) fn is_bech32_address(s: &[u8]) -> bool {
    if !(14..=74).contains(&s.len()) {
        return false;
    }
    let has_upper = s.iter().any(u8::is_ascii_uppercase);
    let has_lower = s.iter().any(u8::is_ascii_lowercase);
    if has_upper && has_lower {
        return false;
    }
    let lower: Vec<u8> = s.iter().map(u8::to_ascii_lowercase).collect();
    if !lower.starts_with(b"bc1") {
        return false;
    }
    let mut data = Vec::with_capacity(lower.len() - 3);
    for &c in &lower[3..] {
        match CHARSET.iter().position(|&x| x == c) {
            Some(p) => data.push(p as u8),
            None => return false,
        }
    }
    if data.len() < 7 {
        return false;
    }
    let hrp = b"bc";
    let expanded = hrp
        .iter()
        .map(|c| c >> 5)
        .chain(std::iter::once(0))
        .chain(hrp.iter().map(|c| c & 31))
        .chain(data.iter().copied());
    let constant = polymod(expanded);
    let version = data[0];
    let expected = if version == 0 {
        BECH32_CONST
    } else {
        BECH32M_CONST
    };
    if version > 16 || constant != expected {
        return false;
    }
    // Witness program: 5-bit groups after the version, less the 6 checksum characters.
    let bits = (data.len() - 7) * 5;
    let prog_len = bits / 8;
    if bits % 8 >= 5 {
        return false;
    }
    match version {
        0 => prog_len == 20 || prog_len == 32,
        _ => (2..=40).contains(&prog_len),
    }
}
