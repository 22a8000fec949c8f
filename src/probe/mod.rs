//! Observations taken inside the sandbox.
