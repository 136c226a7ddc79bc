//! The one place a failed command becomes output and an exit code: every subcommand
//! returns `Result<i32, Failure>`, and `cli::main` prints the failure once — the
//! error, each cause not already in its text, and the hint that says what to do.

use std::borrow::Cow;

/// An error that knows how to fix itself.
pub trait Hinted: std::error::Error {
    fn hint(&self) -> Cow<'_, str>;
}

macro_rules! hinted {
    ($($ty:ty),* $(,)?) => {$(
        impl Hinted for $ty {
            fn hint(&self) -> Cow<'_, str> {
                Cow::from(<$ty>::hint(self))
            }
        }
    )*};
}

hinted!(
    crate::ingest::IngestError,
    crate::store::StoreError,
    crate::config::ConfigError,
    crate::runner::RunnerError,
    crate::suite::SuiteError,
    crate::cluster::ClusterError,
    crate::cluster::local::LocalError,
    crate::report::ReportError,
    crate::certify::CertifyError,
    crate::reporter::SinkError,
    crate::run::RunError,
    crate::bench::BenchError,
);

impl Hinted for crate::config::FileError {
    fn hint(&self) -> Cow<'_, str> {
        Cow::from(crate::config::FileError::hint(self))
    }
}

/// A plain message with its hint, for failures that are not a library error (a
/// command-line combination, a file the CLI itself writes).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Message {
    message: String,
    hint: String,
}

impl Hinted for Message {
    fn hint(&self) -> Cow<'_, str> {
        Cow::from(self.hint.as_str())
    }
}

/// A failed command: what to print, and the exit code (`crate::exit`).
#[derive(Debug)]
pub struct Failure {
    pub code: i32,
    error: Box<dyn Hinted + Send + Sync>,
}

impl Failure {
    pub fn new(code: i32, error: impl Hinted + Send + Sync + 'static) -> Failure {
        Failure {
            code,
            error: Box::new(error),
        }
    }

    /// A failure that is only a message and a hint.
    pub fn message(code: i32, message: impl Into<String>, hint: impl Into<String>) -> Failure {
        Failure::new(
            code,
            Message {
                message: message.into(),
                hint: hint.into(),
            },
        )
    }

    /// The text printed on stderr.
    pub fn render(&self) -> String {
        render(self.error.as_ref())
    }

    /// The same failure with the credentials `redactor` knows taken out of its text.
    pub fn redacted(self, redactor: &crate::secrets::Redactor) -> Failure {
        let (body, hint) = (body(self.error.as_ref()), self.error.hint());
        if redactor.redact(&body) == body && redactor.redact(&hint) == hint {
            return self;
        }
        let (message, hint) = (redactor.redact(&body), redactor.redact(&hint));
        Failure::message(self.code, message.into_owned(), hint.into_owned())
    }
}

/// An error as the user reads it: the error, each cause not already in its text, and
/// its hint. For a command that goes on after one input fails (ingest), this is how
/// each failed input is told; everything else is printed once by `cli::main`.
pub fn render(error: &dyn Hinted) -> String {
    let mut out = format!("error: {}", body(error));
    let hint = error.hint();
    if !hint.is_empty() {
        out.push_str(&format!("\n  hint: {hint}"));
    }
    out
}

/// The error and each cause not already in its text, without the hint.
fn body(error: &dyn Hinted) -> String {
    {
        let top = error.to_string();
        let mut out = top.clone();
        let mut seen = top;
        let mut cause = error.source();
        while let Some(c) = cause {
            let text = c.to_string();
            // Most of our errors already say their cause ("{path}: {source}").
            if !seen.contains(&text) {
                out.push_str(&format!("\n  caused by: {text}"));
                seen.push_str(&text);
            }
            cause = c.source();
        }
        out
    }
}

/// `?` on any hinted error fails the command with exit code 1.
impl<E: Hinted + Send + Sync + 'static> From<E> for Failure {
    fn from(e: E) -> Failure {
        Failure::new(crate::exit::FAILURE, e)
    }
}

/// Sets the exit code of a hinted error: `result.map_err(code(exit::USAGE))?`.
pub fn code<E: Hinted + Send + Sync + 'static>(code: i32) -> impl FnOnce(E) -> Failure {
    move |e| Failure::new(code, e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("{path}: cannot read: {source}")]
    struct WithCause {
        path: String,
        #[source]
        source: std::io::Error,
    }

    impl Hinted for WithCause {
        fn hint(&self) -> Cow<'_, str> {
            "check the path".into()
        }
    }

    #[derive(Debug, thiserror::Error)]
    #[error("the outer step failed")]
    struct Outer(#[source] WithCause);

    impl Hinted for Outer {
        fn hint(&self) -> Cow<'_, str> {
            self.0.hint()
        }
    }

    #[test]
    fn a_cause_already_in_the_message_is_printed_once() {
        let e = WithCause {
            path: "a.xml".into(),
            source: std::io::Error::other("gone"),
        };
        assert_eq!(
            Failure::from(e).render(),
            "error: a.xml: cannot read: gone\n  hint: check the path"
        );
    }

    #[test]
    fn causes_not_in_the_message_are_chained() {
        let e = Outer(WithCause {
            path: "a.xml".into(),
            source: std::io::Error::other("gone"),
        });
        assert_eq!(
            Failure::from(e).render(),
            "error: the outer step failed\n  caused by: a.xml: cannot read: gone\n  hint: check the path"
        );
    }
}
