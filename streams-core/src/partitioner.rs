//! The default partitioner.
