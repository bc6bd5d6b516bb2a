//! odradek-broker (in progress)
