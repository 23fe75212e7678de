//! The DNS and TCP steps.

use std::{
    net::{IpAddr, SocketAddr},
    time::Duration,
};

/// What the name resolves to.
#[derive(Debug, Default)]
pub(crate) struct Resolved {
    pub(crate) addresses: Vec<SocketAddr>,
    /// The CNAME chain, when the DNS server answered with one.
    pub(crate) aliases: Vec<String>,
}

/// Whether `address` is private (RFC 1918, unique local, loopback, link-local).
pub(crate) fn is_private(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => v4.is_private() || v4.is_loopback() || v4.is_link_local(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || (v6.segments()[0] & 0xfe00) == 0xfc00 || v6.is_unicast_link_local()
        }
    }
}

/// Resolves `host` as the drivers do (the system resolver), and asks DNS for the
/// CNAME chain (a `privatelink` alias), which the system resolver does not tell.
pub(crate) async fn resolve(host: &str, port: u16) -> Result<Resolved, String> {
    let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|err| format!("{host} does not resolve ({err})"))?
        .collect();
    if addresses.is_empty() {
        return Err(format!("{host} resolves to no address"));
    }
    let aliases = tokio::time::timeout(Duration::from_secs(3), aliases(host))
        .await
        .unwrap_or_default();
    Ok(Resolved { addresses, aliases })
}

async fn aliases(host: &str) -> Vec<String> {
    use hickory_resolver::{TokioResolver, proto::rr::RecordType};
    let Ok(builder) = TokioResolver::builder_tokio() else {
        return Vec::new();
    };
    let Ok(resolver) = builder.build() else {
        return Vec::new();
    };
    let Ok(lookup) = resolver.lookup(host, RecordType::A).await else {
        return Vec::new();
    };
    lookup
        .answers()
        .iter()
        .filter(|record| record.record_type() == RecordType::CNAME)
        .map(|record| record.data.to_string().trim_end_matches('.').to_owned())
        .collect()
}

/// Why the TCP step failed.
#[derive(Debug)]
pub(crate) enum TcpFailure {
    Timeout,
    Refused,
    Other(String),
}

/// Opens a TCP connection to `address` within 5 seconds.
pub(crate) async fn reach(address: SocketAddr) -> Result<(), TcpFailure> {
    match tokio::time::timeout(
        Duration::from_secs(5),
        tokio::net::TcpStream::connect(address),
    )
    .await
    {
        Err(_) => Err(TcpFailure::Timeout),
        Ok(Err(err)) if err.kind() == std::io::ErrorKind::ConnectionRefused => {
            Err(TcpFailure::Refused)
        }
        Ok(Err(err)) => Err(TcpFailure::Other(err.to_string())),
        Ok(Ok(_)) => Ok(()),
    }
}
