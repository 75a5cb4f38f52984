//! `SHAPLAB_AUTH` and the settings that go with it, read once from the environment.

use crate::config::ConfigError;
use std::net::IpAddr;

/// Who may use this server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// No sign-in: everyone who reaches the port is the one local admin. Loopback only.
    None,
    /// Local accounts (`shaplab user add`), a sign-in page and session cookies.
    Users,
    /// A reverse proxy (oauth2-proxy and the like) signs people in and names them in a header.
    Proxy,
}

impl AuthMode {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMode::None => "none",
            AuthMode::Users => "users",
            AuthMode::Proxy => "proxy",
        }
    }
}

/// An address or network (`10.0.0.0/8`, `::1`) trusted to send identity headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    addr: IpAddr,
    bits: u8,
}

impl Network {
    pub fn parse(text: &str) -> Option<Self> {
        let (addr, bits) = match text.split_once('/') {
            Some((a, b)) => (a.parse::<IpAddr>().ok()?, b.parse::<u8>().ok()?),
            None => {
                let addr = text.parse::<IpAddr>().ok()?;
                (addr, if addr.is_ipv4() { 32 } else { 128 })
            }
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        (bits <= max).then_some(Network { addr, bits })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        // An IPv4 peer on a dual-stack socket arrives as ::ffff:a.b.c.d.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(i)) => prefix_eq(&n.octets(), &i.octets(), self.bits),
            (IpAddr::V6(n), IpAddr::V6(i)) => prefix_eq(&n.octets(), &i.octets(), self.bits),
            _ => false,
        }
    }
}

fn prefix_eq(a: &[u8], b: &[u8], bits: u8) -> bool {
    let bits = usize::from(bits);
    let whole = bits / 8;
    if a[..whole] != b[..whole] {
        return false;
    }
    let rest = bits % 8;
    rest == 0 || (a[whole] ^ b[whole]) >> (8 - rest) == 0
}

/// The sign-in settings.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthConfig {
    pub mode: AuthMode,
    /// Proxy mode: the header naming the user (`SHAPLAB_PROXY_USER_HEADER`, default
    /// `X-Forwarded-User`), and the e-mail header used when it is absent.
    pub proxy_user_header: String,
    pub proxy_email_header: String,
    /// Proxy mode: who may send those headers (`SHAPLAB_TRUSTED_PROXIES`, default loopback).
    pub trusted_proxies: Vec<Network>,
    /// Users who are admins whatever their account says (`SHAPLAB_ADMINS`, comma-separated):
    /// how proxy mode gets an admin.
    pub admins: Vec<String>,
    /// API requests per minute per client (`SHAPLAB_RATE_LIMIT`, default 1200; 0: no limit).
    pub rate_per_minute: u32,
    /// Always mark cookies `Secure` (`SHAPLAB_SECURE_COOKIES=1`); otherwise only requests that
    /// arrived over https (`X-Forwarded-Proto: https`) get them.
    pub secure_cookies: bool,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            mode: AuthMode::None,
            proxy_user_header: "x-forwarded-user".into(),
            proxy_email_header: "x-forwarded-email".into(),
            trusted_proxies: ["127.0.0.1/8", "::1"]
                .iter()
                .filter_map(|n| Network::parse(n))
                .collect(),
            admins: Vec::new(),
            rate_per_minute: 1200,
            secure_cookies: false,
        }
    }
}

impl AuthConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|var| std::env::var(var).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut config = AuthConfig::default();
        let get = |var: &str| {
            lookup(var)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        if let Some(mode) = get("SHAPLAB_AUTH") {
            config.mode = match mode.to_ascii_lowercase().as_str() {
                "none" => AuthMode::None,
                "users" => AuthMode::Users,
                "proxy" => AuthMode::Proxy,
                _ => {
                    return Err(ConfigError {
                        var: "SHAPLAB_AUTH",
                        value: mode,
                        expected: "none, users or proxy",
                    });
                }
            };
        }
        if let Some(h) = get("SHAPLAB_PROXY_USER_HEADER") {
            config.proxy_user_header = h.to_ascii_lowercase();
        }
        if let Some(h) = get("SHAPLAB_PROXY_EMAIL_HEADER") {
            config.proxy_email_header = h.to_ascii_lowercase();
        }
        if let Some(list) = get("SHAPLAB_TRUSTED_PROXIES") {
            config.trusted_proxies = list
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Network::parse(s).ok_or(()))
                .collect::<Result<_, _>>()
                .map_err(|()| ConfigError {
                    var: "SHAPLAB_TRUSTED_PROXIES",
                    value: list.clone(),
                    expected: "comma-separated addresses or networks, e.g. 127.0.0.1,10.0.0.0/8",
                })?;
        }
        if let Some(list) = get("SHAPLAB_ADMINS") {
            config.admins = list
                .split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect();
        }
        if let Some(n) = get("SHAPLAB_RATE_LIMIT") {
            config.rate_per_minute = n.parse().map_err(|_| ConfigError {
                var: "SHAPLAB_RATE_LIMIT",
                value: n.clone(),
                expected: "API requests per minute per client, e.g. 1200 (0: no limit)",
            })?;
        }
        if let Some(v) = get("SHAPLAB_SECURE_COOKIES") {
            config.secure_cookies = matches!(v.as_str(), "1" | "true" | "yes");
        }
        Ok(config)
    }

    /// Refuses to serve everyone as admin on an address others can reach.
    pub fn check_bind(&self, host: IpAddr) -> Result<(), String> {
        if self.mode == AuthMode::None && !host.is_loopback() {
            return Err(format!(
                "refusing to serve {host} without sign-in: anyone who can reach it would see every \
                 job and could administer the queue. Set SHAPLAB_AUTH=users (local accounts: \
                 `shaplab user add NAME`) or SHAPLAB_AUTH=proxy (behind oauth2-proxy or similar, \
                 with SHAPLAB_TRUSTED_PROXIES), or serve on 127.0.0.1"
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(pairs: &[(&str, &str)]) -> Result<AuthConfig, ConfigError> {
        AuthConfig::from_lookup(|var| {
            pairs
                .iter()
                .find(|(k, _)| *k == var)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn none_is_the_default_and_is_refused_off_loopback() {
        let config = from(&[]).unwrap();
        assert_eq!(config.mode, AuthMode::None);
        assert!(config.check_bind("127.0.0.1".parse().unwrap()).is_ok());
        assert!(config.check_bind("::1".parse().unwrap()).is_ok());
        let refused = config.check_bind("0.0.0.0".parse().unwrap()).unwrap_err();
        assert!(refused.contains("SHAPLAB_AUTH=users"), "{refused}");
        let users = from(&[("SHAPLAB_AUTH", "users")]).unwrap();
        assert!(users.check_bind("0.0.0.0".parse().unwrap()).is_ok());
    }

    #[test]
    fn bad_values_name_the_variable() {
        assert_eq!(
            from(&[("SHAPLAB_AUTH", "ldap")]).unwrap_err().var,
            "SHAPLAB_AUTH"
        );
        assert_eq!(
            from(&[("SHAPLAB_TRUSTED_PROXIES", "10.0.0.0/99")])
                .unwrap_err()
                .var,
            "SHAPLAB_TRUSTED_PROXIES"
        );
        assert_eq!(
            from(&[("SHAPLAB_RATE_LIMIT", "lots")]).unwrap_err().var,
            "SHAPLAB_RATE_LIMIT"
        );
    }

    #[test]
    fn networks_match_by_prefix() {
        let net = Network::parse("10.1.0.0/16").unwrap();
        assert!(net.contains("10.1.200.3".parse().unwrap()));
        assert!(!net.contains("10.2.0.1".parse().unwrap()));
        assert!(net.contains("::ffff:10.1.0.9".parse().unwrap()));
        let one = Network::parse("192.168.1.7").unwrap();
        assert!(one.contains("192.168.1.7".parse().unwrap()));
        assert!(!one.contains("192.168.1.8".parse().unwrap()));
        assert!(
            Network::parse("fd00::/8")
                .unwrap()
                .contains("fd12::1".parse().unwrap())
        );
    }
}
