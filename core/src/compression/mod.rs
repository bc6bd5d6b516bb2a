//! compression (in progress)
