//! The federation protocols altgate speaks. Each parses its requests with [`crate::xml::parse`]
//! under strict limits, signs users in through [`crate::signin`], issues tokens through
//! [`crate::tokens`], and maps its failures to the responses its clients expect.

pub mod metadata;
pub mod passive;
pub mod wstrust;
