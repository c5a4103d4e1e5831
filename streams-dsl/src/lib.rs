//! DSL.
