//! Where the console may send a team's records (SECURITY I4): a push
//! destination is https outside loopback, and never a private, loopback,
//! link-local or metadata address unless the operator allows private
//! destinations (`PATCHBAY_PUSH_ALLOW_PRIVATE=on`). The name is resolved
//! and every address checked at each delivery, and the request goes to the
//! address that was checked, so a name that later resolves elsewhere (DNS
//! rebinding) gains nothing; redirects are never followed.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Why a destination is refused, in words for the admin.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// A URL that passed the checks that need no lookup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checked {
    pub url: url::Url,
    pub host: String,
    pub port: u16,
}

/// Checks a destination's form: an absolute http(s) URL without
/// credentials, https unless the host is loopback, and, for an address
/// written out, an allowed address.
pub fn check_url(raw: &str, allow_private: bool) -> Result<Checked, Refused> {
    let url = url::Url::parse(raw.trim())
        .map_err(|_| Refused("Enter an absolute URL, such as https://kb.example.com/patchbay.".into()))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Refused("The URL must not carry a user name or password; the batches are signed instead.".into()));
    }
    let host = url.host_str().ok_or_else(|| Refused("The URL needs a host.".into()))?.to_owned();
    let bare = host.trim_start_matches('[').trim_end_matches(']').to_owned();
    let loopback = bare.eq_ignore_ascii_case("localhost") || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => return Err(Refused("Use https: only a loopback destination may be plain http.".into())),
        other => return Err(Refused(format!("{other}: is not a web address; use https."))),
    }
    if let Ok(ip) = bare.parse::<IpAddr>() {
        allowed(ip, allow_private)?;
    } else if loopback && !allow_private {
        return Err(private_refusal(&bare));
    }
    let port = url.port_or_known_default().ok_or_else(|| Refused("The URL needs a port.".into()))?;
    Ok(Checked { url, host: bare, port })
}

fn private_refusal(what: &str) -> Refused {
    Refused(format!(
        "{what} is a private, loopback, link-local or metadata address, where the console sends nothing unless the \
         operator sets PATCHBAY_PUSH_ALLOW_PRIVATE=on."
    ))
}

/// Whether the console may connect to `ip`.
pub fn allowed(ip: IpAddr, allow_private: bool) -> Result<(), Refused> {
    if ip.is_unspecified() || ip.is_multicast() || matches!(ip, IpAddr::V4(v4) if v4.is_broadcast()) {
        return Err(Refused(format!("{ip} cannot be a destination.")));
    }
    if !allow_private && is_private(ip) {
        return Err(private_refusal(&ip.to_string()));
    }
    Ok(())
}

/// Loopback, private (RFC 1918, unique local), shared (CGNAT),
/// link-local (and the cloud metadata service in it), or an IPv4 address
/// in IPv6 clothing that is one of these.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => private_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return private_v4(v4);
            }
            private_v6(v6)
        }
    }
}

fn private_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && ip.octets()[2] == 0)
        || (a == 198 && (b == 18 || b == 19))
}

fn private_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    ip.is_loopback()
        || (first & 0xfe00) == 0xfc00 // unique local
        || (first & 0xffc0) == 0xfe80 // link-local
        || (first == 0x0064 && ip.segments()[1] == 0xff9b) // NAT64 of any IPv4 address
}

/// Resolves the checked destination and checks every address it has: the
/// address to connect to, or why not.
pub async fn resolve(checked: &Checked, allow_private: bool) -> Result<SocketAddr, Refused> {
    let addresses: Vec<SocketAddr> = tokio::net::lookup_host((checked.host.as_str(), checked.port))
        .await
        .map_err(|_| Refused(format!("{} does not resolve.", checked.host)))?
        .collect();
    let first = *addresses.first().ok_or_else(|| Refused(format!("{} does not resolve.", checked.host)))?;
    // Every address, not the first: a name with one public and one private
    // address must not be a way in.
    for address in &addresses {
        allowed(address.ip(), allow_private)?;
    }
    Ok(first)
}

/// A client for one delivery: to the checked address only, no redirect
/// followed, no proxy, a bounded time.
pub fn client(
    checked: &Checked,
    address: SocketAddr,
    timeout: std::time::Duration,
) -> Result<reqwest::Client, Refused> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .resolve(&checked.host, address)
        .timeout(timeout)
        .connect_timeout(timeout)
        .user_agent(concat!("patchbay/", env!("CARGO_PKG_VERSION"), " (push)"))
        .build()
        .map_err(|_| Refused("the HTTP client could not start".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn i4_private_link_local_and_metadata_addresses_are_refused_unless_allowed() {
        for url in [
            "https://10.0.0.5/hook",
            "https://172.16.3.4/hook",
            "https://192.168.1.1/hook",
            "https://169.254.169.254/latest/meta-data",
            "https://100.64.0.1/hook",
            "https://0.1.2.3/hook",
            "https://[fd00::1]/hook",
            "https://[fe80::1]/hook",
            "https://[::ffff:10.0.0.1]/hook",
            "https://[64:ff9b::a00:1]/hook",
            "http://127.0.0.1:9000/hook",
            "http://localhost:9000/hook",
            "http://[::1]:9000/hook",
        ] {
            let refused = check_url(url, false).unwrap_err();
            assert!(refused.0.contains("PATCHBAY_PUSH_ALLOW_PRIVATE"), "{url}: {refused}");
        }
        for url in ["https://10.0.0.5/hook", "http://127.0.0.1:9000/hook", "https://[fd00::1]/hook"] {
            assert!(check_url(url, true).is_ok(), "{url} with private allowed");
        }
        assert!(check_url("https://kb.example.com/hook", false).is_ok());
        assert!(check_url("https://8.8.8.8/hook", false).is_ok());
    }

    #[test]
    fn i4_https_is_required_outside_loopback_and_urls_carry_no_credentials() {
        for (url, words) in [
            ("http://kb.example.com/hook", "Use https"),
            ("http://10.0.0.5/hook", "Use https"),
            ("ftp://kb.example.com/hook", "not a web address"),
            ("https://user:pw@kb.example.com/hook", "user name or password"),
            ("kb.example.com/hook", "absolute URL"),
        ] {
            let refused = check_url(url, true).unwrap_err();
            assert!(refused.0.contains(words), "{url}: {refused}");
        }
        assert!(allowed("224.0.0.1".parse().unwrap(), true).is_err(), "multicast, even when private is allowed");
        assert!(check_url("https://0.0.0.0/hook", true).is_err(), "unspecified, even when private is allowed");
    }

    #[tokio::test]
    async fn i4_a_name_is_checked_by_every_address_it_resolves_to() {
        let checked = check_url("https://localhost:9/hook", true).unwrap();
        assert!(resolve(&checked, false).await.is_err(), "localhost resolves to loopback");
        assert!(resolve(&checked, true).await.unwrap().ip().is_loopback());
    }
}
