//! records (in progress)
