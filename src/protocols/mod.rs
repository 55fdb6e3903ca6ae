//! The federation protocols altgate speaks. Each parses its requests with [`crate::xml::parse`]
//! under strict limits, signs users in through [`crate::signin`], issues tokens through
//! [`crate::tokens`], and maps its failures to the responses its clients expect. [`demo_rp`] is
//! the other side: the demo mode's built-in relying party. Paths and public URLs come from the
//! route table, [`crate::endpoint`], as every document and [`m365`] (the Entra ID federation
//! settings) take them.

pub mod demo_rp;
pub mod m365;
pub mod metadata;
pub mod oauth;
pub mod passive;
pub mod wstrust;

use crate::config::RelyingParty;

/// The relying party `applies_to` names, if configured.
pub fn relying_party<'a>(
    relying_parties: &'a [RelyingParty],
    applies_to: &str,
) -> Option<&'a RelyingParty> {
    relying_parties.iter().find(|rp| rp.matches(applies_to))
}
