//! Commission rules.
