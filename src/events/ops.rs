//! Operational events (`target: "altgate::ops"`): the health of altgate and its directories.

use crate::event;

event! {
    /// An LDAP server stopped answering (logged on the transition, not on every failure).
    DirectoryServerDown<'a>: ops, error, DirectoryServerDown "directory server unreachable" {
        /// Forest of the server.
        forest: &'a str,
        /// Server URL.
        server: &'a str,
        /// Why (connection refused, timeout, TLS failure, bind refused...).
        reason: &'a str,
    }
}

event! {
    /// An LDAP server answers again.
    DirectoryServerUp<'a>: ops, info, DirectoryServerUp "directory server reachable" {
        /// Forest of the server.
        forest: &'a str,
        /// Server URL.
        server: &'a str,
    }
}

event! {
    /// A forest's search moved on from a failed global catalog to the next.
    GlobalCatalogFailover<'a>: ops, warn, GlobalCatalogFailover "global catalog failover" {
        /// Forest.
        forest: &'a str,
        /// The server that failed or was backing off.
        from: &'a str,
        /// The server that answered.
        to: &'a str,
    }
}

event! {
    /// The farm state store (Redis) did not answer; extranet lockout let the sign-in through
    /// unprotected (`fail_open`) or refused it (`fail_closed`).
    StateStoreUnavailable<'a>: ops, error, StateStoreUnavailable {
        /// The operation: attempt, succeeded or not_counted.
        op: &'static str,
        /// The store error's code.
        code: &'static str,
        /// The user as typed.
        user: &'a str,
        /// True when the sign-in was refused for it.
        refused: bool,
        /// What happened.
        message: &'static str,
    }
}

event! {
    /// Extranet lockout does not fit a domain's own lockout policy (read at start-up): AD would
    /// lock an account before altgate does, AD never locks (altgate is the only lockout), or
    /// altgate's observation window is shorter than AD's.
    AdLockoutPolicyWarning<'a>: ops, warn, AdLockoutPolicyWarning {
        /// The forest.
        forest: &'a str,
        /// The domain.
        domain: &'a str,
        /// What does not fit: `ad_never_locks`, `threshold_not_below_ad`,
        /// `familiar_threshold_not_below_ad`, `window_shorter_than_ad`.
        finding: &'static str,
        /// What to do about it.
        message: &'a str,
    }
}

event! {
    /// altgate connected to a state store node: at start, after an outage, or to a new master
    /// after a failover.
    StateStoreConnected<'a>: ops, info, StateStoreConnected "state store connected" {
        /// `host:port` of the node.
        address: &'a str,
    }
}

event! {
    /// altgate dropped its connection to a state store node.
    StateStoreDisconnected<'a>: ops, warn, StateStoreDisconnected "state store connection dropped" {
        /// `host:port` of the node.
        address: &'a str,
        /// `connection` (refused, reset, closed), `readonly` (the node is a replica now) or
        /// `timeout` (no answer, three times in a row).
        reason: &'static str,
    }
}

event! {
    /// The sentinels named another master than the one altgate used last: a failover.
    StateMasterChanged<'a>: ops, warn, StateMasterChanged "state store master changed" {
        /// The previous master.
        from: &'a str,
        /// The new master.
        to: &'a str,
    }
}

event! {
    /// A store write that had failed was written after all (`written`), or given up once it
    /// no longer mattered (`expired`) or the queue was full (`dropped`).
    StateDeferredWrite: ops, info, StateDeferredWrite "deferred state store write settled" {
        /// `cancel_attempt`, `succeeded`, `not_counted` or `revoke`.
        op: &'static str,
        /// `written`, `expired` or `dropped`.
        outcome: &'static str,
        /// Seconds between the failure and this outcome.
        after_seconds: u64,
    }
}

event! {
    /// A configuration reload (SIGHUP, `POST /reload`) applied: new TLS handshakes use the
    /// re-read certificates, the next request the new configuration.
    ConfigReloaded<'a>: ops, info, ConfigReloaded "configuration reloaded" {
        /// The file.
        file: &'a str,
        /// What changed, by section (`relying_parties`, `server.tls`, ...).
        changed: &'a [String] => list,
        /// Settings that changed in the file but only take effect at the next start.
        needs_restart: &'a [String] => list,
    }
}

event! {
    /// A configuration reload was refused as a whole: the running configuration stays.
    ConfigReloadRefused<'a>: ops, error, ConfigReloadRefused "configuration reload refused; the running configuration stays" {
        /// The file.
        file: &'a str,
        /// `invalid` (the file has problems) or `failed` (a part could not be built).
        result: &'static str,
        /// Every problem, `path: message`, as `check-config` reports them.
        problems: &'a [String] => list,
    }
}

event! {
    /// Automatic token-signing rollover (`token_signing.auto_rollover`) wrote the next pair or
    /// promoted it; every node reloads to publish or sign with it.
    TokenSigningRollover<'a>: ops, warn, TokenSigningRollover "automatic token-signing rollover" {
        /// `generated` or `promoted`.
        step: &'static str,
        /// The certificate's SHA-1 thumbprint (base64url, as `x5t`).
        thumbprint: &'a str,
    }
}
