//! State store traits.
