//! A strict loopback authorization server for the OAuth tests.
//!
//! Clients: `native-app` (public: PKCE S256 required; redirect
//! `http://127.0.0.1:<any port>/callback`, RFC 8252) and `svc`
//! (confidential, secret with reserved characters). Codes are single-use and
//! bound to their redirect URI and challenge; refresh tokens rotate and a
//! reused one revokes its whole family; ID tokens are ES256 from keys made at
//! start-up, and the signing key can be rotated.

#![allow(dead_code, unreachable_pub)]

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Json, Redirect, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use parking_lot::Mutex;
use serde_json::{Value, json};
use sha2::Digest as _;

pub const SVC_SECRET: &str = "s3cr:t %+ é/=&";
/// The service account the JWT-bearer grant signs as.
pub const SERVICE_ACCOUNT: &str = "reports@svc.example.com";
/// RFC 8037's Ed25519 example key, registered for the client `ed-svc`.
pub const ED_PRIVATE_JWK: &str = r#"{"kty":"OKP","crv":"Ed25519","kid":"ed-1","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
const ED_PUBLIC_JWK: &str = r#"{"kty":"OKP","crv":"Ed25519","kid":"ed-1","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
const JWT_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// `der` as a PEM block.
pub fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// A new P-256 key as PKCS#8 PEM, and its public key for checking.
pub fn new_ec_pem() -> (String, jsonwebtoken::DecodingKey) {
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
    let pkcs8 =
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
            .unwrap();
    let encoding = EncodingKey::from_ec_der(pkcs8.as_ref());
    let jwk = Jwk::from_encoding_key(&encoding, Algorithm::ES256).unwrap();
    (
        pem("PRIVATE KEY", pkcs8.as_ref()),
        jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap(),
    )
}

/// A new 2048-bit RSA key as PKCS#8 PEM, and its public key for checking.
pub fn new_rsa_pem() -> (String, jsonwebtoken::DecodingKey) {
    use aws_lc_rs::encoding::AsDer as _;
    let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let der = pair.as_der().unwrap();
    let pem = pem("PRIVATE KEY", der.as_ref());
    let encoding = EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap();
    let jwk = Jwk::from_encoding_key(&encoding, Algorithm::RS256).unwrap();
    (pem, jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap())
}
pub const USER: (&str, &str) = ("ada@example.com", "correct horse");

/// What the provider puts in its authorization responses' `iss`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IssParam {
    /// Its own issuer identifier, as it promises in its metadata.
    Own,
    /// None, against its promise.
    Missing,
    /// Another provider's (what a mix-up attacker's answer looks like).
    Foreign,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tweak {
    /// A refresh's ID token names another user.
    SwappedSub,
    WrongAud,
    WrongIss,
    WrongNonce,
    Expired,
    FutureIat,
}

struct Key {
    kid: String,
    encoding: EncodingKey,
    jwk: Jwk,
}

fn new_key(kid: &str) -> Key {
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
    let pkcs8 =
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
            .unwrap();
    let encoding = EncodingKey::from_ec_der(pkcs8.as_ref());
    let mut jwk = Jwk::from_encoding_key(&encoding, Algorithm::ES256).unwrap();
    jwk.common.key_id = Some(kid.to_owned());
    Key {
        kid: kid.to_owned(),
        encoding,
        jwk,
    }
}

struct CodeGrant {
    client_id: String,
    redirect_uri: String,
    challenge: Option<String>,
    nonce: Option<String>,
    scope: String,
    /// The thumbprint of the DPoP key the code was asked for with.
    dpop_jkt: Option<String>,
}

struct RefreshInfo {
    family: usize,
    client_id: String,
    sub: String,
    used: bool,
    /// Whether `openid` was granted: a refresh then brings an ID token too.
    openid: bool,
}

#[derive(Default)]
struct Device {
    polls: usize,
}

pub struct AuthState {
    pub issuer: Mutex<String>,
    codes: Mutex<HashMap<String, CodeGrant>>,
    access: Mutex<HashMap<String, (String, String, String)>>, // token -> (client, sub, scope)
    refresh: Mutex<HashMap<String, RefreshInfo>>,
    dead_families: Mutex<HashSet<usize>>,
    devices: Mutex<HashMap<String, Device>>,
    keys: Mutex<Vec<Key>>,
    next: AtomicUsize,
    pub token_calls: AtomicUsize,
    pub jwks_fetches: AtomicUsize,
    pub deny: Mutex<bool>,
    /// The `iss` the authorization responses carry (RFC 9207).
    pub iss_param: Mutex<IssParam>,
    pub tweak: Mutex<Option<Tweak>>,
    /// Device flow: polls answered `authorization_pending` (the second one
    /// `slow_down`) before the outcome.
    pub device_pending_polls: Mutex<usize>,
    /// Device flow outcome: None approve, Some(code) an error.
    pub device_outcome: Mutex<Option<&'static str>>,
    pub last_basic_auth: Mutex<Option<(String, String)>>,
    /// `(endpoint, client id)` of every request whose client authenticated.
    pub authenticated: Mutex<Vec<(&'static str, String)>>,
    /// When set, /token accepts the request and never answers.
    pub stall_token: Mutex<bool>,
    /// `private_key_jwt` clients and the keys their assertions must verify with.
    client_keys: Mutex<HashMap<String, jsonwebtoken::DecodingKey>>,
    /// Every client assertion and JWT-bearer assertion id seen (replays refused).
    seen_jti: Mutex<HashSet<String>>,
    /// Client assertions must name the token endpoint instead of the issuer.
    pub assertion_aud_is_token_endpoint: Mutex<bool>,
    pub last_client_assertion: Mutex<Option<String>>,
    /// The service account's private key (PKCS#8 PEM) and public key.
    pub service_account_pem: String,
    service_account_key: jsonwebtoken::DecodingKey,
    /// The last token exchange's form.
    pub last_exchange: Mutex<Option<HashMap<String, String>>>,
    /// /userinfo answers with a signed JWT when asked for one.
    pub sign_userinfo: Mutex<bool>,
    /// /userinfo says the user is someone else.
    pub userinfo_sub: Mutex<Option<String>>,
    /// Discovery says authorization requests must be pushed, and /authorize
    /// takes no other.
    pub require_par: Mutex<bool>,
    /// Pushed requests by `request_uri`, each usable once.
    pushed: Mutex<HashMap<String, HashMap<String, String>>>,
    pub pushes: AtomicUsize,
    /// The nonce the token endpoint (`as`) and the resource (`rs`) demand in
    /// DPoP proofs, when they demand one.
    pub as_nonce: Mutex<Option<String>>,
    pub rs_nonce: Mutex<Option<String>>,
    /// Nonce challenges sent by the token endpoint and the resource.
    pub as_challenges: AtomicUsize,
    pub rs_challenges: AtomicUsize,
    /// Tokens (access and refresh) bound to a DPoP key's thumbprint.
    bound: Mutex<HashMap<String, String>>,
}

#[derive(Clone)]
pub struct AuthServer(pub Arc<AuthState>);

impl AuthServer {
    pub async fn start() -> (Self, String) {
        let (service_account_pem, service_account_key) = new_rsa_pem();
        let ed_public: Jwk = serde_json::from_str(ED_PUBLIC_JWK).unwrap();
        let mut client_keys = HashMap::new();
        client_keys.insert(
            "ed-svc".to_owned(),
            jsonwebtoken::DecodingKey::from_jwk(&ed_public).unwrap(),
        );
        let state = AuthState {
            issuer: Mutex::new(String::new()),
            codes: Mutex::default(),
            access: Mutex::default(),
            refresh: Mutex::default(),
            dead_families: Mutex::default(),
            devices: Mutex::default(),
            keys: Mutex::new(vec![new_key("key-1")]),
            next: AtomicUsize::new(0),
            token_calls: AtomicUsize::new(0),
            jwks_fetches: AtomicUsize::new(0),
            deny: Mutex::new(false),
            iss_param: Mutex::new(IssParam::Own),
            tweak: Mutex::new(None),
            device_pending_polls: Mutex::new(3),
            device_outcome: Mutex::new(None),
            last_basic_auth: Mutex::new(None),
            authenticated: Mutex::default(),
            stall_token: Mutex::new(false),
            client_keys: Mutex::new(client_keys),
            seen_jti: Mutex::default(),
            assertion_aud_is_token_endpoint: Mutex::new(false),
            last_client_assertion: Mutex::new(None),
            service_account_pem,
            service_account_key,
            last_exchange: Mutex::new(None),
            sign_userinfo: Mutex::new(false),
            userinfo_sub: Mutex::new(None),
            require_par: Mutex::new(false),
            pushed: Mutex::default(),
            pushes: AtomicUsize::new(0),
            as_nonce: Mutex::new(None),
            rs_nonce: Mutex::new(None),
            as_challenges: AtomicUsize::new(0),
            rs_challenges: AtomicUsize::new(0),
            bound: Mutex::default(),
        };
        let server = Self(Arc::new(state));
        let router = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .route("/revoke", post(revoke))
            .route("/introspect", post(introspect))
            .route("/device", post(device))
            .route("/jwks", get(jwks))
            .route("/userinfo", get(userinfo))
            .route("/par", post(par))
            .route("/resource", get(resource))
            .with_state(server.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        *server.0.issuer.lock() = url.clone();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        (server, url)
    }

    /// The thumbprint of the DPoP key `token` is bound to, if it is bound.
    pub fn bound_to(&self, token: &str) -> Option<String> {
        self.0.bound.lock().get(token).cloned()
    }

    /// Checks the DPoP proof in `headers` for `method` on `url` (and, for a
    /// resource request, the access token `ath` hashes): its signature by
    /// the key in its header, `typ`, `htm`, `htu`, a recent `iat`, a `jti`
    /// never seen, and `nonce` when one is demanded. Returns the key's
    /// thumbprint, or why the proof is refused (`use_dpop_nonce` when only
    /// the nonce is missing or stale).
    pub fn check_proof(
        &self,
        headers: &HeaderMap,
        method: &str,
        url: &str,
        access_token: Option<&str>,
        nonce: Option<&str>,
    ) -> Result<String, &'static str> {
        let proof = headers
            .get("dpop")
            .and_then(|v| v.to_str().ok())
            .ok_or("no DPoP proof")?;
        let header = jsonwebtoken::decode_header(proof).map_err(|_| "malformed proof")?;
        if header.typ.as_deref() != Some("dpop+jwt") || header.alg != Algorithm::ES256 {
            return Err("not a DPoP proof");
        }
        let jwk = header.jwk.ok_or("no key in the proof")?;
        let key = jsonwebtoken::DecodingKey::from_jwk(&jwk).map_err(|_| "unusable key")?;
        let mut validation = jsonwebtoken::Validation::new(Algorithm::ES256);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_aud = false;
        let claims = jsonwebtoken::decode::<Value>(proof, &key, &validation)
            .map_err(|_| "the proof's signature does not verify")?
            .claims;
        if claims["htm"] != method {
            return Err("the proof is for another method");
        }
        if claims["htu"] != url {
            return Err("the proof is for another URL");
        }
        let now = std::time::SystemTime::UNIX_EPOCH
            .elapsed()
            .unwrap()
            .as_secs() as i64;
        if claims["iat"]
            .as_i64()
            .is_none_or(|iat| (iat - now).abs() > 60)
        {
            return Err("the proof is not fresh");
        }
        if let Some(token) = access_token {
            let ath = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(sha2::Sha256::digest(token.as_bytes()));
            if claims["ath"] != ath.as_str() {
                return Err("the proof is for another token");
            }
        }
        if let Some(nonce) = nonce
            && claims["nonce"] != nonce
        {
            return Err("use_dpop_nonce");
        }
        let jti = claims["jti"].as_str().ok_or("no jti")?.to_owned();
        if !self.0.seen_jti.lock().insert(jti) {
            return Err("the proof was used before");
        }
        jwk.thumbprint(jsonwebtoken::jwk::ThumbprintHash::SHA256)
            .map_err(|_| "unusable key")
    }

    /// `issue`, with the tokens bound to `jkt` (and typed DPoP) when the
    /// request proved a key.
    fn issue_for(
        &self,
        jkt: Option<&str>,
        client_id: &str,
        sub: &str,
        scope: &str,
        family: Option<usize>,
        nonce: Option<&str>,
    ) -> Value {
        let mut body = self.issue(client_id, sub, scope, family, nonce);
        if let Some(jkt) = jkt {
            body["token_type"] = json!("DPoP");
            let mut bound = self.0.bound.lock();
            for field in ["access_token", "refresh_token"] {
                if let Some(token) = body[field].as_str() {
                    bound.insert(token.to_owned(), jkt.to_owned());
                }
            }
        }
        body
    }

    /// Registers `client_id` as a `private_key_jwt` client with `key`.
    pub fn register_key(&self, client_id: &str, key: jsonwebtoken::DecodingKey) {
        self.0.client_keys.lock().insert(client_id.to_owned(), key);
    }

    /// A service-account key file for the JWT-bearer grant.
    pub fn service_account_json(&self) -> String {
        let issuer = self.0.issuer.lock().clone();
        json!({
            "type": "service_account",
            "client_email": SERVICE_ACCOUNT,
            "private_key_id": "sa-key-1",
            "private_key": self.0.service_account_pem,
            "token_uri": format!("{issuer}/token"),
        })
        .to_string()
    }

    /// Verifies a signed assertion about `expected_iss` addressed to one of
    /// `audiences`; its `jti` may be used once. Returns its claims.
    fn check_assertion(
        &self,
        assertion: &str,
        key: &jsonwebtoken::DecodingKey,
        expected_iss: Option<&str>,
        audiences: &[String],
    ) -> Result<Value, &'static str> {
        let header = jsonwebtoken::decode_header(assertion).map_err(|_| "malformed")?;
        let mut validation = jsonwebtoken::Validation::new(header.alg);
        validation.set_audience(audiences);
        validation.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
        let data = jsonwebtoken::decode::<Value>(assertion, key, &validation)
            .map_err(|_| "the assertion does not verify")?;
        let claims = data.claims;
        if let Some(iss) = expected_iss
            && (claims["iss"] != iss || claims["sub"] != iss)
        {
            return Err("iss and sub must name the client");
        }
        let now = std::time::SystemTime::UNIX_EPOCH
            .elapsed()
            .unwrap()
            .as_secs() as i64;
        if claims["exp"].as_i64().is_none_or(|exp| exp > now + 600) {
            return Err("the assertion lives too long");
        }
        let jti = claims["jti"].as_str().ok_or("no jti")?.to_owned();
        if !self.0.seen_jti.lock().insert(jti) {
            return Err("the assertion was used before");
        }
        Ok(claims)
    }

    /// Signs new ID tokens with a new key (the old one stays published).
    pub fn rotate_key(&self, kid: &str) {
        self.0.keys.lock().push(new_key(kid));
    }

    /// `token` stops working.
    pub fn forget(&self, token: &str) {
        self.0.access.lock().remove(token);
    }

    /// Every access token issued so far stops working.
    pub fn forget_access_tokens(&self) {
        self.0.access.lock().clear();
    }

    pub fn is_active(&self, access: &str) -> bool {
        self.0.access.lock().contains_key(access)
    }

    fn n(&self) -> usize {
        self.0.next.fetch_add(1, Ordering::SeqCst) + 1
    }

    fn issue(
        &self,
        client_id: &str,
        sub: &str,
        scope: &str,
        family: Option<usize>,
        nonce: Option<&str>,
    ) -> Value {
        let n = self.n();
        let access = format!("at-{n}");
        let refresh = format!("rt-{n}");
        self.0
            .access
            .lock()
            .insert(access.clone(), (client_id.into(), sub.into(), scope.into()));
        let family = family.unwrap_or(n);
        self.0.refresh.lock().insert(
            refresh.clone(),
            RefreshInfo {
                family,
                client_id: client_id.into(),
                sub: sub.into(),
                used: false,
                openid: scope.split(' ').any(|s| s == "openid"),
            },
        );
        let mut body = json!({
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": 3600,
            "refresh_token": refresh,
            "scope": scope,
        });
        if scope.split(' ').any(|s| s == "openid") {
            body["id_token"] = json!(self.id_token(client_id, sub, nonce));
        }
        body
    }

    pub fn id_token(&self, client_id: &str, sub: &str, nonce: Option<&str>) -> String {
        let now = std::time::SystemTime::UNIX_EPOCH
            .elapsed()
            .unwrap()
            .as_secs() as i64;
        let tweak = *self.0.tweak.lock();
        let issuer = self.0.issuer.lock().clone();
        let mut claims = json!({
            "iss": if tweak == Some(Tweak::WrongIss) { "https://evil.example".to_owned() } else { issuer },
            "sub": sub,
            "aud": if tweak == Some(Tweak::WrongAud) { "someone-else" } else { client_id },
            "iat": if tweak == Some(Tweak::FutureIat) { now + 3600 } else { now },
            "exp": if tweak == Some(Tweak::Expired) { now - 600 } else { now + 300 },
        });
        if let Some(nonce) = nonce {
            claims["nonce"] = json!(if tweak == Some(Tweak::WrongNonce) {
                "not-the-nonce"
            } else {
                nonce
            });
        }
        self.sign(&claims)
    }

    /// `claims` signed with the newest signing key (ES256, with its `kid`).
    pub fn sign(&self, claims: &Value) -> String {
        let keys = self.0.keys.lock();
        let key = keys.last().unwrap();
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(key.kid.clone());
        jsonwebtoken::encode(&header, claims, &key.encoding).unwrap()
    }
}

fn oauth_error(status: StatusCode, code: &str, description: &str) -> Response {
    (
        status,
        Json(json!({"error": code, "error_description": description})),
    )
        .into_response()
}

async fn discovery(State(s): State<AuthServer>) -> Json<Value> {
    let issuer = s.0.issuer.lock().clone();
    Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "revocation_endpoint": format!("{issuer}/revoke"),
        "introspection_endpoint": format!("{issuer}/introspect"),
        "device_authorization_endpoint": format!("{issuer}/device"),
        "jwks_uri": format!("{issuer}/jwks"),
        "userinfo_endpoint": format!("{issuer}/userinfo"),
        "end_session_endpoint": format!("{issuer}/logout"),
        "pushed_authorization_request_endpoint": format!("{issuer}/par"),
        "require_pushed_authorization_requests": *s.0.require_par.lock(),
        "authorization_response_iss_parameter_supported": true,
        "code_challenge_methods_supported": ["S256"],
    }))
}

async fn jwks(State(s): State<AuthServer>) -> Json<JwkSet> {
    s.0.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    Json(JwkSet {
        keys: s.0.keys.lock().iter().map(|k| k.jwk.clone()).collect(),
    })
}

fn loopback_callback(uri: &str) -> bool {
    url::Url::parse(uri).is_ok_and(|u| {
        u.scheme() == "http"
            && u.host_str() == Some("127.0.0.1")
            && u.path() == "/callback"
            && u.query().is_none()
    })
}

async fn authorize(
    State(s): State<AuthServer>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let q = match q.get("request_uri") {
        Some(uri) => match s.0.pushed.lock().remove(uri) {
            Some(pushed) if pushed.get("client_id") == q.get("client_id") => pushed,
            _ => {
                return (StatusCode::BAD_REQUEST, "unknown or used request_uri").into_response();
            }
        },
        None if *s.0.require_par.lock() => {
            return (StatusCode::BAD_REQUEST, "push the request first").into_response();
        }
        None => q,
    };
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    if get("client_id") != "native-app" {
        return (StatusCode::BAD_REQUEST, "unknown client").into_response();
    }
    let redirect = get("redirect_uri");
    if !loopback_callback(&redirect) {
        // Never redirect to an unregistered URI.
        return (StatusCode::BAD_REQUEST, "redirect_uri is not registered").into_response();
    }
    let state = get("state");
    let iss = match *s.0.iss_param.lock() {
        IssParam::Own => Some(s.0.issuer.lock().clone()),
        IssParam::Missing => None,
        IssParam::Foreign => Some("https://evil.example".to_owned()),
    };
    let back = |params: &[(&str, &str)]| {
        let mut url = url::Url::parse(&redirect).unwrap();
        url.query_pairs_mut()
            .extend_pairs(params)
            .append_pair("state", &state);
        if let Some(iss) = &iss {
            url.query_pairs_mut().append_pair("iss", iss);
        }
        Redirect::to(url.as_str()).into_response()
    };
    if get("response_type") != "code" {
        return back(&[("error", "unsupported_response_type")]);
    }
    if get("code_challenge_method") != "S256" || get("code_challenge").is_empty() {
        return back(&[
            ("error", "invalid_request"),
            ("error_description", "PKCE S256 is required"),
        ]);
    }
    if *s.0.deny.lock() {
        return back(&[
            ("error", "access_denied"),
            ("error_description", "the user said no"),
        ]);
    }
    let code = format!("code-{}", s.n());
    s.0.codes.lock().insert(
        code.clone(),
        CodeGrant {
            client_id: get("client_id"),
            redirect_uri: redirect.clone(),
            challenge: Some(get("code_challenge")),
            nonce: q.get("nonce").cloned(),
            scope: get("scope"),
            dpop_jkt: q.get("dpop_jkt").cloned(),
        },
    );
    back(&[("code", &code)])
}

/// Client authentication: Basic (id and secret form-urlencoded, then
/// base64) or the body. Returns the client id, or an error response.
#[allow(clippy::result_large_err)]
fn authenticate_client(
    s: &AuthServer,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<String, Response> {
    if form.get("client_assertion_type").map(String::as_str) == Some(JWT_ASSERTION) {
        let id = form.get("client_id").cloned().unwrap_or_default();
        let assertion = form.get("client_assertion").cloned().unwrap_or_default();
        *s.0.last_client_assertion.lock() = Some(assertion.clone());
        let refused = |why: &str| oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", why);
        if headers.contains_key("authorization") || form.contains_key("client_secret") {
            return Err(refused("one authentication method at a time"));
        }
        let Some(key) = s.0.client_keys.lock().get(&id).cloned() else {
            return Err(refused("not a private_key_jwt client"));
        };
        let issuer = s.0.issuer.lock().clone();
        let audience = if *s.0.assertion_aud_is_token_endpoint.lock() {
            format!("{issuer}/token")
        } else {
            issuer
        };
        return s
            .check_assertion(&assertion, &key, Some(&id), &[audience])
            .map(|_| id)
            .map_err(refused);
    }
    let (id, secret) = if let Some(basic) = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
    {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(basic)
            .unwrap_or_default();
        let decoded = String::from_utf8(decoded).unwrap_or_default();
        let (id, secret) = decoded.split_once(':').unwrap_or((&decoded, ""));
        let unescape = |v: &str| {
            url::form_urlencoded::parse(format!("x={v}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        let pair = (unescape(id), Some(unescape(secret)));
        *s.0.last_basic_auth.lock() = Some((pair.0.clone(), pair.1.clone().unwrap_or_default()));
        pair
    } else {
        (
            form.get("client_id").cloned().unwrap_or_default(),
            form.get("client_secret").cloned(),
        )
    };
    match id.as_str() {
        "native-app" if secret.as_deref().unwrap_or("").is_empty() => Ok(id),
        "svc" if secret.as_deref() == Some(SVC_SECRET) => Ok(id),
        _ => Err(oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        )),
    }
}

async fn token(
    State(s): State<AuthServer>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> Response {
    s.0.token_calls.fetch_add(1, Ordering::SeqCst);
    if *s.0.stall_token.lock() {
        std::future::pending::<()>().await;
    }
    let client = match authenticate_client(&s, &headers, &form) {
        Ok(c) => c,
        Err(r) => return r,
    };
    s.0.authenticated.lock().push(("token", client.clone()));
    // DPoP: a proof binds the tokens to its key.
    let jkt = if headers.contains_key("dpop") {
        let token_endpoint = format!("{}/token", s.0.issuer.lock());
        let demanded = s.0.as_nonce.lock().clone();
        match s.check_proof(&headers, "POST", &token_endpoint, None, demanded.as_deref()) {
            Ok(jkt) => Some(jkt),
            Err("use_dpop_nonce") => {
                s.0.as_challenges.fetch_add(1, Ordering::SeqCst);
                let mut answer = oauth_error(StatusCode::BAD_REQUEST, "use_dpop_nonce", "");
                answer
                    .headers_mut()
                    .insert("dpop-nonce", demanded.unwrap_or_default().parse().unwrap());
                return answer;
            }
            Err(why) => return oauth_error(StatusCode::BAD_REQUEST, "invalid_dpop_proof", why),
        }
    } else {
        None
    };
    let jkt = jkt.as_deref();
    let get = |k: &str| form.get(k).cloned().unwrap_or_default();
    match get("grant_type").as_str() {
        "authorization_code" => {
            let Some(grant) = s.0.codes.lock().remove(&get("code")) else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "unknown or used code",
                );
            };
            if grant.client_id != client || grant.redirect_uri != get("redirect_uri") {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "redirect_uri mismatch",
                );
            }
            if grant.dpop_jkt.is_some() && grant.dpop_jkt.as_deref() != jkt {
                // RFC 9449 §10: a code asked for with `dpop_jkt` is
                // redeemed only with a proof by that key.
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "the code is bound to another key",
                );
            }
            let verifier = get("code_verifier");
            let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(sha2::Sha256::digest(verifier.as_bytes()));
            if grant.challenge.as_deref() != Some(computed.as_str()) {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "PKCE verification failed",
                );
            }
            Json(s.issue_for(
                jkt,
                &client,
                USER.0,
                &grant.scope,
                None,
                grant.nonce.as_deref(),
            ))
            .into_response()
        }
        "client_credentials" if matches!(client.as_str(), "svc" | "keyed-svc" | "ed-svc") => {
            Json(s.issue_for(jkt, &client, "svc", &get("scope"), None, None)).into_response()
        }
        "password" => {
            if (get("username").as_str(), get("password").as_str()) != USER {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "wrong username or password",
                );
            }
            Json(s.issue_for(jkt, &client, USER.0, &get("scope"), None, None)).into_response()
        }
        "refresh_token" => {
            let presented = get("refresh_token");
            let mut refresh = s.0.refresh.lock();
            let Some(info) = refresh.get_mut(&presented) else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "unknown refresh token",
                );
            };
            if s.bound_to(&presented)
                .is_some_and(|bound| Some(bound.as_str()) != jkt)
            {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "the refresh token is bound to another key",
                );
            }
            if info.used || s.0.dead_families.lock().contains(&info.family) {
                // Reuse: revoke the whole family.
                s.0.dead_families.lock().insert(info.family);
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "refresh token reuse detected",
                );
            }
            info.used = true;
            let (family, client_id, sub) = (info.family, info.client_id.clone(), info.sub.clone());
            let openid = info.openid;
            drop(refresh);
            let mut body = s.issue_for(jkt, &client_id, &sub, "", Some(family), None);
            if openid {
                if let Some(next) = body["refresh_token"].as_str()
                    && let Some(info) = s.0.refresh.lock().get_mut(next)
                {
                    info.openid = true;
                }
                let named = if *s.0.tweak.lock() == Some(Tweak::SwappedSub) {
                    "mallory"
                } else {
                    sub.as_str()
                };
                body["id_token"] = json!(s.id_token(&client_id, named, None));
            }
            Json(body).into_response()
        }
        "urn:ietf:params:oauth:grant-type:device_code" => {
            let mut devices = s.0.devices.lock();
            let Some(device) = devices.get_mut(&get("device_code")) else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "unknown device code",
                );
            };
            device.polls += 1;
            let pending = *s.0.device_pending_polls.lock();
            if device.polls <= pending {
                let code = if device.polls == 2 {
                    "slow_down"
                } else {
                    "authorization_pending"
                };
                return oauth_error(StatusCode::BAD_REQUEST, code, "");
            }
            if let Some(error) = *s.0.device_outcome.lock() {
                return oauth_error(StatusCode::BAD_REQUEST, error, "");
            }
            drop(devices);
            Json(s.issue_for(jkt, &client, USER.0, "", None, None)).into_response()
        }
        "urn:ietf:params:oauth:grant-type:jwt-bearer" => {
            let token_endpoint = format!("{}/token", s.0.issuer.lock());
            let claims = match s.check_assertion(
                &get("assertion"),
                &s.0.service_account_key,
                None,
                &[token_endpoint],
            ) {
                Ok(claims) if claims["iss"] == SERVICE_ACCOUNT => claims,
                Ok(_) => {
                    return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "unknown issuer");
                }
                Err(why) => return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", why),
            };
            let sub = claims["sub"].as_str().unwrap_or_default().to_owned();
            let mut body = s.issue_for(jkt, &client, &sub, &get("scope"), None, None);
            body.as_object_mut().unwrap().remove("refresh_token");
            Json(body).into_response()
        }
        "urn:ietf:params:oauth:grant-type:token-exchange" if client == "svc" => {
            *s.0.last_exchange.lock() = Some(form.clone());
            let subject = s.0.access.lock().get(&get("subject_token")).cloned();
            let Some((_, sub, _)) = subject else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "unknown subject token",
                );
            };
            if get("subject_token_type") != "urn:ietf:params:oauth:token-type:access_token" {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "unsupported subject token type",
                );
            }
            let mut body = s.issue_for(jkt, &client, &sub, &get("scope"), None, None);
            let body_map = body.as_object_mut().unwrap();
            body_map.remove("refresh_token");
            body_map.insert(
                "issued_token_type".into(),
                json!("urn:ietf:params:oauth:token-type:access_token"),
            );
            Json(body).into_response()
        }
        _ => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "not supported",
        ),
    }
}

/// The access token a request carries as `Bearer`, if it is active:
/// `(client, sub)`.
fn bearer(s: &AuthServer, headers: &HeaderMap) -> Option<(String, String)> {
    let authorization = headers.get("authorization")?.to_str().ok()?;
    let token = authorization
        .strip_prefix("Bearer ")
        .or_else(|| authorization.strip_prefix("DPoP "))?;
    s.0.access
        .lock()
        .get(token)
        .map(|(client, sub, _)| (client.clone(), sub.clone()))
}

async fn userinfo(State(s): State<AuthServer>, headers: HeaderMap) -> Response {
    if let Err(refused) = check_binding(&s, &headers, "userinfo") {
        return refused;
    }
    let Some((client, sub)) = bearer(&s, &headers) else {
        return (
            StatusCode::UNAUTHORIZED,
            [("www-authenticate", "Bearer error=\"invalid_token\"")],
        )
            .into_response();
    };
    let sub = s.0.userinfo_sub.lock().clone().unwrap_or(sub);
    let claims = json!({"sub": sub, "email": sub, "name": "Ada Lovelace"});
    let wants_jwt = headers
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/jwt"));
    if wants_jwt && *s.0.sign_userinfo.lock() {
        let mut signed = claims;
        signed["iss"] = json!(s.0.issuer.lock().clone());
        signed["aud"] = json!(if *s.0.tweak.lock() == Some(Tweak::WrongAud) {
            "someone-else".to_owned()
        } else {
            client
        });
        return ([("content-type", "application/jwt")], s.sign(&signed)).into_response();
    }
    Json(claims).into_response()
}

/// A protected resource: 200 with the caller's subject for an active token
/// — for a DPoP-bound one, sent as `DPoP` with a proof for this request by
/// the key it is bound to.
async fn resource(State(s): State<AuthServer>, headers: HeaderMap) -> Response {
    if let Err(refused) = check_binding(&s, &headers, "resource") {
        return refused;
    }
    match bearer(&s, &headers) {
        Some((_, sub)) => sub.into_response(),
        None => StatusCode::UNAUTHORIZED.into_response(),
    }
}

/// For a DPoP-bound token: it must come as `DPoP` with a proof for this
/// GET of `/{path}` by the key it is bound to (and the resource's nonce,
/// when one is demanded). Unbound tokens pass.
#[allow(clippy::result_large_err)]
fn check_binding(s: &AuthServer, headers: &HeaderMap, path: &str) -> Result<(), Response> {
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let token = authorization
        .split_once(' ')
        .map(|(_, t)| t)
        .unwrap_or_default();
    let Some(jkt) = s.bound_to(token) else {
        return Ok(());
    };
    let refuse = |error: &str| {
        (
            StatusCode::UNAUTHORIZED,
            [("www-authenticate", format!("DPoP error=\"{error}\""))],
        )
            .into_response()
    };
    if !authorization.starts_with("DPoP ") {
        return Err(refuse("invalid_token"));
    }
    let url = format!("{}/{path}", s.0.issuer.lock());
    let demanded = s.0.rs_nonce.lock().clone();
    match s.check_proof(headers, "GET", &url, Some(token), demanded.as_deref()) {
        Ok(proved) if proved == jkt => Ok(()),
        Ok(_) => Err(refuse("invalid_token")),
        Err("use_dpop_nonce") => {
            s.0.rs_challenges.fetch_add(1, Ordering::SeqCst);
            let mut answer = refuse("use_dpop_nonce");
            answer
                .headers_mut()
                .insert("dpop-nonce", demanded.unwrap_or_default().parse().unwrap());
            Err(answer)
        }
        Err(_) => Err(refuse("invalid_dpop_proof")),
    }
}

/// RFC 9126: the client pushes its authorization request and gets a
/// `request_uri` for it.
async fn par(
    State(s): State<AuthServer>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> Response {
    let client = match authenticate_client(&s, &headers, &form) {
        Ok(client) => client,
        Err(r) => return r,
    };
    if form.contains_key("request_uri") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "request_uri in a pushed request",
        );
    }
    s.0.pushes.fetch_add(1, Ordering::SeqCst);
    let uri = format!("urn:ietf:params:oauth:request_uri:{}", s.n());
    let mut pushed = form;
    pushed.insert("client_id".into(), client);
    pushed.remove("client_secret");
    s.0.pushed.lock().insert(uri.clone(), pushed);
    (
        StatusCode::CREATED,
        Json(json!({"request_uri": uri, "expires_in": 60})),
    )
        .into_response()
}

/// Plays the browser: follows the authorize redirect to the loopback
/// listener and returns what the listener answered.
pub async fn follow_in_browser(url: url::Url) -> reqwest::StatusCode {
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let answer = browser.get(url).send().await.unwrap();
    assert_eq!(
        answer.status(),
        303,
        "the authorization server redirects back"
    );
    let location = answer.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with("http://127.0.0.1:"), "{location}");
    browser.get(location).send().await.unwrap().status()
}

async fn revoke(
    State(s): State<AuthServer>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> Response {
    match authenticate_client(&s, &headers, &form) {
        Ok(client) => s.0.authenticated.lock().push(("revoke", client)),
        Err(r) => return r,
    }
    let token = form.get("token").cloned().unwrap_or_default();
    s.0.access.lock().remove(&token);
    if let Some(info) = s.0.refresh.lock().get(&token) {
        s.0.dead_families.lock().insert(info.family);
    }
    StatusCode::OK.into_response()
}

async fn introspect(
    State(s): State<AuthServer>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> Response {
    if let Err(r) = authenticate_client(&s, &headers, &form) {
        return r;
    }
    let token = form.get("token").cloned().unwrap_or_default();
    match s.0.access.lock().get(&token) {
        Some((client, sub, scope)) => Json(json!({"active": true, "client_id": client, "sub": sub, "scope": scope, "username": sub})).into_response(),
        None => Json(json!({"active": false})).into_response(),
    }
}

async fn device(
    State(s): State<AuthServer>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> Response {
    if let Err(r) = authenticate_client(&s, &headers, &form) {
        return r;
    }
    let n = s.n();
    let code = format!("dev-{n}");
    s.0.devices.lock().insert(code.clone(), Device::default());
    let issuer = s.0.issuer.lock().clone();
    Json(json!({
        "device_code": code,
        "user_code": format!("WDJB-MJ{n:02}"),
        "verification_uri": format!("{issuer}/activate"),
        "expires_in": 600,
        "interval": 1,
    }))
    .into_response()
}
