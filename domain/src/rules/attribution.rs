//! Attribution models.
