//! Where the server itself may send requests on a tenant's behalf (export targets today,
//! webhooks later). A tenant names an endpoint; without this policy any token holder
//! could make the server call its own loopback, the private network, or a cloud metadata
//! service. Public addresses are allowed; loopback, private, link-local (the metadata
//! services), shared, multicast and unspecified ones only when the operator lists them
//! (`egress_allow` in the configuration: IP networks or host names).
//!
//! Checked twice: when the endpoint is configured (after DNS resolution), and at every
//! connection, by the HTTP client's own resolver, so a name that later resolves
//! elsewhere (DNS rebinding) is refused too. Redirects are not followed.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use callvault_core::Invalid;
use ipnet::IpNet;
use object_store::client::{HttpClient, HttpConnector};
use object_store::ClientOptions;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EgressPolicy {
    nets: Vec<IpNet>,
    hosts: Vec<String>,
}

/// Whether an address is one a request from the server must not reach unless allowed.
fn internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || o[0] >= 240
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return internal(IpAddr::V4(v4));
            }
            let s = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
        }
    }
}

impl EgressPolicy {
    /// From the operator's list: `10.0.0.0/8`, `127.0.0.1`, `minio.internal`.
    pub fn parse(entries: &[String]) -> Result<Self, String> {
        let mut p = Self::default();
        for e in entries {
            let e = e.trim();
            if let Ok(net) = e.parse::<IpNet>() {
                p.nets.push(net);
            } else if let Ok(ip) = e.parse::<IpAddr>() {
                p.nets.push(IpNet::from(ip));
            } else if !e.is_empty()
                && e.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.'))
            {
                p.hosts.push(e.to_ascii_lowercase());
            } else {
                return Err(format!(
                    "egress_allow entry {e:?} is not an address, network or host name"
                ));
            }
        }
        Ok(p)
    }

    pub fn allows_ip(&self, ip: IpAddr) -> bool {
        !internal(ip) || self.nets.iter().any(|n| n.contains(&ip))
    }

    fn allows_host(&self, host: &str) -> bool {
        self.hosts.iter().any(|h| h.eq_ignore_ascii_case(host))
    }

    /// Checks an endpoint before it is stored or used: its host, and every address it
    /// resolves to. Answers the parsed URL, so a caller that goes on to use it (the
    /// webhook courier) does not parse the text again.
    pub async fn check_url(&self, field: &str, endpoint: &str) -> Result<url::Url, Invalid> {
        let refuse = |why: String| {
            Invalid::new(
                field,
                format!("{field} {why}; the operator can allow it with egress_allow"),
            )
        };
        let url = url::Url::parse(endpoint).map_err(|e| refuse(format!("is not a URL: {e}")))?;
        let port = url.port_or_known_default().unwrap_or(443);
        match url.host() {
            Some(url::Host::Ipv4(ip)) if !self.allows_ip(ip.into()) => {
                return Err(refuse(format!("points at an internal address ({ip})")));
            }
            Some(url::Host::Ipv6(ip)) if !self.allows_ip(ip.into()) => {
                return Err(refuse(format!("points at an internal address ({ip})")));
            }
            Some(url::Host::Domain(name)) if !self.allows_host(name) => {
                let addrs = tokio::time::timeout(
                    Duration::from_secs(5),
                    tokio::net::lookup_host((name, port)),
                )
                .await
                .map_err(|_| {
                    refuse(format!(
                        "names a host ({name}) that did not resolve in time"
                    ))
                })?
                .map_err(|e| refuse(format!("names a host ({name}) that does not resolve: {e}")))?;
                if let Some(ip) = addrs.map(|a| a.ip()).find(|ip| !self.allows_ip(*ip)) {
                    return Err(refuse(format!("resolves to an internal address ({ip})")));
                }
            }
            _ => {}
        }
        Ok(url)
    }

    /// A plain HTTP client that resolves through this policy and follows no redirect
    /// (webhook deliveries): a receiver cannot send it on to an internal address.
    pub fn http_client(&self, timeout: Duration) -> reqwest::Result<reqwest::Client> {
        reqwest::Client::builder()
            .dns_resolver(Arc::new(GuardedResolver(Arc::new(self.clone()))))
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .timeout(timeout)
            .build()
    }

    /// Whether the operator listed this host (or the address it names) in egress_allow,
    /// which is also what lets a development receiver use plain http.
    pub fn lists(&self, url: &url::Url) -> bool {
        match url.host() {
            Some(url::Host::Domain(name)) => self.allows_host(name),
            Some(url::Host::Ipv4(ip)) => self.nets.iter().any(|n| n.contains(&IpAddr::V4(ip))),
            Some(url::Host::Ipv6(ip)) => self.nets.iter().any(|n| n.contains(&IpAddr::V6(ip))),
            None => false,
        }
    }

    /// The HTTP client for storage clients: resolves through this policy, follows no
    /// redirect.
    pub fn connector(&self) -> GuardedConnector {
        GuardedConnector(Arc::new(self.clone()))
    }
}

/// Resolves names for the HTTP client, dropping addresses the policy refuses.
struct GuardedResolver(Arc<EgressPolicy>);

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.0.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = if policy.allows_host(&host) {
                addrs
            } else {
                addrs
                    .into_iter()
                    .filter(|a| policy.allows_ip(a.ip()))
                    .collect()
            };
            if allowed.is_empty() {
                return Err(
                    format!("{host} resolves only to addresses the egress policy refuses").into(),
                );
            }
            let addrs: reqwest::dns::Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

/// See [`EgressPolicy::connector`].
#[derive(Debug, Clone)]
pub struct GuardedConnector(Arc<EgressPolicy>);

impl HttpConnector for GuardedConnector {
    fn connect(&self, _options: &ClientOptions) -> object_store::Result<HttpClient> {
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(GuardedResolver(self.0.clone())))
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| object_store::Error::Generic {
                store: "egress",
                source: Box::new(e),
            })?;
        Ok(HttpClient::new(client))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_refused_unless_listed() {
        let p = EgressPolicy::default();
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!p.allows_ip(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["52.95.110.1", "8.8.8.8", "2a00:1450:4001::1"] {
            assert!(p.allows_ip(ip.parse().unwrap()), "{ip}");
        }
        let p = EgressPolicy::parse(&["127.0.0.1".into(), "10.0.0.0/8".into()]).unwrap();
        assert!(p.allows_ip("127.0.0.1".parse().unwrap()));
        assert!(p.allows_ip("10.9.9.9".parse().unwrap()));
        assert!(!p.allows_ip("192.168.0.1".parse().unwrap()));
        assert!(EgressPolicy::parse(&["not valid!".into()]).is_err());
    }

    #[tokio::test]
    async fn endpoints_are_checked_after_resolution() {
        let p = EgressPolicy::default();
        for e in [
            "http://127.0.0.1:9000",
            "http://[::1]:80",
            "http://localhost:9000",
            "http://169.254.169.254/latest",
        ] {
            assert!(p.check_url("endpoint", e).await.is_err(), "{e}");
        }
        let allowed = EgressPolicy::parse(&["localhost".into()]).unwrap();
        assert!(allowed
            .check_url("endpoint", "http://localhost:9000")
            .await
            .is_ok());
    }
}
