//! Mutual-TLS client authentication and certificate-bound tokens (RFC 8705)
//! against a loopback TLS provider: the client's certificate is its only
//! credential at the token endpoint, and the resource accepts the token
//! only on a connection that presents the same certificate.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine as _;
use http_body_util::{BodyExt as _, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use parking_lot::Mutex;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use session_auth::{Session, TokenManager};
use session_oauth::{
    ClientAuth, Error, Grant, OAuthClient, OAuthHttp, OAuthTokenProvider, ProviderMetadata,
};
use sha2::Digest as _;
use tokio_rustls::rustls;

/// A CA, and certificates it issues (PEM: certificate, then PKCS#8 key).
struct Pki {
    ca: CertifiedIssuer<'static, KeyPair>,
}

impl Pki {
    fn new() -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        Self {
            ca: CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap(),
        }
    }

    /// A certificate for `names` and its key, as (certificate DER, PEM of
    /// certificate and key).
    fn issue(&self, names: &[&str]) -> (Vec<u8>, String, KeyPair) {
        let key = KeyPair::generate().unwrap();
        let params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        let cert = params.signed_by(&key, &self.ca).unwrap();
        let pem = format!("{}{}", cert.pem(), key.serialize_pem());
        (cert.der().to_vec(), pem, key)
    }
}

fn thumbprint(der: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(der))
}

#[derive(Default)]
struct Provider {
    /// The certificate thumbprint registered for `mtls-svc`.
    registered: Mutex<String>,
    /// Access tokens and the certificate thumbprint each is bound to.
    bound: Mutex<HashMap<String, String>>,
    issued: AtomicUsize,
    /// Whether any request carried a secret or an Authorization header.
    saw_secret: Mutex<bool>,
}

fn answer(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .unwrap()
}

async fn handle(
    provider: Arc<Provider>,
    peer: Option<String>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path().to_owned();
    let authorization = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = request.into_body().collect().await.unwrap().to_bytes();
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    Ok(match path.as_str() {
        "/token" => {
            if form.contains_key("client_secret") || authorization.is_some() {
                *provider.saw_secret.lock() = true;
            }
            let known = peer.as_deref() == Some(provider.registered.lock().as_str());
            if form.get("client_id").map(String::as_str) != Some("mtls-svc") || !known {
                answer(
                    StatusCode::UNAUTHORIZED,
                    r#"{"error":"invalid_client"}"#.into(),
                )
            } else {
                let n = provider.issued.fetch_add(1, Ordering::SeqCst);
                let token = format!("mtls-at-{n}");
                provider
                    .bound
                    .lock()
                    .insert(token.clone(), peer.unwrap_or_default());
                answer(
                    StatusCode::OK,
                    format!(
                        r#"{{"access_token":"{token}","token_type":"Bearer","expires_in":3600}}"#
                    ),
                )
            }
        }
        "/resource" => {
            let token = authorization
                .as_deref()
                .and_then(|a| a.strip_prefix("Bearer "))
                .unwrap_or_default();
            let bound = provider.bound.lock().get(token).cloned();
            match (bound, peer) {
                (Some(bound), Some(peer)) if bound == peer => answer(StatusCode::OK, "{}".into()),
                _ => answer(StatusCode::UNAUTHORIZED, "{}".into()),
            }
        }
        _ => answer(StatusCode::NOT_FOUND, "{}".into()),
    })
}

/// Starts the TLS provider: its certificate from `pki`, client certificates
/// asked for (and verified against `pki`'s CA) but not required, so the
/// provider itself answers a client without one.
async fn start(pki: &Pki, provider: Arc<Provider>) -> String {
    let (server_der, _, server_key) = pki.issue(&["127.0.0.1"]);
    let crypto = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki.ca.der().clone()).unwrap();
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        crypto.clone(),
    )
    .allow_unauthenticated()
    .build()
    .unwrap();
    let mut config = rustls::ServerConfig::builder_with_provider(crypto)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![server_der.into()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(server_key.serialize_der().into()),
        )
        .unwrap();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "https://127.0.0.1:{}",
        listener.local_addr().unwrap().port()
    );
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            let (acceptor, provider) = (acceptor.clone(), provider.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(socket).await else {
                    return;
                };
                let peer = tls
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|chain| chain.first())
                    .map(|cert| thumbprint(cert));
                let service = hyper::service::service_fn(move |request| {
                    handle(provider.clone(), peer.clone(), request)
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    url
}

fn oauth_client(url: &str, ca: &reqwest::Certificate, identity: Option<&str>) -> OAuthClient {
    let mut http = OAuthHttp::builder().root_certificate(ca.clone());
    if let Some(pem) = identity {
        http = http.identity(reqwest::Identity::from_pem(pem.as_bytes()).unwrap());
    }
    OAuthClient::builder(
        ProviderMetadata::new(&format!("{url}/token")).unwrap(),
        "mtls-svc",
    )
    .client_auth(ClientAuth::TlsClientAuth)
    .http(http.build().unwrap())
    .build()
    .unwrap()
}

#[tokio::test]
async fn the_certificate_authenticates_the_client_and_binds_its_tokens() {
    let pki = Pki::new();
    let provider = Arc::new(Provider::default());
    let (client_der, client_pem, _) = pki.issue(&["mtls-svc"]);
    *provider.registered.lock() = thumbprint(&client_der);
    let url = start(&pki, provider.clone()).await;
    let ca = reqwest::Certificate::from_pem(pki.ca.pem().as_bytes()).unwrap();

    // The certificate is the client's only credential.
    let client = oauth_client(&url, &ca, Some(&client_pem));
    let tokens = client.client_credentials().await.unwrap();
    assert!(
        !*provider.saw_secret.lock(),
        "no secret, no Authorization header"
    );

    // A session presenting the same certificate uses the bound token.
    let manager = TokenManager::builder(OAuthTokenProvider::new(client, Grant::ClientCredentials))
        .initial_tokens(tokens.clone())
        .build();
    let session = Session::builder()
        .base_url(format!("{url}/"))
        .identity(reqwest::Identity::from_pem(client_pem.as_bytes()).unwrap())
        .root_certificate(ca.clone())
        .tokens(manager)
        .no_retry()
        .build()
        .unwrap();
    assert_eq!(session.get("resource").send().await.unwrap().status(), 200);

    // The token without the certificate is refused.
    let without = Session::builder()
        .base_url(format!("{url}/"))
        .root_certificate(ca.clone())
        .auth(session_auth::BearerAuth::new(
            tokens.access_token().expose_secret(),
        ))
        .no_retry()
        .build()
        .unwrap();
    assert_eq!(without.get("resource").send().await.unwrap().status(), 401);

    // No certificate, or one the provider doesn't know: refused, typed.
    let refused = oauth_client(&url, &ca, None)
        .client_credentials()
        .await
        .unwrap_err();
    assert!(
        matches!(refused, Error::InvalidClient { .. }),
        "{refused:?}"
    );
    let (_, stranger_pem, _) = pki.issue(&["mtls-svc"]);
    let refused = oauth_client(&url, &ca, Some(&stranger_pem))
        .client_credentials()
        .await
        .unwrap_err();
    assert!(
        matches!(refused, Error::InvalidClient { .. }),
        "{refused:?}"
    );
}
