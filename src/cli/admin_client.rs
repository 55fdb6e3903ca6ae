//! The CLI's client for the running service's admin listener (`admin.listen`): one request,
//! plain HTTP on loopback or TLS pinned to the certificate in `admin.tls.cert_file` (the CLI
//! trusts exactly the certificate it was configured with, whatever names it carries), with the
//! bearer token from `admin.bearer_token_file`. Every failure says what was not reached, so no
//! command ever prints a state it did not read from the service.

use crate::config::Config;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// How long one admin request may take, connection included.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// Why the service could not be asked.
#[derive(Debug, thiserror::Error)]
pub enum AdminClientError {
    /// No `admin:` section.
    #[error("no admin listener is configured (admin.listen), so the running service cannot be asked; add an admin: section and restart altgate serve")]
    NotConfigured,
    /// The admin listener did not answer.
    #[error("cannot reach the running service's admin listener at {address}: {reason} (is altgate serve running with this configuration?)")]
    Unreachable {
        /// Where it was asked.
        address: SocketAddr,
        /// What failed.
        reason: String,
    },
    /// The certificate file could not be read.
    #[error("cannot read admin.tls.cert_file: {0}")]
    Certificate(String),
}

/// An answer: status and body.
#[derive(Debug)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Body text.
    pub body: String,
}

/// The address to connect to: the listen address, its unspecified IP replaced by loopback.
pub fn address(listen: SocketAddr) -> SocketAddr {
    let ip = match listen.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        other => other,
    };
    SocketAddr::new(ip, listen.port())
}

/// Trusts exactly one certificate (the admin listener's own), checking the handshake's
/// signature with it.
#[derive(Debug)]
struct Pinned {
    cert: CertificateDer<'static>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.cert.as_ref() {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(
                "the admin listener presented another certificate than admin.tls.cert_file".into(),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Io for T {}

/// Sends `method path_and_query` to the running service's admin listener.
pub async fn request(
    config: &Config,
    method: &str,
    path_and_query: &str,
) -> Result<Answer, AdminClientError> {
    let admin = config
        .admin
        .as_ref()
        .ok_or(AdminClientError::NotConfigured)?;
    let address = address(admin.listen);
    let unreachable = |reason: String| AdminClientError::Unreachable { address, reason };
    let exchange = async {
        let tcp = tokio::net::TcpStream::connect(address)
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        let io: Box<dyn Io> = match &admin.tls {
            None => Box::new(tcp),
            Some(tls) => {
                let pem = std::fs::read(&tls.cert_file)
                    .map_err(|e| AdminClientError::Certificate(e.to_string()))?;
                let cert = rustls_pemfile::certs(&mut pem.as_slice())
                    .next()
                    .and_then(Result::ok)
                    .ok_or_else(|| AdminClientError::Certificate("no certificate in it".into()))?;
                let provider = Arc::new(rustls::crypto::ring::default_provider());
                let client = rustls::ClientConfig::builder_with_provider(provider.clone())
                    .with_safe_default_protocol_versions()
                    .map_err(|e| unreachable(e.to_string()))?
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(Pinned { cert, provider }))
                    .with_no_client_auth();
                let name = ServerName::IpAddress(address.ip().into());
                let stream = tokio_rustls::TlsConnector::from(Arc::new(client))
                    .connect(name, tcp)
                    .await
                    .map_err(|e| unreachable(format!("TLS: {e}")))?;
                Box::new(stream)
            }
        };
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        tokio::spawn(conn);
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(path_and_query)
            .header(hyper::header::HOST, address.to_string());
        if let Some(token) = &admin.bearer_token {
            req = req.header(
                hyper::header::AUTHORIZATION,
                format!("Bearer {}", token.expose()),
            );
        }
        let req = req
            .body(Full::new(Bytes::new()))
            .map_err(|e| unreachable(e.to_string()))?;
        let res = sender
            .send_request(req)
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        let status = res.status().as_u16();
        let body = res
            .into_body()
            .collect()
            .await
            .map_err(|e| unreachable(e.to_string()))?
            .to_bytes();
        Ok(Answer {
            status,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    };
    match tokio::time::timeout(TIMEOUT, exchange).await {
        Ok(r) => r,
        Err(_) => Err(unreachable(format!("no answer within {TIMEOUT:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unspecified_listen_addresses_are_asked_on_loopback() {
        let a = |s: &str| address(s.parse().expect("addr"));
        assert_eq!(a("0.0.0.0:9464"), "127.0.0.1:9464".parse().expect("addr"));
        assert_eq!(a("[::]:9464"), "[::1]:9464".parse().expect("addr"));
        assert_eq!(a("10.0.0.5:9464"), "10.0.0.5:9464".parse().expect("addr"));
    }
}
