//! Filled by a later issue; see ../shared/ARCHITECTURE.md.
