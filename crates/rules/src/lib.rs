//! Placeholder: see the crate description; implemented by its issue.
