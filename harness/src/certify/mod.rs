//! Conformance certification: verify a CNCF k8s-conformance submission the way the
//! review bot does (and a little stricter), and build one from a run's results.

mod package;
mod report;
pub mod required;
mod verify;
mod version;

pub use package::{certify, pull_request_checklist, Certified, CertifyError, CertifyOptions, Tool};
pub use report::{Check, Report, Verdict};
pub use verify::{verify, VerifyOptions, EMAIL_REQUIRED_FROM, PRODUCT_FIELDS, SUBMISSION_FILES};
pub use version::Minor;
