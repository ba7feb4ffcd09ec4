//! A certificate made at start for this machine (`--tls-self-signed`).
//!
//! It names every way a browser on the same network may reach the server: the host name, the
//! same with `.local` (what mDNS answers on most home networks), `localhost`, `127.0.0.1`,
//! `::1`, and the listen address, or, when listening on all addresses (`0.0.0.0` / `::`),
//! every address of the machine's interfaces. Browsers still warn, since nobody vouches for
//! it; the fingerprint printed at start lets the visitor check that the certificate shown is
//! this one before accepting it. A new key and certificate are made at each start.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use rcgen::{CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, KeyPair};
use rustls::{
    pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer},
    sign::CertifiedKey,
};

use super::TlsError;

/// The names and addresses the certificate is made for, without repeats.
pub fn machine_names(listen: SocketAddr) -> Vec<String> {
    let mut names = Vec::new();
    if let Ok(host) = nix::unistd::gethostname()
        && let Some(host) = host.to_str()
        && !host.is_empty()
    {
        let host = host.to_ascii_lowercase();
        if !host.contains('.') {
            names.push(format!("{host}.local"));
        }
        names.push(host);
    }
    names.push("localhost".to_owned());
    let mut addresses = vec![
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(Ipv6Addr::LOCALHOST),
    ];
    if listen.ip().is_unspecified() {
        addresses.extend(interface_addresses());
    } else {
        addresses.push(listen.ip());
    }
    names.extend(addresses.iter().map(IpAddr::to_string));
    let mut seen = std::collections::HashSet::new();
    names.retain(|name| seen.insert(name.clone()));
    names
}

/// The addresses of this machine's interfaces (IPv6 link-local ones left out: a browser cannot
/// put them in a URL without a zone). Empty if they cannot be listed.
fn interface_addresses() -> Vec<IpAddr> {
    let Ok(interfaces) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    interfaces
        .filter_map(|interface| {
            let address = interface.address?;
            if let Some(v4) = address.as_sockaddr_in() {
                Some(IpAddr::V4(v4.ip()))
            } else {
                address
                    .as_sockaddr_in6()
                    .map(|v6| IpAddr::V6(v6.ip()))
                    .filter(|ip| !is_link_local(ip))
            }
        })
        .collect()
}

fn is_link_local(ip: &IpAddr) -> bool {
    matches!(ip, IpAddr::V6(v6) if v6.segments()[0] & 0xffc0 == 0xfe80)
}

/// A fresh key (ECDSA P-256) and a certificate for `names` (host names or IP addresses),
/// usable by a TLS server.
pub fn generate(names: &[String]) -> Result<CertifiedKey, TlsError> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(names.to_vec())?;
    let mut subject = DistinguishedName::new();
    subject.push(DnType::CommonName, "video-chat self-signed");
    params.distinguished_name = subject;
    // Apple's platforms refuse a server certificate without this purpose.
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let certificate = params.self_signed(&key)?;
    let private_key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let signing_key = super::provider()
        .key_provider
        .load_private_key(private_key)?;
    Ok(CertifiedKey::new(
        vec![certificate.der().clone()],
        signing_key,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Loopback names are always there; a specific listen address is added, and each name
    /// only once.
    #[test]
    fn names_cover_loopback_and_the_listen_address() {
        let names = machine_names("192.0.2.7:8443".parse().expect("address"));
        for expected in ["localhost", "127.0.0.1", "::1", "192.0.2.7"] {
            assert!(names.iter().any(|name| name == expected), "{names:?}");
        }
        let unique: std::collections::HashSet<_> = names.iter().collect();
        assert_eq!(unique.len(), names.len(), "{names:?}");
        let on_loopback = machine_names("127.0.0.1:8443".parse().expect("address"));
        assert_eq!(
            on_loopback
                .iter()
                .filter(|name| *name == "127.0.0.1")
                .count(),
            1
        );
    }

    /// The interfaces' addresses are listed (the loopback interface's among them), without
    /// link-local IPv6 ones, and used when listening on all addresses.
    #[test]
    fn all_addresses_lists_the_interfaces() {
        let interfaces = interface_addresses();
        assert!(
            interfaces.contains(&IpAddr::V4(Ipv4Addr::LOCALHOST)),
            "{interfaces:?}"
        );
        assert!(!interfaces.iter().any(is_link_local), "{interfaces:?}");
        let names = machine_names("0.0.0.0:8443".parse().expect("address"));
        for address in &interfaces {
            assert!(names.contains(&address.to_string()), "{names:?}");
        }
        assert!(!names.iter().any(|name| name == "0.0.0.0"), "{names:?}");
    }

    /// The certificate's key matches it.
    #[test]
    fn generated_key_matches_its_certificate() {
        let certified =
            generate(&["localhost".to_owned(), "127.0.0.1".to_owned()]).expect("generates");
        certified.keys_match().expect("key and certificate match");
        assert_eq!(certified.cert.len(), 1);
    }
}
