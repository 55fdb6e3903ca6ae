//! Windows sign-in tests.
