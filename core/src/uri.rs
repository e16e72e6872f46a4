//! Provider URIs, read one way by every provider: `scheme://target?key=value&key=value`.

use std::collections::BTreeMap;

use crate::{Error, Result};

/// A provider URI taken apart: what follows `scheme://` up to `?`, and its options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderUri {
    pub target: String,
    pub options: BTreeMap<String, String>,
}

impl ProviderUri {
    /// Reads `uri`; an option not in `known` (or given twice, or without a value) is refused
    /// with a message that names the ones this provider takes.
    pub fn parse(uri: &str, provider: &str, known: &[&str]) -> Result<Self> {
        let rest = uri.split_once("://").map_or(uri, |(_, r)| r);
        let (target, query) = rest.split_once('?').unwrap_or((rest, ""));
        let mut options = BTreeMap::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let refuse = |why: &str| {
                Error::invalid_input(format!(
                    "{why} `{pair}` in a {provider} URI: it takes {}",
                    known
                        .iter()
                        .map(|k| format!("{k}="))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            };
            let Some((key, value)) = pair.split_once('=').filter(|(_, v)| !v.is_empty()) else {
                return Err(refuse("no value in"));
            };
            if !known.contains(&key) {
                return Err(refuse("unknown option"));
            }
            if options.insert(key.to_string(), value.to_string()).is_some() {
                return Err(refuse("a second"));
            }
        }
        Ok(Self {
            target: target.to_string(),
            options,
        })
    }

    pub fn option(&self, key: &str) -> Option<&str> {
        self.options.get(key).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn options_are_known_once_and_valued() {
        let u = ProviderUri::parse(
            "aws://us-east-1?endpoint=http://h:5000",
            "AWS",
            &["endpoint"],
        )
        .unwrap();
        assert_eq!(u.target, "us-east-1");
        assert_eq!(u.option("endpoint"), Some("http://h:5000"));
        for bad in [
            "aws://x?nope=1",
            "aws://x?endpoint",
            "aws://x?endpoint=a&endpoint=b",
        ] {
            let e = ProviderUri::parse(bad, "AWS", &["endpoint"]).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput);
            assert!(e.message().contains("endpoint="), "{}", e.message());
        }
        assert_eq!(
            ProviderUri::parse("docker://", "Docker", &[])
                .unwrap()
                .target,
            ""
        );
    }
}
