//! Everything that can go wrong reading an input, each with the fix.

use std::path::PathBuf;

/// Why one input could not be ingested. Every variant names the input (a path or a
/// URL) and [`IngestError::hint`] says how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{input}: malformed XML at byte {offset}: {reason}")]
    Xml {
        input: String,
        offset: u64,
        reason: String,
    },
    #[error("{input}: the file ends inside <{open}> (byte {offset}): it is truncated")]
    Truncated {
        input: String,
        open: String,
        offset: u64,
    },
    #[error("{input}: bytes at offset {offset} are not valid UTF-8")]
    NotUtf8 { input: String, offset: u64 },
    #[error("{input}: the XML declaration says encoding=\"{encoding}\"; only UTF-8 is read")]
    Encoding { input: String, encoding: String },
    #[error("{input}: the DOCTYPE declares entities; trellis refuses to expand them")]
    EntityDeclaration { input: String },
    #[error("{input}: root element <{root}> is not a JUnit <testsuites> or <testsuite>")]
    NotJunit { input: String, root: String },
    #[error("{input}: {}", if *.bytes == 0 {
        "the file is empty".to_string()
    } else {
        format!("no XML element in {} bytes: not a JUnit report (whitespace, NUL bytes or plain text)", .bytes)
    })]
    EmptyXml { input: String, bytes: u64 },
    #[error("{input}: {reason}")]
    Json { input: String, reason: String },
    #[error("{input}: {reason}")]
    Yaml { input: String, reason: String },
    #[error("{path} is {kind}, not a file")]
    NotAFile { path: PathBuf, kind: &'static str },
    #[error("{dir}: has finished.json but no started.json")]
    MissingStarted { dir: PathBuf },
    #[error("{archive}: entry `{entry}` would be written outside the extraction directory")]
    UnsafeArchivePath { archive: PathBuf, entry: String },
    #[error("{archive}: not a readable tar archive: {reason}")]
    Archive { archive: PathBuf, reason: String },
    #[error("{input}: no results found (no junit*.xml, e2e.log, started.json or Sonobuoy layout)")]
    NothingFound { input: String },
    #[error("{url}: {reason}")]
    Http { url: String, reason: String },
    #[error("{url}: the server answered {status}")]
    HttpStatus { url: String, status: u16 },
    #[error("{input}: --build {build} names one build, but this input holds {count}")]
    BuildOverrideAmbiguous {
        input: String,
        build: String,
        count: usize,
    },
}

impl IngestError {
    /// One line that tells the user how to fix it.
    pub fn hint(&self) -> &'static str {
        use IngestError::*;
        match self {
            Io { .. } => "check that the path exists and that you may read it",
            Xml { .. } => "the producer wrote invalid XML; regenerate the report or fix the named spot",
            Truncated { .. } => "the upload or the test run was cut short; fetch the file again or re-run",
            NotUtf8 { .. } => "re-encode the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)",
            Encoding { .. } => "re-encode the file as UTF-8 and fix the declaration",
            EntityDeclaration { .. } => "JUnit reports never need DTD entities; remove the DOCTYPE",
            NotJunit { .. } => "pass a JUnit XML report (junit*.xml), not another XML file",
            EmptyXml { .. } => "the test run probably crashed before writing its report; remove or replace the file",
            Json { .. } => "Prow writes these as JSON objects with a numeric `timestamp`; fix or remove the file",
            Yaml { .. } => "fix the YAML syntax of the named file",
            MissingStarted { .. } => "Prow writes started.json first; copy the whole build directory",
            NotAFile { .. } => "replace it with the JSON file Prow wrote (a copy, not a pipe or link to one)",
            UnsafeArchivePath { .. } => "the archive is hostile or broken; do not extract it anywhere",
            Archive { .. } => "pass a Sonobuoy results tarball (.tar.gz) as `sonobuoy retrieve` writes it",
            NothingFound { .. } => "point at a junit XML file, a Prow build directory, a conformance submission or a Sonobuoy tarball",
            Http { .. } => "check the URL and the network; --http-timeout raises the deadline",
            HttpStatus { .. } => "check the URL: 404 means the object does not exist",
            BuildOverrideAmbiguous { .. } => "drop --build, or pass one build directory at a time",
        }
    }
}
