//! The interface's IPv4 configuration: from the command line (`ip=`, `gw=`, `dns=`), or
//! from DHCP when the line gives no address.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::net::Ipv4Addr;

/// How many name servers the interface keeps.
pub(crate) const MAX_DNS_SERVERS: usize = 3;

/// The address the interface has, and where it sends what is not on its own network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ipv4Config {
    /// The interface's address.
    pub address: Ipv4Addr,
    /// The length of the network prefix: 24 for 255.255.255.0.
    pub prefix_len: u8,
    /// The router for other networks, if any.
    pub gateway: Option<Ipv4Addr>,
    /// The name servers [`lookup_host`](super::lookup_host) asks, in order.
    pub dns_servers: Vec<Ipv4Addr>,
}

impl fmt::Display for Ipv4Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix_len)?;
        if let Some(gateway) = self.gateway {
            write!(f, " gw {gateway}")?;
        }
        for server in &self.dns_servers {
            write!(f, " dns {server}")?;
        }
        Ok(())
    }
}

/// Where the configuration comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Setup {
    /// Ask a DHCP server.
    Dhcp,
    /// The command line's.
    Static(Ipv4Config),
}

/// Reads `ip=A.B.C.D[/N]` (or `ip=dhcp`), `gw=A.B.C.D` and `dns=A.B.C.D[,A.B.C.D...]` as
/// `param` gives them. A word that does not parse is left out with a warning in the list
/// returned; a bad `ip=` means DHCP.
pub(crate) fn from_params<'a>(param: impl Fn(&str) -> Option<&'a str>) -> (Setup, Vec<String>) {
    let mut warnings = Vec::new();
    let gateway = param("gw").and_then(|text| match text.parse::<Ipv4Addr>() {
        Ok(gateway) => Some(gateway),
        Err(_) => {
            warnings.push(format!(
                "ignoring gw={text}: not an IPv4 address such as 10.0.2.2"
            ));
            None
        }
    });
    let mut dns_servers = Vec::new();
    if let Some(text) = param("dns") {
        for word in text.split(',') {
            match word.parse::<Ipv4Addr>() {
                Ok(server) if dns_servers.len() < MAX_DNS_SERVERS => dns_servers.push(server),
                Ok(_) => warnings.push(format!(
                    "ignoring dns={word}: at most {MAX_DNS_SERVERS} name servers"
                )),
                Err(_) => warnings.push(format!(
                    "ignoring dns={word}: not an IPv4 address such as 10.0.2.3"
                )),
            }
        }
    }
    let setup = match param("ip") {
        None | Some("dhcp") => Setup::Dhcp,
        Some(text) => match parse_cidr(text) {
            Some((address, prefix_len)) => Setup::Static(Ipv4Config {
                address,
                prefix_len,
                gateway,
                dns_servers: dns_servers.clone(),
            }),
            None => {
                warnings.push(format!(
                    "ignoring ip={text}: not an IPv4 address with a prefix such as \
                     10.0.2.15/24, nor `dhcp`; asking DHCP"
                ));
                Setup::Dhcp
            }
        },
    };
    if setup == Setup::Dhcp && (gateway.is_some() || !dns_servers.is_empty()) {
        warnings.push(String::from(
            "ignoring gw= and dns= without ip=: DHCP gives the gateway and name servers",
        ));
    }
    (setup, warnings)
}

/// `A.B.C.D/N` with `N` in 1..=32, or `A.B.C.D` alone for a /24; a unicast address.
fn parse_cidr(text: &str) -> Option<(Ipv4Addr, u8)> {
    let (address, prefix_len) = match text.split_once('/') {
        Some((address, prefix)) => (address, prefix.parse::<u8>().ok()?),
        None => (text, 24),
    };
    let address = address.parse::<Ipv4Addr>().ok()?;
    let unicast = !(address.is_unspecified() || address.is_broadcast() || address.is_multicast());
    ((1..=32).contains(&prefix_len) && unicast).then_some((address, prefix_len))
}

#[cfg(test)]
mod tests {
    use core::net::Ipv4Addr;

    use super::{Ipv4Config, Setup, from_params};

    fn parse(line: &[(&str, &str)]) -> (Setup, Vec<String>) {
        from_params(|key| line.iter().find(|(k, _)| *k == key).map(|(_, v)| *v))
    }

    #[test]
    fn dhcp_unless_the_line_gives_an_address() {
        assert_eq!(parse(&[]), (Setup::Dhcp, Vec::new()));
        assert_eq!(parse(&[("ip", "dhcp")]), (Setup::Dhcp, Vec::new()));
        let config = Ipv4Config {
            address: Ipv4Addr::new(10, 0, 2, 15),
            prefix_len: 24,
            gateway: Some(Ipv4Addr::new(10, 0, 2, 2)),
            dns_servers: vec![Ipv4Addr::new(10, 0, 2, 3), Ipv4Addr::new(1, 1, 1, 1)],
        };
        let line = [
            ("ip", "10.0.2.15/24"),
            ("gw", "10.0.2.2"),
            ("dns", "10.0.2.3,1.1.1.1"),
        ];
        assert_eq!(parse(&line), (Setup::Static(config.clone()), Vec::new()));
        assert_eq!(
            config.to_string(),
            "10.0.2.15/24 gw 10.0.2.2 dns 10.0.2.3 dns 1.1.1.1"
        );
        let (setup, warnings) = parse(&[("ip", "192.168.1.9")]);
        assert!(warnings.is_empty());
        let Setup::Static(config) = setup else {
            panic!("a static address")
        };
        assert_eq!((config.prefix_len, config.gateway), (24, None));
    }

    #[test]
    fn bad_words_are_warned_about_and_left_out() {
        for bad in [
            "10.0.2/24",
            "10.0.2.15/33",
            "10.0.2.15/0",
            "10.0.2.15/x",
            "0.0.0.0/8",
            "224.0.0.1/4",
            "",
        ] {
            let (setup, warnings) = parse(&[("ip", bad)]);
            assert_eq!(setup, Setup::Dhcp, "{bad}");
            assert_eq!(warnings.len(), 1, "{bad}: {warnings:?}");
            assert!(
                warnings[0].starts_with(&format!("ignoring ip={bad}: ")),
                "{warnings:?}"
            );
        }
        let (setup, warnings) = parse(&[
            ("ip", "10.0.2.15/24"),
            ("gw", "router"),
            ("dns", "10.0.2.3,nine,1.1.1.1,8.8.8.8,9.9.9.9"),
        ]);
        let Setup::Static(config) = setup else {
            panic!("the address is good")
        };
        assert_eq!(config.gateway, None);
        assert_eq!(config.dns_servers.len(), 3);
        assert_eq!(
            warnings,
            [
                "ignoring gw=router: not an IPv4 address such as 10.0.2.2",
                "ignoring dns=nine: not an IPv4 address such as 10.0.2.3",
                "ignoring dns=9.9.9.9: at most 3 name servers",
            ]
        );
        let (setup, warnings) = parse(&[("gw", "10.0.2.2")]);
        assert_eq!(setup, Setup::Dhcp);
        assert_eq!(warnings.len(), 1);
    }
}
