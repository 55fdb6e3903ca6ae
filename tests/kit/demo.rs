//! Demo mode in a test: a configuration over the embedded demo directory
//! (`config/demo-directory.yaml`, both forests, no Active Directory), and altgate serving a
//! configuration in this process (as `altgate::run` does, with the application kept for its
//! metrics) until the test stops it.

use super::files::repo;
use altgate::config::Config;
use altgate::App;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

/// A demo-mode configuration over TLS with `cert`/`key` (generated when missing) on port 0;
/// `server_extra` goes inside the `server:` mapping (e.g. `, limits: { idle_timeout: 3s }`).
pub fn config_yaml(cert: &Path, key: &Path, server_extra: &str) -> String {
    format!(
        "server: {{ listen: 127.0.0.1:0, public_url: https://localhost, tls: {{ cert_file: {}, key_file: {}, generate_dev_certificate: true }}{server_extra} }}\n\
         alternate_login_id: {{ attribute: mail, lookup_forests: [contoso.com] }}\n\
         demo_directory: {}\nforests: [{{ name: contoso.com }}, {{ name: fabrikam.com }}]\n",
        cert.display(),
        key.display(),
        repo().join("config/demo-directory.yaml").display()
    )
}

/// altgate serving a configuration in this process (the application `altgate::run` builds,
/// on a loopback port of its own) until [`Served::stop`].
pub struct Served {
    pub addr: SocketAddr,
    /// The application served (its metrics, for the tests to read).
    pub app: Arc<App>,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<Result<(), altgate::StartError>>,
}

impl Served {
    /// Starts serving `config`; returns once the listener is bound (connections wait in its
    /// backlog until the server accepts them).
    pub async fn start(config: Config) -> Served {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let app = App::new(config).expect("build app");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(altgate::http::serve(app.clone(), listener, async {
            let _ = stopped.await;
        }));
        Served {
            addr,
            app,
            stop,
            server,
        }
    }

    /// Asks the server to shut down and checks that it did, cleanly.
    pub async fn stop(self) {
        self.stop.send(()).expect("stop");
        self.server.await.expect("join").expect("clean shutdown");
    }
}
