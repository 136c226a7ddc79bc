//! Kubernetes minor versions (`v1.24`), as submission folders and lists name them.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Minor {
    pub major: u32,
    pub minor: u32,
}

impl Minor {
    pub const fn new(major: u32, minor: u32) -> Minor {
        Minor { major, minor }
    }

    /// Reads the major.minor of `v1.24`, `1.24`, `v1.24.0-gke.1000`, `v1.31.6+k3s1`.
    pub fn parse(text: &str) -> Option<Minor> {
        let t = text.trim();
        let t = t.strip_prefix('v').unwrap_or(t);
        let mut parts = t.split('.');
        let major = parts.next()?.parse().ok()?;
        let minor_text: String = parts
            .next()?
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        Some(Minor::new(major, minor_text.parse().ok()?))
    }

    /// Exactly `vX.Y` (a submission folder name).
    pub fn parse_folder(text: &str) -> Option<Minor> {
        let rest = text.strip_prefix('v')?;
        let (a, b) = rest.split_once('.')?;
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
        if !(digits(a) && digits(b)) {
            return None;
        }
        Some(Minor::new(a.parse().ok()?, b.parse().ok()?))
    }

    /// `n` minors earlier (never below x.0).
    pub fn minus(self, n: u32) -> Minor {
        Minor::new(self.major, self.minor.saturating_sub(n))
    }
}

impl fmt::Display for Minor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}.{}", self.major, self.minor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_in_the_wild() {
        assert_eq!(Minor::parse("v1.24.0-gke.1000"), Some(Minor::new(1, 24)));
        assert_eq!(Minor::parse("v1.31.6+k3s1"), Some(Minor::new(1, 31)));
        assert_eq!(Minor::parse("1.9"), Some(Minor::new(1, 9)));
        assert_eq!(Minor::parse("v1"), None);
        assert_eq!(Minor::parse_folder("v1.28"), Some(Minor::new(1, 28)));
        assert_eq!(Minor::parse_folder("v1.28.0"), None);
        assert_eq!(Minor::parse_folder("1.28"), None);
        assert!(Minor::new(1, 9) < Minor::new(1, 24));
        assert_eq!(Minor::new(1, 36).minus(2).to_string(), "v1.34");
    }
}
