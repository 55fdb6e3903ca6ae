//! systemd's readiness protocol (`Type=notify`): `READY=1` once the listeners accept,
//! `RELOADING=1` and `READY=1` around a reload, `STOPPING=1` at shutdown, and `STATUS=` lines
//! `systemctl status` shows. A datagram to `$NOTIFY_SOCKET` (a path, or `@name` for an abstract
//! socket); without the variable (not started by systemd) nothing is sent.

use std::os::unix::net::UnixDatagram;

/// The notification socket systemd gave this process, if any.
pub struct Notifier {
    target: Option<String>,
}

impl Notifier {
    /// From `$NOTIFY_SOCKET`.
    pub fn from_env() -> Notifier {
        Notifier {
            target: std::env::var("NOTIFY_SOCKET")
                .ok()
                .filter(|s| !s.is_empty()),
        }
    }

    /// Sends `state` (newline-separated `KEY=value` lines); a failure is logged, never fatal.
    pub fn send(&self, state: &str) {
        let Some(target) = &self.target else {
            return;
        };
        if let Err(e) = send_to(target, state) {
            tracing::warn!(target: "altgate::ops", socket = %target, error = %e, "cannot notify systemd");
        }
    }

    /// `RELOADING=1` with the monotonic time systemd asks for (`Type=notify-reload`).
    pub fn reloading(&self) {
        let usec = monotonic_usec();
        self.send(&format!(
            "RELOADING=1\nMONOTONIC_USEC={usec}\nSTATUS=reloading the configuration"
        ));
    }
}

fn send_to(target: &str, state: &str) -> std::io::Result<usize> {
    let socket = UnixDatagram::unbound()?;
    match target.strip_prefix('@') {
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?;
            socket.send_to_addr(state.as_bytes(), &addr)
        }
        None => socket.send_to(state.as_bytes(), target),
    }
}

/// CLOCK_MONOTONIC in microseconds, as systemd reads it.
fn monotonic_usec() -> u128 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    u128::try_from(t.tv_sec).unwrap_or(0) * 1_000_000
        + u128::try_from(t.tv_nsec).unwrap_or(0) / 1_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifies_a_path_socket_and_an_abstract_one() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("notify");
        let server = UnixDatagram::bind(&path).expect("bind");
        let n = Notifier {
            target: Some(path.display().to_string()),
        };
        n.send("READY=1");
        let mut buf = [0u8; 256];
        let len = server.recv(&mut buf).expect("recv");
        assert_eq!(&buf[..len], b"READY=1");

        use std::os::linux::net::SocketAddrExt;
        let name = format!("altgate-test-{}", std::process::id());
        let addr =
            std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).expect("addr");
        let server = UnixDatagram::bind_addr(&addr).expect("bind abstract");
        let n = Notifier {
            target: Some(format!("@{name}")),
        };
        n.reloading();
        let len = server.recv(&mut buf).expect("recv");
        let text = std::str::from_utf8(&buf[..len]).expect("utf8");
        assert!(text.starts_with("RELOADING=1\nMONOTONIC_USEC="), "{text}");
    }

    #[test]
    fn without_a_socket_nothing_is_sent_and_nothing_fails() {
        Notifier { target: None }.send("READY=1");
    }
}
