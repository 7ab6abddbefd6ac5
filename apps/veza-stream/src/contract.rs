//! The environment every Veza slot is started with (the same rules as
//! libs/component-runtime/src/runtime.ts). Values are checked because a slot
//! that starts with a malformed release or colour would report it on its
//! status path and mislead the deploy's verification.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub host: String,
    pub port: u16,
    pub release: Option<String>,
    pub color: Option<String>,
    pub env: Option<String>,
}

fn is_hex_lower(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn valid_release(v: &str) -> bool {
    (v.len() == 40 && is_hex_lower(v)) || v.strip_prefix("local-").is_some_and(|h| h.len() == 12 && is_hex_lower(h))
}

fn valid_env(v: &str) -> bool {
    let b = v.as_bytes();
    (1..=31).contains(&b.len()) && b[0].is_ascii_lowercase() && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

fn valid_host(v: &str) -> bool {
    (1..=253).contains(&v.len()) && v.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'.' || c == b':' || c == b'-')
}

/// JSON-style quoting, as the Node components print a refused value.
fn quoted(v: &str) -> String {
    let mut out = String::from("\"");
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn optional(getenv: &dyn Fn(&str) -> Option<String>, name: &str, ok: fn(&str) -> bool, hint: &str) -> Result<Option<String>, String> {
    match getenv(name).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) if ok(&v) => Ok(Some(v)),
        Some(v) => Err(format!("{name}={} is invalid — {hint}", quoted(&v))),
    }
}

/// The slot's configuration, or the one line to print before exiting 2.
pub fn read(getenv: &dyn Fn(&str) -> Option<String>, default_port: u16) -> Result<Config, String> {
    let port = match getenv("PORT").filter(|p| !p.is_empty()) {
        None => default_port,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) => n,
            _ => return Err(format!("PORT={} is invalid — use a TCP port number 0-65535", quoted(&p))),
        },
    };
    Ok(Config {
        host: optional(getenv, "HOST", valid_host, "use an IP address or host name")?.unwrap_or_else(|| "127.0.0.1".into()),
        port,
        release: optional(getenv, "VEZA_RELEASE_SHA", valid_release, "use a 40-hex git SHA or local-<12 hex>")?,
        color: optional(getenv, "VEZA_COLOR", |v| v == "blue" || v == "green", "use blue or green")?,
        env: optional(getenv, "VEZA_ENV", valid_env, "use a lower-case environment name such as staging")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn accepts_the_deploy_contract_and_defaults() {
        let sha = "a".repeat(40);
        let cfg = read(
            &env(&[
                ("HOST", "127.77.0.11"),
                ("PORT", "8082"),
                ("VEZA_RELEASE_SHA", &sha),
                ("VEZA_COLOR", "blue"),
                ("VEZA_ENV", "prod"),
            ]),
            1,
        )
        .unwrap();
        assert_eq!(
            cfg,
            Config {
                host: "127.77.0.11".into(),
                port: 8082,
                release: Some(sha),
                color: Some("blue".into()),
                env: Some("prod".into())
            }
        );
        let local = read(&env(&[("VEZA_RELEASE_SHA", "local-0123456789ab")]), 8082).unwrap();
        assert_eq!(
            (local.host.as_str(), local.port, local.release.as_deref(), local.color),
            ("127.0.0.1", 8082, Some("local-0123456789ab"), None)
        );
    }

    #[test]
    fn refuses_malformed_values_with_one_line_naming_the_variable() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "VEZA_RELEASE_SHA",
                "HEAD",
                "VEZA_RELEASE_SHA=\"HEAD\" is invalid — use a 40-hex git SHA or local-<12 hex>",
            ),
            (
                "VEZA_RELEASE_SHA",
                &"A".repeat(40),
                "VEZA_RELEASE_SHA=\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\" is invalid — use a 40-hex git SHA or local-<12 hex>",
            ),
            ("VEZA_COLOR", "purple", "VEZA_COLOR=\"purple\" is invalid — use blue or green"),
            (
                "VEZA_ENV",
                "Prod",
                "VEZA_ENV=\"Prod\" is invalid — use a lower-case environment name such as staging",
            ),
            ("PORT", "70000", "PORT=\"70000\" is invalid — use a TCP port number 0-65535"),
            ("HOST", "a b", "HOST=\"a b\" is invalid — use an IP address or host name"),
        ];
        for (name, value, want) in cases {
            assert_eq!(read(&env(&[(name, value)]), 1).unwrap_err(), *want);
        }
    }
}
