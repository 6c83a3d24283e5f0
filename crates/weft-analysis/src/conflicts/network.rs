//! IP subnets (CIDR) and whether two overlap.

use std::net::IpAddr;

/// A parsed CIDR block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Subnet {
    address: u128,
    prefix: u32,
    v6: bool,
}

impl Subnet {
    /// Parses `10.0.0.0/16` or `fd00::/64`; a bare address is a /32 or /128.
    pub(crate) fn parse(text: &str) -> Option<Subnet> {
        let (address, prefix) = text.trim().split_once('/').unwrap_or((text.trim(), ""));
        let address: IpAddr = address.parse().ok()?;
        let (bits, v6, max) = match address {
            IpAddr::V4(v4) => (u128::from(u32::from(v4)), false, 32),
            IpAddr::V6(v6) => (u128::from(v6), true, 128),
        };
        let prefix = if prefix.is_empty() {
            max
        } else {
            prefix.parse().ok()?
        };
        (prefix <= max).then_some(Subnet {
            address: bits,
            prefix,
            v6,
        })
    }

    fn bounds(self) -> (u128, u128) {
        let width = if self.v6 { 128 } else { 32 };
        let host_bits = width - self.prefix;
        let mask = if host_bits >= 128 {
            u128::MAX
        } else {
            (1u128 << host_bits) - 1
        };
        (self.address & !mask, (self.address & !mask) | mask)
    }

    pub(crate) fn overlaps(self, other: Subnet) -> bool {
        if self.v6 != other.v6 {
            return false;
        }
        let (a_start, a_end) = self.bounds();
        let (b_start, b_end) = other.bounds();
        a_start <= b_end && b_start <= a_end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap() {
        let a = Subnet::parse("172.20.0.0/16").unwrap();
        assert!(a.overlaps(Subnet::parse("172.20.5.0/24").unwrap()));
        assert!(!a.overlaps(Subnet::parse("172.21.0.0/16").unwrap()));
        assert!(!a.overlaps(Subnet::parse("fd00::/8").unwrap()));
        assert!(
            Subnet::parse("fd00::/8")
                .unwrap()
                .overlaps(Subnet::parse("fd12::/64").unwrap())
        );
        assert!(Subnet::parse("0.0.0.0/0").unwrap().overlaps(a));
        assert!(Subnet::parse("10.0.0.0/33").is_none());
        assert!(Subnet::parse("x").is_none());
    }
}
