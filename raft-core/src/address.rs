//! Server addresses: `tcp:IP:PORT` or `ssl:IP:PORT`, with IPv6 in brackets.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// A validated server address such as `tcp:127.0.0.1:6641` or `tcp:[::1]:6641`.
///
/// The core never connects anywhere; it validates addresses (S1, S2) and hands them to the
/// driver in `Action::Connect`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Address(String);

/// Why an address string was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddressError {
    address: String,
    reason: &'static str,
}

impl fmt::Display for AddressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} (expected tcp:IP:PORT or ssl:IP:PORT)",
            self.address, self.reason
        )
    }
}

impl std::error::Error for AddressError {}

/// The transport an address names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// Plain TCP.
    Tcp,
    /// TLS over TCP (accepted by the core like the reference; an adapter may not support it).
    Ssl,
}

impl Address {
    /// Parses and validates an address.
    pub fn parse(s: &str) -> Result<Address, AddressError> {
        split(s)?;
        Ok(Address(s.to_owned()))
    }

    /// The address text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The scheme of the address.
    pub fn scheme(&self) -> Scheme {
        // Validated at construction, so the prefix is one of the two.
        if self.0.starts_with("ssl:") {
            Scheme::Ssl
        } else {
            Scheme::Tcp
        }
    }

    /// The IP address and port.
    pub fn socket_addr(&self) -> SocketAddr {
        // Validated at construction; the fallback is unreachable but keeps this panic-free.
        split(&self.0)
            .map(|(_, sa)| sa)
            .unwrap_or(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0))
    }
}

fn split(s: &str) -> Result<(Scheme, SocketAddr), AddressError> {
    let err = |reason| AddressError {
        address: s.to_owned(),
        reason,
    };
    let (scheme, rest) = if let Some(rest) = s.strip_prefix("tcp:") {
        (Scheme::Tcp, rest)
    } else if let Some(rest) = s.strip_prefix("ssl:") {
        (Scheme::Ssl, rest)
    } else {
        return Err(err("unknown scheme"));
    };
    let (host, port) = rest.rsplit_once(':').ok_or_else(|| err("missing port"))?;
    let port: u16 = port.parse().map_err(|_| err("bad port number"))?;
    if port == 0 {
        return Err(err("port 0 is not connectable"));
    }
    let ip = if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        IpAddr::V6(
            v6.parse::<Ipv6Addr>()
                .map_err(|_| err("bad IPv6 address"))?,
        )
    } else {
        IpAddr::V4(
            host.parse::<Ipv4Addr>()
                .map_err(|_| err("bad IPv4 address (IPv6 needs [brackets])"))?,
        )
    };
    Ok((scheme, SocketAddr::new(ip, port)))
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Address::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s1_accepts_ipv4_and_bracketed_ipv6() {
        let a = Address::parse("tcp:127.0.0.1:6641").unwrap();
        assert_eq!(a.socket_addr().port(), 6641);
        assert_eq!(a.scheme(), Scheme::Tcp);
        let b = Address::parse("ssl:[::1]:1").unwrap();
        assert!(b.socket_addr().is_ipv6());
        assert_eq!(b.scheme(), Scheme::Ssl);
    }

    #[test]
    fn s1_refuses_malformed_addresses() {
        for bad in [
            "",
            "127.0.0.1:1",
            "udp:1.2.3.4:5",
            "tcp:1.2.3.4",
            "tcp:1.2.3.4:0",
            "tcp:1.2.3.4:70000",
            "tcp:::1:5",
            "tcp:[::1:5",
            "tcp:host:5",
            "tcp:[1.2.3.4]:5",
        ] {
            assert!(Address::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn deserializing_validates() {
        let r: Result<Address, _> = serde_json::from_str("\"tcp:nope:1\"");
        assert!(r.is_err());
    }
}
