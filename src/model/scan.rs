//! Malware scanning as both sides see it: how the server is told to scan (`HOIST_SCAN`) and
//! where one file's scan stands.

use serde::{Deserialize, Serialize};

/// `HOIST_SCAN`: whether verified files are scanned, and what an unscanned file may do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum ScanMode {
    /// Nothing is scanned.
    #[default]
    Off,
    /// Every file is scanned; one the scanner could not scan (it was down, the file too
    /// large) is still shared and downloaded as usual.
    BestEffort,
    /// Every file is scanned, and only a clean one may be shared, downloaded by others or
    /// stored once with its twin.
    Required,
}

impl ScanMode {
    pub const fn scans(self) -> bool {
        !matches!(self, Self::Off)
    }
}

/// Where a file's scan stands. `Off`: the file arrived while scanning was off.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scan {
    #[default]
    Off,
    /// Queued or running.
    Pending,
    Clean,
    /// The scanner named a signature; the file's object is deleted.
    Infected,
    /// The scanner could not scan it (down, or the file is beyond its limits): the detail
    /// says why.
    Unscanned,
}

impl Scan {
    pub const ALL: [Self; 5] = [
        Self::Off,
        Self::Pending,
        Self::Clean,
        Self::Infected,
        Self::Unscanned,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Pending => "pending",
            Self::Clean => "clean",
            Self::Infected => "infected",
            Self::Unscanned => "unscanned",
        }
    }

    pub fn parse(word: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == word)
    }

    /// How a page says it (`detail`: the signature, or why it was not scanned); `None` when
    /// there is nothing to say (scanning off).
    pub fn label(self, detail: Option<&str>) -> Option<String> {
        let with = |word: &str| match detail {
            Some(d) if !d.is_empty() => format!("{word}: {d}"),
            _ => word.to_string(),
        };
        match self {
            Self::Off => None,
            Self::Pending => Some("scanning".into()),
            Self::Clean => Some("scanned clean".into()),
            Self::Infected => Some(with("infected")),
            Self::Unscanned => Some(with("not scanned")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip_and_labels_name_the_reason() {
        for s in Scan::ALL {
            assert_eq!(Scan::parse(s.as_str()), Some(s));
        }
        assert_eq!(
            Scan::Infected.label(Some("Eicar-Test")).as_deref(),
            Some("infected: Eicar-Test")
        );
        assert_eq!(Scan::Off.label(None), None);
    }
}
