//! `trellis verify-submission`: the CNCF k8s-conformance review bot's checks on a
//! `vX.Y/<product>/` folder, plus two it lost (e2e.log versions and counts).
//!
//! Verification never stops at the first problem: every check runs (those that need
//! something missing say so) so one pass tells a vendor everything a reviewer would.

use super::required::{self, normalize, RequiredTests};
use super::{Check, Minor, Report};
use crate::ingest::e2e_log::{self, E2eSummary};
use crate::ingest::junit::{self, JunitReport};
use crate::model::{CellStatus, CountBucket};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The files a submission consists of, exactly.
pub const SUBMISSION_FILES: [&str; 4] = ["README.md", "PRODUCT.yaml", "e2e.log", "junit_01.xml"];

/// PRODUCT.yaml fields that must be present and non-null.
pub const PRODUCT_FIELDS: [&str; 8] = [
    "vendor",
    "name",
    "version",
    "type",
    "description",
    "website_url",
    "documentation_url",
    "contact_email_address",
];

/// `contact_email_address` joined the submission template during the v1.26 cycle;
/// earlier submissions (v1.24/gke, v1.25/kind among the real ones) were accepted
/// without it.
pub const EMAIL_REQUIRED_FROM: Minor = Minor::new(1, 26);

/// How many minors below the stable one are still accepted.
pub const SUPPORTED_MINORS_BEHIND: u32 = 2;

const URL_FIELDS: [&str; 4] = [
    "website_url",
    "documentation_url",
    "product_logo_url",
    "repo_url",
];
const KNOWN_TYPES: [&str; 3] = ["distribution", "hosted platform", "installer"];

#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// The newest released minor at review time.
    pub stable: Minor,
    /// A conformance.yaml to use instead of the built-in list.
    pub conformance_yaml: Option<PathBuf>,
    /// Judge the submission as it was reviewed: its own version the stable one.
    pub as_reviewed: bool,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            stable: required::newest_embedded(),
            conformance_yaml: None,
            as_reviewed: false,
        }
    }
}

/// Runs every check on the submission folder `dir`.
pub fn verify(dir: &Path, opts: &VerifyOptions) -> Report {
    let mut checks = Vec::new();
    let Some((version, product)) = check_layout(dir, &mut checks) else {
        return Report::new(None, None, checks);
    };
    check_files(dir, &mut checks);
    let refused = check_regular(dir, &mut checks);
    // A missing file is read (and reported) as before; a refused one is not read.
    let ok = |name: &str| !refused.contains(&name);
    if ok("PRODUCT.yaml") {
        check_product(dir, version, &mut checks);
    }
    if let Some(v) = version {
        let stable = if opts.as_reviewed { v } else { opts.stable };
        checks.push(check_supported(v, stable));
    }
    let junit = if ok("junit_01.xml") {
        read_junit(dir, &mut checks)
    } else {
        None
    };
    let list = version.map(|v| required::load(v, opts.conformance_yaml.as_deref()));
    check_tests(list, junit.as_ref(), &mut checks);
    let log = ok("e2e.log")
        .then(|| e2e_log::parse_file(&dir.join("e2e.log")).ok())
        .flatten();
    check_log(version, junit.as_ref(), log.as_ref(), &mut checks);
    Report::new(version.map(|v| v.to_string()), Some(product), checks)
}

/// How big each submission file may be before trellis refuses to read it.
const MAX_FILE_BYTES: [(&str, u64); 4] = [
    ("README.md", 1 << 20),
    ("PRODUCT.yaml", 1 << 20),
    ("junit_01.xml", 1 << 30),
    ("e2e.log", 1 << 30),
];

/// Submission files are read only when they are regular files inside the folder (no
/// symlink that could lead out of it, no FIFO that never ends, no device like
/// /dev/zero) within a size limit. Returns the ones refused, named in a failed check;
/// a missing file is left to `files.required`.
fn check_regular(dir: &Path, checks: &mut Vec<Check>) -> Vec<&'static str> {
    let mut refused = Vec::new();
    let mut bad = Vec::new();
    for (name, max) in MAX_FILE_BYTES {
        let why = match std::fs::symlink_metadata(dir.join(name)) {
            Err(_) => continue,
            Ok(m) if m.file_type().is_symlink() => format!("{name} is a symbolic link"),
            Ok(m) if !m.is_file() => format!("{name} is not a regular file"),
            Ok(m) if m.len() > max => format!(
                "{name} is {} MB, over the {} MB limit",
                m.len() >> 20,
                max >> 20
            ),
            Ok(_) => continue,
        };
        bad.push(why);
        refused.push(name);
    }
    checks.push(if bad.is_empty() {
        Check::pass(
            "files.regular",
            "every file is a regular file of a readable size",
        )
    } else {
        Check::fail(
            "files.regular",
            format!("{} file(s) not read", bad.len()),
            "commit the files themselves (no links, pipes or devices), each within its size limit",
        )
        .with_details(bad)
    });
    refused
}

fn check_layout(dir: &Path, checks: &mut Vec<Check>) -> Option<(Option<Minor>, String)> {
    let Ok(full) = dir.canonicalize().map_err(|e| {
        checks.push(Check::fail(
            "layout.folder",
            format!("{}: cannot open: {e}", dir.display()),
            "pass the submission folder, vX.Y/<product>/",
        ))
    }) else {
        return None;
    };
    let name = |p: Option<&Path>| {
        p.and_then(Path::file_name)
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let product = name(Some(&full));
    let parent = name(full.parent());
    let version = Minor::parse_folder(&parent);
    checks.push(match version {
        Some(v) if !product.is_empty() => Check::pass("layout.folder", format!("folder is {v}/{product}")),
        _ => Check::fail(
            "layout.folder",
            format!("folder is `{parent}/{product}`, not vX.Y/<product>"),
            "put the files in a folder named after the product, inside one named for the Kubernetes minor, e.g. v1.30/mydistro",
        ),
    });
    Some((version, product))
}

fn check_files(dir: &Path, checks: &mut Vec<Check>) {
    let mut present: Vec<(String, u64, bool)> = std::fs::read_dir(dir)
        .map(|it| {
            it.filter_map(Result::ok)
                .map(|e| {
                    let meta = e.metadata().ok();
                    let is_dir = meta.as_ref().is_some_and(|m| m.is_dir());
                    (
                        e.file_name().to_string_lossy().into_owned(),
                        meta.map_or(0, |m| m.len()),
                        is_dir,
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    present.sort();
    let mut missing = Vec::new();
    for want in SUBMISSION_FILES {
        if present.iter().any(|(n, _, d)| n == want && !d) {
            continue;
        }
        match present
            .iter()
            .find(|(n, _, _)| n.eq_ignore_ascii_case(want))
        {
            Some((found, _, true)) if found == want => missing.push(format!(
                "{want} (found a directory of that name, not a file)"
            )),
            Some((found, _, _)) => missing.push(format!(
                "{want} (found `{found}`: names are case-sensitive)"
            )),
            None => missing.push(want.to_string()),
        }
    }
    checks.push(if missing.is_empty() {
        Check::pass(
            "files.required",
            "README.md, PRODUCT.yaml, e2e.log and junit_01.xml are present",
        )
    } else {
        Check::fail(
            "files.required",
            format!("{} required file(s) missing", missing.len()),
            "a submission is exactly README.md, PRODUCT.yaml, e2e.log and junit_01.xml, spelled so",
        )
        .with_details(missing)
    });
    let extra: Vec<String> = present
        .iter()
        .filter(|(n, _, d)| *d || !SUBMISSION_FILES.contains(&n.as_str()))
        .map(|(n, _, d)| if *d { format!("{n}/") } else { n.clone() })
        .collect();
    checks.push(if extra.is_empty() {
        Check::pass("files.only", "no other files")
    } else {
        Check::fail(
            "files.only",
            format!("{} file(s) beyond the four allowed", extra.len()),
            "remove everything but README.md, PRODUCT.yaml, e2e.log and junit_01.xml",
        )
        .with_details(extra)
    });
    let empty: Vec<String> = present
        .iter()
        .filter(|(n, len, d)| !d && *len == 0 && SUBMISSION_FILES.contains(&n.as_str()))
        .map(|(n, _, _)| n.clone())
        .collect();
    checks.push(if empty.is_empty() {
        Check::pass("files.nonempty", "no file is empty")
    } else {
        Check::fail(
            "files.nonempty",
            format!("{} empty file(s)", empty.len()),
            "fill in or regenerate the empty files",
        )
        .with_details(empty)
    });
}

fn check_product(dir: &Path, version: Option<Minor>, checks: &mut Vec<Check>) {
    let map = match crate::ingest::product::read(&dir.join("PRODUCT.yaml")) {
        Ok(map) => map,
        Err(e) => {
            checks.push(Check::fail(
                "product.fields",
                e,
                "write a PRODUCT.yaml of `field: value` lines with the required fields",
            ));
            return;
        }
    };
    let text = |key: &str| -> Option<String> {
        match map.get(key)? {
            serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            serde_json::Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    };
    let email_required = version.is_none_or(|v| v >= EMAIL_REQUIRED_FROM);
    let missing: Vec<String> = PRODUCT_FIELDS
        .iter()
        .filter(|f| text(f).is_none())
        .filter(|f| **f != "contact_email_address" || email_required)
        .map(|f| f.to_string())
        .collect();
    checks.push(if missing.is_empty() {
        let note = if email_required {
            ""
        } else {
            " (contact_email_address is required from v1.26 on)"
        };
        Check::pass(
            "product.fields",
            format!("all required fields are set{note}"),
        )
    } else {
        Check::fail(
            "product.fields",
            format!("missing or null field(s): {}", missing.join(", ")),
            format!("PRODUCT.yaml needs non-empty {}", PRODUCT_FIELDS.join(", ")),
        )
        .with_details(missing)
    });
    let bad_urls: Vec<String> = URL_FIELDS
        .iter()
        .filter_map(|f| text(f).map(|v| (f, v)))
        .filter(|(_, v)| !is_absolute_url(v))
        .map(|(f, v)| format!("{f}: `{v}`"))
        .collect();
    checks.push(if bad_urls.is_empty() {
        Check::pass("product.urls", "URLs are absolute http(s) URLs")
    } else {
        Check::fail(
            "product.urls",
            format!("{} URL(s) do not parse", bad_urls.len()),
            "write full URLs, e.g. https://example.com/docs",
        )
        .with_details(bad_urls)
    });
    if let Some(email) = text("contact_email_address") {
        checks.push(if is_email(&email) {
            Check::pass("product.email", format!("contact address `{email}`"))
        } else {
            Check::fail(
                "product.email",
                format!("`{email}` is not an email address"),
                "write one address, e.g. conformance@example.com",
            )
        });
    }
    if let Some(kind) = text("type") {
        checks.push(
            if KNOWN_TYPES.contains(&kind.to_ascii_lowercase().as_str()) {
                Check::pass("product.type", format!("type `{kind}`"))
            } else {
                Check::warn(
                    "product.type",
                    format!("type `{kind}` is not one of distribution, hosted platform, installer"),
                    "reviewers accept other words, but the listed ones file the product correctly",
                )
            },
        );
    }
}

fn is_absolute_url(text: &str) -> bool {
    reqwest::Url::parse(text)
        .map(|u| {
            matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty())
        })
        .unwrap_or(false)
}

/// An address as RFC 5322 allows in practice: `a@b.c`, or `Name <a@b.c>`.
fn is_email(text: &str) -> bool {
    let addr = match (text.find('<'), text.strip_suffix('>')) {
        (Some(open), Some(inner)) => &inner[open + 1..],
        _ => text,
    };
    let Some((local, domain)) = addr.split_once('@') else {
        return false;
    };
    let clean = |s: &str| {
        !s.is_empty()
            && !s
                .chars()
                .any(|c| c.is_whitespace() || c == '@' || c == '<' || c == '>')
    };
    clean(local)
        && clean(domain)
        && domain.contains('.')
        && domain.split('.').all(|l| !l.is_empty())
}

fn check_supported(version: Minor, stable: Minor) -> Check {
    let oldest = stable.minus(SUPPORTED_MINORS_BEHIND);
    if version > stable {
        Check::fail(
            "version.supported",
            format!("{version} is newer than the stable release {stable}"),
            "pass --stable with the current release if it is newer",
        )
    } else if version < oldest {
        Check::fail(
            "version.supported",
            format!("{version} is older than {oldest}, the oldest accepted with stable {stable}"),
            "certify on a supported minor (stable or the two before it); for a submission reviewed in the past, pass --as-reviewed (or --as-of vX.Y)",
        )
    } else {
        Check::pass(
            "version.supported",
            format!("{version} is supported (stable {stable}, oldest {oldest})"),
        )
    }
}

fn read_junit(dir: &Path, checks: &mut Vec<Check>) -> Option<JunitReport> {
    let path = dir.join("junit_01.xml");
    if !path.is_file() {
        checks.push(Check::fail(
            "junit.readable",
            "no junit_01.xml",
            "add the junit_01.xml the conformance run wrote",
        ));
        return None;
    }
    match junit::parse_file(&path) {
        Ok(r) => {
            checks.push(Check::pass(
                "junit.readable",
                format!("junit_01.xml: {} testcases", r.tally.testcases),
            ));
            Some(r)
        }
        Err(e) => {
            checks.push(Check::fail("junit.readable", e.to_string(), e.hint()));
            None
        }
    }
}

/// Conformance testcases that ran (skipped ones are not evidence), by outcome.
struct Conformance {
    passed: BTreeSet<String>,
    failed: BTreeSet<String>,
}

fn conformance_cases(junit: &JunitReport) -> Conformance {
    let mut c = Conformance {
        passed: BTreeSet::new(),
        failed: BTreeSet::new(),
    };
    for case in &junit.cases {
        if case.result.status == CellStatus::PassWithSkips || !case.name().contains("[Conformance]")
        {
            continue;
        }
        let name = normalize(case.name());
        match case.result.status.bucket() {
            CountBucket::Fail => c.failed.insert(name),
            _ => c.passed.insert(name),
        };
    }
    c
}

fn check_tests(
    list: Option<Result<RequiredTests, String>>,
    junit: Option<&JunitReport>,
    checks: &mut Vec<Check>,
) {
    let list = match list {
        None => {
            checks.push(Check::fail(
                "tests.required",
                "no version: the required tests are unknown",
                "fix the folder layout first",
            ));
            None
        }
        Some(Err(e)) => {
            checks.push(Check::fail(
                "tests.required",
                e,
                "pass --conformance-yaml with the list for this version",
            ));
            None
        }
        Some(Ok(list)) => Some(list),
    };
    let Some(junit) = junit else {
        if list.is_some() {
            checks.push(Check::fail(
                "tests.required",
                "no readable junit_01.xml",
                "see junit.readable",
            ));
        }
        checks.push(Check::fail(
            "tests.no_failures",
            "no readable junit_01.xml",
            "see junit.readable",
        ));
        return;
    };
    let ran = conformance_cases(junit);
    if let Some(list) = &list {
        let missing: Vec<String> = list
            .names
            .iter()
            .filter(|n| !ran.passed.contains(*n))
            .map(|n| {
                if ran.failed.contains(n) {
                    format!("{n} (failed)")
                } else {
                    n.clone()
                }
            })
            .collect();
        let total = list.names.len();
        checks.push(if missing.is_empty() {
            Check::pass(
                "tests.required",
                format!("all {total} required tests passed ({})", list.source),
            )
        } else {
            Check::fail(
                "tests.required",
                format!(
                    "{} of {total} required tests are missing or failed ({})",
                    missing.len(),
                    list.source
                ),
                "run the full conformance suite with no skips and submit its junit_01.xml",
            )
            .with_details(missing)
        });
    }
    let (required_failed, other_failed): (Vec<String>, Vec<String>) = ran
        .failed
        .iter()
        .cloned()
        .partition(|n| list.as_ref().is_none_or(|l| l.names.contains(n)));
    checks.push(if !required_failed.is_empty() {
        Check::fail(
            "tests.no_failures",
            format!("{} [Conformance] test(s) failed", required_failed.len()),
            "fix the cluster and re-run; a submission needs every conformance test to pass",
        )
        .with_details(required_failed)
    } else if !other_failed.is_empty() {
        let version = list.as_ref().map(|l| l.version.to_string()).unwrap_or_default();
        Check::warn(
            "tests.no_failures",
            format!(
                "{} [Conformance] test(s) failed that the {version} list no longer requires",
                other_failed.len()
            ),
            "the required list changed inside this minor after the run (tests demoted from conformance); a reviewer may ask about them",
        )
        .with_details(other_failed)
    } else {
        Check::pass("tests.no_failures", format!("no [Conformance] test failed ({} ran)", ran.passed.len()))
    });
}

fn check_log(
    version: Option<Minor>,
    junit: Option<&JunitReport>,
    log: Option<&E2eSummary>,
    checks: &mut Vec<Check>,
) {
    let Some(log) = log else {
        checks.push(Check::fail(
            "e2e.version",
            "no readable e2e.log",
            "add the e2e.log of the same run",
        ));
        return;
    };
    let stated: Vec<(&str, &String)> = [
        ("kube-apiserver", &log.apiserver_version),
        ("e2e test", &log.e2e_version),
    ]
    .into_iter()
    .filter_map(|(what, v)| v.as_ref().map(|v| (what, v)))
    .collect();
    let wrong: Vec<String> = stated
        .iter()
        .filter(|(_, v)| version.is_some_and(|folder| Minor::parse(v) != Some(folder)))
        .map(|(what, v)| format!("{what} version {v}"))
        .collect();
    checks.push(match (stated.is_empty(), wrong.is_empty(), version) {
        (true, _, _) => Check::pass("e2e.version", "e2e.log states no versions (a non-verbose log)"),
        (false, true, _) => Check::pass(
            "e2e.version",
            format!("e2e.log versions match: {}", stated.iter().map(|(w, v)| format!("{w} {v}")).collect::<Vec<_>>().join(", ")),
        ),
        (false, false, folder) => Check::fail(
            "e2e.version",
            format!("e2e.log is from another minor than the folder {}", folder.map(|f| f.to_string()).unwrap_or_default()),
            "submit the e2e.log of a run against this Kubernetes minor, in the matching vX.Y folder",
        )
        .with_details(wrong),
    });
    let Some(junit) = junit.filter(|_| log.has_verdict()) else {
        checks.push(Check::pass(
            "e2e.summary",
            "no summary to compare (no counts line, or no junit)",
        ));
        return;
    };
    let t = &junit.tally;
    let log_skipped = log.skipped.unwrap_or(0) + log.pending.unwrap_or(0);
    let agree =
        log.passed == Some(t.passed) && log.failed == Some(t.failed) && log_skipped == t.skipped;
    let says = format!(
        "e2e.log: {} passed, {} failed, {log_skipped} skipped; junit_01.xml: {} passed, {} failed, {} skipped",
        log.passed.unwrap_or(0),
        log.failed.unwrap_or(0),
        t.passed,
        t.failed,
        t.skipped
    );
    checks.push(if agree {
        Check::pass("e2e.summary", format!("counts agree ({says})"))
    } else {
        Check::fail(
            "e2e.summary",
            format!("counts disagree: {says}"),
            "e2e.log and junit_01.xml must come from the same run",
        )
    });
}
