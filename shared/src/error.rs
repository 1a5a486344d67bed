//! Errors as kubectl words them: `error: <what failed>: <why>`, lower case, naming the object.

use std::fmt;

use crate::exit::Exit;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, with the context a person needs to act on it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input, rejected before anything was sent or changed.
    #[error("{0}")]
    Usage(String),
    /// Kubeconfig, credentials or client construction.
    #[error("{0}")]
    Config(String),
    /// The API server refused or failed a request.
    #[error("{context}: {}", describe_kube(source))]
    Kube {
        context: String,
        #[source]
        source: kube::Error,
    },
    /// A local file or socket.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// Anything else that stopped the job, already worded.
    #[error("{0}")]
    Failed(String),
    /// Ctrl-C or SIGTERM.
    #[error("interrupted")]
    Interrupted,
}

impl Error {
    pub fn usage(msg: impl fmt::Display) -> Self {
        Error::Usage(msg.to_string())
    }

    pub fn failed(msg: impl fmt::Display) -> Self {
        Error::Failed(msg.to_string())
    }

    pub fn io(context: impl fmt::Display, source: std::io::Error) -> Self {
        Error::Io {
            context: context.to_string(),
            source,
        }
    }

    /// The exit code this error ends the process with.
    pub fn exit(&self) -> Exit {
        match self {
            Error::Interrupted => Exit::Interrupted,
            _ => Exit::Failure,
        }
    }

    /// True for a write to a closed pipe (`| head`): the process ends quietly.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::BrokenPipe)
    }

    /// The API status code behind this error, if it came from the API server.
    pub fn status_code(&self) -> Option<u16> {
        match self {
            Error::Kube {
                source: kube::Error::Api(status),
                ..
            } => Some(status.code),
            _ => None,
        }
    }

    /// A line that helps the reader fix the cause, where one is known.
    pub fn hint(&self) -> Option<String> {
        match self.status_code()? {
            401 => Some("your credentials were rejected: check the kubeconfig's user and token".into()),
            403 => Some(match crate::identity::acting_as() {
                // The refusal is the impersonated user's: say so, not "your user".
                Some(user) => format!(
                    "{user:?} (--as) lacks a permission this command needs: the README's RBAC section lists the verbs and resources"
                ),
                None => "your user lacks a permission this command needs: the README's RBAC section lists the verbs and resources"
                    .into(),
            }),
            _ => None,
        }
    }
}

/// Context for results that carry kube errors: `.kube_context(|| format!(...))`.
pub trait KubeContext<T> {
    fn kube_context<C: fmt::Display>(self, context: impl FnOnce() -> C) -> Result<T>;
}

impl<T> KubeContext<T> for std::result::Result<T, kube::Error> {
    fn kube_context<C: fmt::Display>(self, context: impl FnOnce() -> C) -> Result<T> {
        self.map_err(|source| Error::Kube {
            context: context().to_string(),
            source,
        })
    }
}

/// The API server's own message for API errors (it already names the object, as kubectl prints
/// it); a short description for transport errors.
fn describe_kube(err: &kube::Error) -> String {
    match err {
        kube::Error::Api(status) if !status.message.is_empty() => status.message.clone(),
        kube::Error::Api(status) => {
            format!("the server answered {} {}", status.code, status.reason)
        }
        kube::Error::HyperError(e) => format!("cannot reach the API server: {e}"),
        kube::Error::Service(e) => format!("cannot reach the API server: {e}"),
        other => other.to_string(),
    }
}

/// Formats an error for stderr: `error: ...`, then a hint, and with `verbose` the cause chain.
pub fn render(err: &Error, verbose: bool) -> String {
    let mut out = format!("error: {err}");
    if verbose {
        let mut source = std::error::Error::source(err);
        while let Some(cause) = source {
            out.push_str(&format!("\n  caused by: {cause}"));
            source = cause.source();
        }
    }
    if let Some(hint) = err.hint() {
        out.push_str(&format!("\nhint: {hint}"));
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use kube::core::Status;

    fn api(code: u16, reason: &str, message: &str) -> kube::Error {
        let mut status = Status::failure(message, reason);
        status.code = code;
        kube::Error::Api(status.boxed())
    }

    #[test]
    fn api_errors_read_like_kubectl() {
        let err: Result<()> = Err(api(404, "NotFound", r#"deployments.apps "x" not found"#))
            .kube_context(|| r#"get deployment "x" in "sealos-system""#);
        let err = err.unwrap_err();
        assert_eq!(
            render(&err, false),
            r#"error: get deployment "x" in "sealos-system": deployments.apps "x" not found"#
        );
        assert_eq!(err.exit(), Exit::Failure);
    }

    #[test]
    fn forbidden_gets_a_hint() {
        let err = Error::Kube {
            context: "list pods".into(),
            source: api(403, "Forbidden", "pods is forbidden"),
        };
        let text = render(&err, false);
        assert!(
            text.contains("\nhint: your user lacks a permission"),
            "{text}"
        );
    }

    #[test]
    fn broken_pipe_is_recognised_and_interrupt_exits_130() {
        let err = Error::io(
            "write",
            std::io::Error::from(std::io::ErrorKind::BrokenPipe),
        );
        assert!(err.is_broken_pipe());
        assert!(!Error::usage("x").is_broken_pipe());
        assert_eq!(Error::Interrupted.exit().code(), 130);
    }

    #[test]
    fn verbose_shows_the_cause_chain() {
        let err = Error::io("read /tmp/x", std::io::Error::other("disk on fire"));
        assert_eq!(
            render(&err, true),
            "error: read /tmp/x: disk on fire\n  caused by: disk on fire"
        );
    }
}
