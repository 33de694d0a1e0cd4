//! HTTPS for the page and signaling: browsers give camera access only to pages served over
//! https (or from localhost), so a phone on the LAN needs it.

use std::path::PathBuf;

use axum_server::tls_rustls::RustlsConfig;

/// Where the certificate comes from.
#[derive(Debug, Clone)]
pub(crate) enum TlsSource {
    /// PEM files: the certificate chain and its private key.
    Files { cert: PathBuf, key: PathBuf },
    /// A certificate made at start for these names, for testing; browsers warn about it.
    SelfSigned(Vec<String>),
}

/// The rustls configuration for `source`.
pub(crate) async fn config(source: TlsSource) -> anyhow::Result<RustlsConfig> {
    match source {
        TlsSource::Files { cert, key } => {
            RustlsConfig::from_pem_file(&cert, &key).await.map_err(|e| {
                anyhow::anyhow!(
                    "reading TLS certificate {} and key {}: {e}",
                    cert.display(),
                    key.display()
                )
            })
        }
        TlsSource::SelfSigned(names) => {
            let made = rcgen::generate_simple_self_signed(names)?;
            Ok(RustlsConfig::from_pem(
                made.cert.pem().into_bytes(),
                made.signing_key.serialize_pem().into_bytes(),
            )
            .await?)
        }
    }
}
