//! The sandbox's TLS: a CA made at start-up and a serving certificate for 127.0.0.1,
//! ::1 and localhost. Real clients only send credentials over TLS (client-go drops them
//! on plain HTTP), so the sandbox serves HTTPS like a real API server.

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls::CipherSuite;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

pub struct Tls {
    /// The CA a client trusts (`certificate-authority-data` in the kubeconfig), PEM.
    pub ca_pem: String,
    pub acceptor: tokio_rustls::TlsAcceptor,
}

pub fn generate() -> Result<Tls, String> {
    let certs = certificates()?;
    let config = server_config(certs.chain, certs.key)?;
    Ok(Tls {
        ca_pem: certs.ca_pem,
        acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
    })
}

/// A CA made now and the serving certificate it signs.
struct Certificates {
    ca_pem: String,
    /// The serving certificate, then the CA's.
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

fn certificates() -> Result<Certificates, String> {
    let err = |e: rcgen::Error| format!("cannot make the sandbox certificate: {e}");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "meshtop-sandbox-ca");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_key = KeyPair::generate().map_err(err)?;
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key).map_err(err)?;

    let mut params = CertificateParams::new(vec![
        "127.0.0.1".to_string(),
        "::1".to_string(),
        "localhost".to_string(),
    ])
    .map_err(err)?;
    params
        .distinguished_name
        .push(DnType::CommonName, "meshtop-sandbox");
    let key = KeyPair::generate().map_err(err)?;
    let cert = params.signed_by(&key, &ca).map_err(err)?;

    Ok(Certificates {
        ca_pem: ca.pem(),
        chain: vec![CertificateDer::from(cert.der().to_vec()), ca.der().clone()],
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    })
}

/// The server's side of TLS. It picks the cipher suite itself, as an API server built with
/// Go does: AES-128-GCM before ChaCha20-Poly1305 before AES-256-GCM, whatever order the
/// client offers them in (rustls would follow the client's, and its clients and curl put
/// AES-256 first).
fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<rustls::ServerConfig, String> {
    let mut provider = rustls::crypto::ring::default_provider();
    provider.cipher_suites.sort_by_key(|s| match s.suite() {
        CipherSuite::TLS13_AES_128_GCM_SHA256
        | CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
        | CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => 0,
        CipherSuite::TLS13_CHACHA20_POLY1305_SHA256
        | CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
        | CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 => 1,
        _ => 2,
    });
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| format!("TLS: {e}"))?;
    config.ignore_client_order = true;
    // HTTP/1.1 only: watches stream fine over it, and WebSocket upgrades need it.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A TLS handshake in memory between the sandbox's server side and a rustls client
    /// offering rustls's default suites in their order: the suite they agree on.
    fn agreed(versions: &[&'static rustls::SupportedProtocolVersion]) -> CipherSuite {
        let certs = certificates().unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(certs.chain[1].clone()).unwrap();
        let server = server_config(certs.chain, certs.key).unwrap();
        // The client's own order: rustls's default, AES-256-GCM first.
        let client_provider = rustls::crypto::ring::default_provider();
        assert!(matches!(
            client_provider.cipher_suites[0].suite(),
            CipherSuite::TLS13_AES_256_GCM_SHA384
        ));
        let client = rustls::ClientConfig::builder_with_provider(Arc::new(client_provider))
            .with_protocol_versions(versions)
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut c =
            rustls::ClientConnection::new(Arc::new(client), "localhost".try_into().unwrap())
                .unwrap();
        let mut s = rustls::ServerConnection::new(Arc::new(server)).unwrap();
        for _ in 0..10 {
            if !c.is_handshaking() && !s.is_handshaking() {
                break;
            }
            let mut wire = Vec::new();
            c.write_tls(&mut wire).unwrap();
            s.read_tls(&mut wire.as_slice()).unwrap();
            s.process_new_packets().unwrap();
            let mut wire = Vec::new();
            s.write_tls(&mut wire).unwrap();
            c.read_tls(&mut wire.as_slice()).unwrap();
            c.process_new_packets().unwrap();
        }
        assert!(!c.is_handshaking(), "the handshake did not end");
        let suite = c.negotiated_cipher_suite().unwrap().suite();
        assert_eq!(Some(suite), s.negotiated_cipher_suite().map(|s| s.suite()));
        suite
    }

    #[test]
    fn the_server_picks_aes_128_gcm_as_a_go_api_server_does() {
        assert_eq!(
            agreed(&[&rustls::version::TLS13]),
            CipherSuite::TLS13_AES_128_GCM_SHA256
        );
        assert_eq!(
            agreed(&[&rustls::version::TLS12]),
            CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
        );
    }
}
