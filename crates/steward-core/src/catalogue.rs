//! Event-kind catalogues: each domain declares the kinds of journal events
//! it writes once, with [`event_catalogue!`], and emitters and consumers
//! (the API, the CLI, later the incident timeline) use the same values, so
//! a renamed kind is a compile error instead of a silent mismatch.

/// Declares a catalogue of event kinds: a `Copy` enum with one variant per
/// kind, `PREFIX` (the first segment every kind shares, which steward
/// reserves), `ALL`, `as_str`, `kind` (the [`crate::EventKind`]), `parse`
/// and `Display`.
///
/// ```
/// steward_core::event_catalogue! {
///     /// What the example does.
///     pub enum ExampleEvent in "example" {
///         /// It started.
///         Started => "example.started",
///     }
/// }
/// assert_eq!(ExampleEvent::parse("example.started"), Some(ExampleEvent::Started));
/// assert_eq!(ExampleEvent::Started.kind().as_str(), "example.started");
/// ```
#[macro_export]
macro_rules! event_catalogue {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident in $prefix:literal {
            $( $(#[$variant_meta:meta])* $variant:ident => $kind:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name {
            $( $(#[$variant_meta])* $variant, )+
        }

        impl $name {
            /// The first segment of every kind of this catalogue.
            $vis const PREFIX: &'static str = $prefix;

            /// Every kind of this catalogue.
            $vis const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The kind as journaled.
            $vis const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $kind,)+
                }
            }

            /// The kind as an [`EventKind`]($crate::EventKind).
            $vis fn kind(self) -> $crate::EventKind {
                $crate::EventKind::new(self.as_str()).expect("catalogued event kinds are valid")
            }

            /// The catalogued kind named `kind`, if it is one.
            $vis fn parse(kind: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|event| event.as_str() == kind)
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// Checks a catalogue: every kind is a valid [`crate::EventKind`], starts
/// with `prefix` and a dot, and appears once. For each catalogue's tests.
pub fn check_catalogue(prefix: &str, kinds: &[&str]) -> Result<(), String> {
    let mut seen = std::collections::HashSet::new();
    for kind in kinds {
        crate::EventKind::new(*kind).map_err(|err| err.to_string())?;
        if !kind.starts_with(&format!("{prefix}.")) {
            return Err(format!("{kind} is outside the `{prefix}` prefix"));
        }
        if !seen.insert(*kind) {
            return Err(format!("{kind} is listed twice"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
