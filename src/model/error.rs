//! The error of a set-up step: which step failed, on what, and why. A
//! plain type of the bottom layer, shared by the helper, the sandbox init,
//! the mounts, the veth pair and everything that judges their failures.

use nix::errno::Errno;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Why a set-up step failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cause {
    /// The kernel refused the call with this errno.
    Errno(Errno),
    /// A tool the step ran failed: its exit status and what it printed.
    Tool { status: String, stderr: String },
    /// A process's answer could not be read: nothing came, or it did not
    /// decode (the decoder's message, or how the process ended).
    Protocol(String),
    /// A seccomp filter did not compile: the compiler's message.
    Seccomp(String),
    /// The state the step needs was not there (what was found instead).
    Precondition(String),
    /// A cause read back from its text (the report of another process),
    /// where the text is not an errno's name.
    Reported(String),
}

impl Cause {
    /// The cause read back from its rendered text: an errno's name becomes
    /// that errno, any other text stays text.
    pub fn from_text(text: &str) -> Cause {
        match errno_named(text) {
            Some(e) => Cause::Errno(e),
            None => Cause::Reported(text.to_string()),
        }
    }

    /// The errno, when the kernel refused the step.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            Cause::Errno(e) => Some(*e),
            _ => None,
        }
    }
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cause::Errno(e) => write!(f, "{e:?}"),
            Cause::Tool { status, stderr } => write!(f, "{status}: {stderr}"),
            Cause::Protocol(m)
            | Cause::Seccomp(m)
            | Cause::Precondition(m)
            | Cause::Reported(m) => f.write_str(m),
        }
    }
}

/// The errno spelled `name` (as `EPERM`), if there is one.
use crate::sys::seccomp::errno_named;

/// A set-up step that failed: which step, on what, and why. On the wire
/// and in reports it reads `{ step, target, errno }`, the cause rendered
/// as text (an errno by its name).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(into = "StepErrorText", from = "StepErrorText")]
#[error("{step} {target}: {cause}")]
pub struct StepError {
    pub step: String,
    pub target: String,
    pub cause: Cause,
}

impl StepError {
    /// A step the kernel refused with `errno`.
    pub fn new(step: &str, target: impl AsRef<Path>, errno: Errno) -> Self {
        StepError::with(step, target, Cause::Errno(errno))
    }

    /// A step that failed for `cause`.
    pub fn with(step: &str, target: impl AsRef<Path>, cause: Cause) -> Self {
        StepError {
            step: step.into(),
            target: target.as_ref().display().to_string(),
            cause,
        }
    }

    /// The errno, when the kernel refused the step.
    pub fn errno(&self) -> Option<Errno> {
        self.cause.errno()
    }
}

/// How a [`StepError`] is written: the cause as text.
#[derive(Serialize, Deserialize)]
struct StepErrorText {
    step: String,
    target: String,
    errno: String,
}

impl From<StepError> for StepErrorText {
    fn from(e: StepError) -> Self {
        StepErrorText {
            errno: e.cause.to_string(),
            step: e.step,
            target: e.target,
        }
    }
}

impl From<StepErrorText> for StepError {
    fn from(t: StepErrorText) -> Self {
        StepError {
            cause: Cause::from_text(&t.errno),
            step: t.step,
            target: t.target,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_errno_is_written_by_name_and_read_back_as_that_errno() {
        let e = StepError::new("pivot_root", "/r", Errno::EPERM);
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(
            json,
            serde_json::json!({ "step": "pivot_root", "target": "/r", "errno": "EPERM" })
        );
        let back: StepError = serde_json::from_value(json).unwrap();
        assert_eq!(back, e);
        assert_eq!(back.errno(), Some(Errno::EPERM));
        assert_eq!(e.to_string(), "pivot_root /r: EPERM");
    }

    #[test]
    fn other_causes_render_their_text_and_carry_no_errno() {
        let tool = StepError::with(
            "/usr/bin/newuidmap",
            "12 0 1000 1",
            Cause::Tool {
                status: "exit status: 1".into(),
                stderr: "newuidmap: write to uid_map failed".into(),
            },
        );
        assert_eq!(
            tool.to_string(),
            "/usr/bin/newuidmap 12 0 1000 1: exit status: 1: newuidmap: write to uid_map failed"
        );
        assert_eq!(tool.errno(), None);
        let back: StepError = serde_json::from_value(serde_json::to_value(&tool).unwrap()).unwrap();
        assert_eq!(back.to_string(), tool.to_string());
        assert_eq!(back.errno(), None);
        assert_eq!(errno_named("EWHAT"), None);
        assert_eq!(errno_named("ENOENT"), Some(Errno::ENOENT));
    }
}
