//! The typed vocabulary: every bounded word altgate puts in a metric label or an event field
//! (protocol, outcome, refusal reason, lockout decision, endpoint, ...) is a variant of an enum
//! declared with `label_set!` in the layer that owns it, with a stable id and a doc string.
//! Metric methods and events accept only such enums (or a [`Id`] made from one), never a free
//! string, so the set of values a label can take is the enum's [`Label::ALL`]: documented in
//! `docs/metrics.md` (a test compares ids and docs) and pre-declared at start.
//!
//! A vocabulary's *kind* ([`Kind`], one marker type per label family in [`kinds`]) ties an enum
//! to the labels it may fill: `count_request(protocol, outcome)` takes
//! `impl Label<Kind = kinds::Protocol>` and `impl Label<Kind = kinds::PassiveOutcome>`, so the
//! two cannot be swapped, and several enums may share a kind (a token failure reason is a
//! WS-Trust request refusal, a browser request refusal or a sign-in failure).
//!
//! A value may belong to more than one family: a sign-in failure reason is also a token failure
//! reason. Its enum keeps one own kind ([`Label::Kind`]) and declares the others with
//! `also` in `label_set!`, which implements [`Also`] and `From<Enum> for Id<Other>`: the
//! enum then fills either label directly, and `catalogue::vocabularies()` lists it under each
//! family it fills.

use std::fmt;
use std::marker::PhantomData;

/// A label family: the name `docs/metrics.md` lists its values under, and what it is.
pub trait Kind: 'static {
    /// The family's name (a `docs/metrics.md` heading).
    const NAME: &'static str;
    /// What the family's values say.
    const DOC: &'static str;
}

/// One bounded label value.
pub trait Label: Copy + fmt::Debug + Send + Sync + 'static {
    /// The label family this enum's values belong to.
    type Kind: Kind;
    /// Every value, in catalogue order.
    const ALL: &'static [Self];
    /// The stable id (what metrics and logs carry).
    fn id(self) -> &'static str;
    /// What the value means.
    fn doc(self) -> &'static str;
}

/// A label value of family `K` as an event field: made only from a [`Label`] of that family.
pub struct Id<K: Kind>(&'static str, PhantomData<fn() -> K>);

impl<K: Kind> Id<K> {
    /// The stable id.
    pub fn as_str(&self) -> &'static str {
        self.0
    }

    /// The id of `l`, a value of another family declared to belong to `K` too ([`Also`]).
    pub fn also<L: Also<K>>(l: L) -> Self {
        Id(l.id(), PhantomData)
    }
}

/// A label whose values also fill family `K`, besides its own [`Label::Kind`]: a sign-in
/// failure reason is also a token failure reason. Declared with `also` in `label_set!`, which
/// also implements `From<Self> for Id<K>` (one concrete impl per family, so it never overlaps
/// the impl for the own kind). Never implement it for the enum's own kind.
pub trait Also<K: Kind>: Label {}

impl<K: Kind> Clone for Id<K> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K: Kind> Copy for Id<K> {}

impl<K: Kind> PartialEq for Id<K> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl<K: Kind> Eq for Id<K> {}

impl<K: Kind> fmt::Debug for Id<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl<K: Kind> fmt::Display for Id<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl<L: Label> From<L> for Id<L::Kind> {
    fn from(l: L) -> Self {
        Id(l.id(), PhantomData)
    }
}

/// One family's values as documented: its name, its doc, and `(id, doc)` per value (ids unique,
/// in catalogue order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vocabulary {
    /// The family's name.
    pub name: &'static str,
    /// What the family is.
    pub doc: &'static str,
    /// `(id, doc)` of every value.
    pub values: Vec<(&'static str, String)>,
}

impl Vocabulary {
    /// An empty vocabulary of kind `K`.
    pub fn of<K: Kind>() -> Self {
        Vocabulary {
            name: K::NAME,
            doc: K::DOC,
            values: Vec::new(),
        }
    }

    /// Adds every value of `L`. An id already present is kept once, with its first doc; but when
    /// `L` is of another family (declared `also` this one) and gives the id another meaning,
    /// that meaning is added: `... As a <L's family>: <L's doc>`.
    pub fn with<L: Label>(mut self) -> Self {
        let other = <L::Kind as Kind>::NAME;
        let foreign = other != self.name;
        for l in L::ALL {
            let doc = l.doc().trim();
            match self.values.iter_mut().find(|(id, _)| *id == l.id()) {
                None => self.values.push((l.id(), doc.to_string())),
                Some((_, known)) if foreign && !known.contains(doc) => {
                    known.push_str(&format!(" As a {other}: {doc}"));
                }
                Some(_) => {}
            }
        }
        self
    }

    /// The ids.
    pub fn ids(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.values.iter().map(|(id, _)| *id)
    }
}

/// Declares label families: a marker type per family implementing [`Kind`].
macro_rules! kinds {
    ($( $(#[doc = $doc:literal])* $ty:ident = $name:literal; )*) => {
        $(
            $(#[doc = $doc])*
            #[derive(Debug, Clone, Copy)]
            pub struct $ty;
            impl super::Kind for $ty {
                const NAME: &'static str = $name;
                const DOC: &'static str = concat!($($doc),*);
            }
        )*
    };
}

/// The label families. Adding one here is the first step of adding a bounded label.
pub mod kinds {
    kinds! {
        /// The protocol a request or token came through.
        Protocol = "protocol";
        /// How a browser request at `/adfs/ls/` (or the password-change page) ended.
        PassiveOutcome = "passive_outcome";
        /// What happened to an SSO session cookie.
        SsoResult = "sso_result";
        /// Why a token request was refused: a WS-Trust or browser request refusal, a sign-in
        /// failure, or a failed password change during a browser sign-in.
        TokenFailure = "token_failure";
        /// Why a password sign-in failed (AD FS event 1203).
        SignInFailure = "sign_in_failure";
        /// Why a password change failed (AD FS event 1205): the old password's sign-in failed,
        /// or the change itself did.
        PasswordChangeFailure = "password_change_failure";
        /// Why a browser request at `/adfs/ls/` was refused.
        PassiveRefusal = "passive_refusal";
        /// Which public endpoint answered a request (or why none did).
        Endpoint = "endpoint";
        /// Why a connection was closed at accept.
        ConnectionRefusal = "connection_refusal";
        /// Which cap made an idle connection close to make room for a new one.
        ConnectionEviction = "connection_eviction";
        /// Extranet lockout's mode.
        LockoutMode = "lockout_mode";
        /// The location class extranet lockout judged an attempt in.
        LockoutClass = "lockout_class";
        /// What extranet lockout decided before a password bind.
        LockoutDecision = "lockout_decision";
        /// Why a password is being changed (events 1204 and 1205).
        PasswordChangeTrigger = "password_change_trigger";
        /// A state store operation.
        StateOp = "state_op";
        /// How a login resolution ended.
        ResolutionOutcome = "resolution_outcome";
        /// The rule that found the account.
        ResolutionVia = "resolution_via";
        /// Why the resolution fell back to the UPN.
        UpnFallback = "upn_fallback";
        /// Whether the resolution cache answered.
        CacheResult = "cache_result";
        /// Why the resolution cache removed an entry.
        EvictionCause = "eviction_cause";
        /// A token-signing certificate's role.
        SigningCertificate = "signing_certificate";
        /// Which listener a TLS server certificate is for.
        TlsListener = "tls_listener";
        /// How a configuration reload ended.
        ReloadResult = "reload_result";
        /// Which directory read a search was.
        DirectoryQuery = "directory_query";
        /// How a directory search ended.
        SearchResult = "search_result";
        /// How a password bind ended (AD's answer).
        BindResult = "bind_result";
        /// How an LDAP connection attempt ended.
        ConnectResult = "connect_result";
        /// An event's category.
        EventCategory = "event_category";
        /// An event's name.
        EventName = "event_name";
        /// An AD FS MSIS code.
        MsisCode = "msis_code";
        /// Why a Windows integrated (Kerberos) sign-in failed.
        WindowsFailure = "windows_failure";
        /// How a user or device proved who it is.
        AuthenticationMethod = "authentication_method";
    }
}

/// Declares a vocabulary enum of kind `$kind`: its variants with their ids and docs, `ALL`,
/// `id()`, `doc()`, `Display` (the id) and [`Label`]. `also` names further families the values
/// belong to: for each, [`Also`] and `From<Enum> for Id<family>`.
///
/// ```text
/// label_set! {
///     /// The protocol a sign-in came through.
///     pub enum Protocol: kinds::Protocol {
///         /// WS-Trust 1.3 usernamemixed.
///         Wstrust13 = "wstrust_13",
///     }
/// }
/// label_set! {
///     /// Why a sign-in failed.
///     pub enum FailureReason: kinds::SignInFailure, also kinds::TokenFailure {
///         /// Empty password.
///         EmptyPassword = "empty_password",
///     }
/// }
/// ```
macro_rules! label_set {
    (
        $(#[$meta:meta])*
        $vis:vis enum $ty:ident: $kind:ty $(, also $($also:ty),+ )? {
            $( $(#[doc = $doc:literal])* $variant:ident = $id:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $ty {
            $( $(#[doc = $doc])* $variant, )*
        }

        #[allow(dead_code)]
        impl $ty {
            /// Every value, in catalogue order.
            pub const ALL: &'static [$ty] = &[ $( $ty::$variant, )* ];

            /// The stable id.
            pub const fn id(self) -> &'static str {
                match self { $( $ty::$variant => $id, )* }
            }

            /// The stable id (same as [`Self::id`]).
            pub fn as_str(self) -> &'static str {
                self.id()
            }
        }

        impl $crate::label::Label for $ty {
            type Kind = $kind;
            const ALL: &'static [$ty] = $ty::ALL;
            fn id(self) -> &'static str {
                $ty::id(self)
            }
            fn doc(self) -> &'static str {
                match self { $( $ty::$variant => concat!($($doc),*), )* }
            }
        }

        impl ::std::fmt::Display for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.id())
            }
        }

        $($(
            impl $crate::label::Also<$also> for $ty {}

            impl ::std::convert::From<$ty> for $crate::label::Id<$also> {
                fn from(l: $ty) -> Self {
                    $crate::label::Id::also(l)
                }
            }
        )+)?
    };
}
pub(crate) use label_set;

#[cfg(test)]
mod tests {
    use super::*;

    label_set! {
        /// A test vocabulary.
        enum Colour: kinds::Protocol {
            /// Red light.
            Red = "red",
            /// Green light.
            Green = "green",
        }
    }

    #[test]
    fn ids_docs_and_ids_as_event_fields() {
        assert_eq!(Colour::ALL, &[Colour::Red, Colour::Green]);
        assert_eq!(Colour::Green.id(), "green");
        assert_eq!(Label::doc(Colour::Red).trim(), "Red light.");
        assert_eq!(Colour::Red.to_string(), "red");
        let id: Id<kinds::Protocol> = Colour::Green.into();
        assert_eq!(id.as_str(), "green");
        let v = Vocabulary::of::<kinds::Protocol>()
            .with::<Colour>()
            .with::<Colour>();
        assert_eq!(v.ids().collect::<Vec<_>>(), ["red", "green"]);
        assert_eq!(v.name, "protocol");
    }

    label_set! {
        /// A test vocabulary whose values fill two families.
        enum Shared: kinds::SignInFailure, also kinds::TokenFailure, kinds::PasswordChangeFailure {
            /// Shared value.
            One = "one",
        }
    }

    fn token_failure(id: impl Into<Id<kinds::TokenFailure>>) -> &'static str {
        id.into().as_str()
    }

    #[test]
    fn a_value_may_fill_other_families_declared_with_also() {
        let own: Id<kinds::SignInFailure> = Shared::One.into();
        let change: Id<kinds::PasswordChangeFailure> = Shared::One.into();
        assert_eq!((own.as_str(), change.as_str()), ("one", "one"));
        assert_eq!(token_failure(Shared::One), "one");
        assert_eq!(Id::<kinds::TokenFailure>::also(Shared::One).as_str(), "one");
        let v = Vocabulary::of::<kinds::TokenFailure>()
            .with::<Shared>()
            .with::<Colour>()
            .with::<Shared>();
        assert_eq!(v.ids().collect::<Vec<_>>(), ["one", "red", "green"]);
    }

    label_set! {
        /// Another test vocabulary, sharing an id with [`Colour`].
        enum Light: kinds::SignInFailure {
            /// Red light, stop.
            Red = "red",
        }
    }

    label_set! {
        /// A vocabulary whose id repeats (two variants, one label value).
        enum Twice: kinds::Protocol {
            /// First.
            A = "a",
            /// Second.
            B = "a",
        }
    }

    #[test]
    fn a_shared_id_keeps_every_family_s_meaning() {
        let v = Vocabulary::of::<kinds::Protocol>()
            .with::<Colour>()
            .with::<Light>()
            .with::<Light>();
        assert_eq!(v.ids().collect::<Vec<_>>(), ["red", "green"]);
        assert_eq!(
            v.values[0].1,
            "Red light. As a sign_in_failure: Red light, stop."
        );
        let v = Vocabulary::of::<kinds::Protocol>().with::<Twice>();
        assert_eq!(v.values, [("a", "First.".to_string())]);
    }
}
