//! How Alertmanager's YAML reads scalars, shared by the configuration's
//! types: Go's yaml.v2 decodes any scalar into a string field as written
//! (`match: {code: 500}` is the label value `"500"`), leaves a `null` list
//! or map empty, and Prometheus' `model.Duration`, URLs, `host:port`
//! addresses and label names each have their own checks and messages.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use steward_core::Secret;

/// A scalar read as Go's yaml.v2 reads it into a `string`: as written
/// (`1.10`, `0x1F` and `yes` stay that text, not a number or a boolean),
/// `null` as the empty string.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct GoString(pub(crate) String);

/// Takes a scalar's text; numbers and booleans from deserializers that
/// have no text (not YAML's) as their display.
struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = GoString;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<GoString, E> {
        Ok(GoString(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<GoString, E> {
        Ok(GoString(v))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<GoString, E> {
        Ok(GoString(v.to_string()))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<GoString, E> {
        Ok(GoString(v.to_string()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<GoString, E> {
        Ok(GoString(v.to_string()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<GoString, E> {
        Ok(GoString(v.to_string()))
    }

    fn visit_unit<E: de::Error>(self) -> Result<GoString, E> {
        Ok(GoString(String::new()))
    }

    fn visit_none<E: de::Error>(self) -> Result<GoString, E> {
        Ok(GoString(String::new()))
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<GoString, D::Error> {
        // serde_yaml_ng hands any plain scalar to `deserialize_str` as
        // written, which is what Go keeps.
        deserializer.deserialize_str(ScalarVisitor)
    }
}

impl<'de> Deserialize<'de> for GoString {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_option(ScalarVisitor)
    }
}

/// A field that Go leaves at its zero value when the YAML says `null`
/// (`routes:` with nothing after it): the type's default.
pub(crate) fn nullable<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// A block that checks itself once read, as the Go types whose
/// `UnmarshalYAML` validates (`HTTPClientConfig`, `TLSConfig`): its
/// error is the field's, so it carries the field's path and line.
pub(crate) trait Check {
    /// Checks (and normalises) the value; the message names the fields.
    fn check(&mut self) -> Result<(), String>;
}

/// A checked block; `null` is the type's default, checked too.
pub(crate) fn checked<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default + Check,
{
    let mut value: T = nullable(deserializer)?;
    value.check().map_err(de::Error::custom)?;
    Ok(value)
}

/// An optional checked block (`null` is unset).
pub(crate) fn opt_checked<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Check,
{
    let mut value: Option<T> = Option::deserialize(deserializer)?;
    if let Some(value) = &mut value {
        value.check().map_err(de::Error::custom)?;
    }
    Ok(value)
}

/// A string field that also takes numbers and booleans, as Go does.
pub(crate) fn string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    GoString::deserialize(deserializer).map(|s| s.0)
}

/// A list of strings whose items may be numbers, as Go reads them.
pub(crate) fn strings<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    let items: Option<Vec<GoString>> = Option::deserialize(deserializer)?;
    Ok(items.unwrap_or_default().into_iter().map(|s| s.0).collect())
}

/// A map of strings whose keys and values may be numbers, as Go reads them.
pub(crate) fn string_map<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<std::collections::BTreeMap<String, String>, D::Error> {
    let map: Option<std::collections::BTreeMap<GoString, GoString>> =
        Option::deserialize(deserializer)?;
    Ok(map
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k.0, v.0))
        .collect())
}

/// A secret string (a password, a key) that may be written as a number.
pub(crate) fn secret<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Secret<String>, D::Error> {
    GoString::deserialize(deserializer).map(|s| Secret::new(s.0))
}

/// Parses a Prometheus `model.Duration` (`30s`, `1h30m`, `0`), with its
/// error messages. steward-core's parser reads the same syntax.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    if text.is_empty() {
        return Err("empty duration string".to_owned());
    }
    steward_core::parse_duration(text).map_err(|_| format!("not a valid duration string: {text:?}"))
}

/// A duration field, in Prometheus' syntax.
pub(crate) fn duration<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let text = GoString::deserialize(deserializer)?;
    parse_duration(&text.0).map_err(de::Error::custom)
}

/// An optional duration field (`null` is unset).
pub(crate) fn opt_duration<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Duration>, D::Error> {
    match Option::<GoString>::deserialize(deserializer)? {
        None => Ok(None),
        Some(text) => parse_duration(&text.0).map(Some).map_err(de::Error::custom),
    }
}

/// Whether `name` is a valid label name (`model.LabelName.IsValid` before
/// UTF-8 names): `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn is_valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// An `http` or `https` URL, checked as Alertmanager's `config.URL` is.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpUrl(pub url::Url);

impl HttpUrl {
    /// Parses and checks a URL; the errors are Alertmanager's.
    pub fn parse(text: &str) -> Result<Self, String> {
        // Go's url.Parse takes the scheme as the text before the first
        // colon when it is a valid scheme, and lowercases it.
        let scheme = text
            .split_once(':')
            .map(|(scheme, _)| scheme)
            .filter(|scheme| {
                let mut chars = scheme.chars();
                chars.next().is_some_and(|c| c.is_ascii_alphabetic())
                    && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
            })
            .unwrap_or("")
            .to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(format!("unsupported scheme {scheme:?} for URL"));
        }
        match url::Url::parse(text) {
            Ok(url) if url.host_str().is_some_and(|h| !h.is_empty()) => Ok(HttpUrl(url)),
            Ok(_) | Err(url::ParseError::EmptyHost) => Err("missing host for URL".to_owned()),
            Err(err) => Err(format!("parse {text:?}: {err}")),
        }
    }

    /// The URL as text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl fmt::Debug for HttpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0.as_str())
    }
}

impl fmt::Display for HttpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

impl<'de> Deserialize<'de> for HttpUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = GoString::deserialize(deserializer)?;
        HttpUrl::parse(&text.0).map_err(de::Error::custom)
    }
}

impl Serialize for HttpUrl {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0.as_str())
    }
}

/// A URL that holds a secret (a Slack or Teams webhook): checked as
/// [`HttpUrl`], printed redacted. `<secret>`, what Alertmanager's API shows
/// for one, is accepted as a placeholder (empty) so that a configuration
/// read back from the API loads.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct SecretUrl(Secret<String>);

impl SecretUrl {
    /// The URL; empty for the `<secret>` placeholder.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(steward_core::REDACTED)
    }
}

impl<'de> Deserialize<'de> for SecretUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = GoString::deserialize(deserializer)?;
        if text.0 == "<secret>" {
            return Ok(SecretUrl::default());
        }
        HttpUrl::parse(&text.0)
            .map(|url| SecretUrl(Secret::new(url.0.into())))
            .map_err(de::Error::custom)
    }
}

/// A `host:port` address (the SMTP smarthost), split as Go's
/// `net.SplitHostPort` splits it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HostPort {
    /// The host name or address (without brackets for IPv6).
    pub host: String,
    /// The port.
    pub port: String,
}

impl HostPort {
    /// Splits `host:port` or `[v6]:port`; the errors are Go's.
    pub fn parse(text: &str) -> Result<Self, String> {
        let missing_port = || format!("address {text}: missing port in address");
        let too_many = || format!("address {text}: too many colons in address");
        let (host, port) = if let Some(rest) = text.strip_prefix('[') {
            let (host, after) = rest
                .split_once(']')
                .ok_or_else(|| format!("address {text}: missing ']' in address"))?;
            let port = after.strip_prefix(':').ok_or_else(missing_port)?;
            (host, port)
        } else {
            let (host, port) = text.rsplit_once(':').ok_or_else(missing_port)?;
            if host.contains(':') {
                return Err(too_many());
            }
            (host, port)
        };
        if port.is_empty() {
            return Err(format!("address {text:?}: port cannot be empty"));
        }
        Ok(HostPort {
            host: host.to_owned(),
            port: port.to_owned(),
        })
    }
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// An optional `host:port`: empty or `null` is unset, as in Go.
pub(crate) fn opt_host_port<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<HostPort>, D::Error> {
    match Option::<GoString>::deserialize(deserializer)? {
        None => Ok(None),
        Some(text) if text.0.is_empty() => Ok(None),
        Some(text) => HostPort::parse(&text.0)
            .map(Some)
            .map_err(de::Error::custom),
    }
}

/// The document with its YAML merge keys (`<<: *defaults`) applied, as
/// Go's yaml.v2 applies them, or `None` when it has none. Explicit keys
/// win over merged ones; mappings under the same key are merged key by
/// key; lists of matchers are appended, merged ones first, as
/// Alertmanager's matchers decoder appends to what the merge decoded.
/// The result is re-serialized, so its numbers lose their written form
/// (`1.10` becomes `1.1`), which only documents with merge keys pay.
pub(crate) fn expand_merge_keys(text: &str) -> Result<Option<String>, serde_yaml_ng::Error> {
    if !text.contains("<<") {
        return Ok(None);
    }
    let mut value: serde_yaml_ng::Value = serde_yaml_ng::from_str(text)?;
    if !merge(&mut value) {
        return Ok(None);
    }
    serde_yaml_ng::to_string(&value).map(Some)
}

/// Applies the merge keys under `value`; whether there were any.
fn merge(value: &mut serde_yaml_ng::Value) -> bool {
    use serde_yaml_ng::Value;
    match value {
        Value::Mapping(mapping) => {
            let mut found = false;
            if let Some(merged) = mapping.remove("<<") {
                found = true;
                // With a list of mappings, the first one wins.
                let sources = match merged {
                    Value::Sequence(list) => list,
                    other => vec![other],
                };
                let mut base = Value::Mapping(Default::default());
                for mut source in sources.into_iter().rev() {
                    merge(&mut source);
                    overlay(&mut base, source, "");
                }
                let explicit = std::mem::take(mapping);
                overlay(&mut base, Value::Mapping(explicit), "");
                if let Value::Mapping(merged) = base {
                    *mapping = merged;
                }
            }
            for child in mapping.values_mut() {
                found |= merge(child);
            }
            found
        }
        Value::Sequence(list) => list.iter_mut().fold(false, |found, v| merge(v) | found),
        Value::Tagged(tagged) => merge(&mut tagged.value),
        _ => false,
    }
}

/// Puts `top` over `base`: mappings key by key, matcher lists appended,
/// anything else replaced.
fn overlay(base: &mut serde_yaml_ng::Value, top: serde_yaml_ng::Value, key: &str) {
    use serde_yaml_ng::Value;
    match (base, top) {
        (Value::Mapping(base), Value::Mapping(top)) => {
            for (k, v) in top {
                let name = k.as_str().unwrap_or("").to_owned();
                match base.get_mut(&k) {
                    Some(existing) => overlay(existing, v, &name),
                    None => {
                        base.insert(k, v);
                    }
                }
            }
        }
        (Value::Sequence(base), Value::Sequence(top)) if key.ends_with("matchers") => {
            base.extend(top);
        }
        (base, top) => *base = top,
    }
}
