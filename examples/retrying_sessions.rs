//! Retrying sessions with the seed's settings: Bearer, Basic and a custom
//! API-key strategy, all with the same retries, and the typed errors for bad
//! settings.
//!
//! Run with `cargo run --example retrying_sessions`.

use async_trait::async_trait;
use session_kit::auth::{BasicAuth, BearerAuth, Session};
use session_kit::retry::RetryPolicy;
use session_kit::{AuthRequest, Authenticate, sensitive_header_value};
use session_kit_examples::demo::{API_KEY, Demo, Failure, SERVICE};
use session_kit_examples::step;

/// The seed's `ApiKeyAuthSession`, as a strategy: about ten lines.
#[derive(Debug)]
struct ApiKeyAuth(http::HeaderValue);

#[async_trait]
impl Authenticate for ApiKeyAuth {
    async fn authenticate(&self, request: &mut AuthRequest<'_>) -> session_kit::Result<()> {
        request.set_header(http::HeaderName::from_static("x-api-key"), self.0.clone());
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let demo = Demo::start(3600).await;
    let fast = || {
        RetryPolicy::builder()
            .retries(3)
            .backoff_factor(0.1)
            .build()
    };

    step(
        "Bearer (retries=3, backoff_factor=0.1; the seed's default is 5 and 2.0: waits 2, 4, 8, 16, 32 s)",
    );
    println!("default schedule: {:?}", RetryPolicy::default().schedule());
    let client = session_kit::oauth::OAuthClient::builder(
        session_kit::oauth::ProviderMetadata::new(&format!("{}/oauth/token", demo.issuer))?,
        SERVICE.0,
    )
    .client_secret(SERVICE.1)
    .build()?;
    let token = client.client_credentials().await?;
    let bearer = Session::builder()
        .base_url(&demo.api)
        .auth(BearerAuth::new(token.access_token().expose_secret()))
        .retry(fast()?)
        .build()?;
    demo.fail_next(&[Failure::Unavailable, Failure::Unavailable]);
    let response = bearer.get("orders").send().await?;
    println!(
        "bearer: {} after {} retries",
        response.status(),
        bearer.stats().retries
    );

    step("Basic (username + web-service key; prefer tokens where you can)");
    let basic = Session::builder()
        .base_url(&demo.api)
        .auth(BasicAuth::new("demo", "demo-key"))
        .retry(fast()?)
        .build()?;
    demo.fail_next(&[Failure::Unavailable]);
    let response = basic.get("basic").send().await?;
    println!(
        "basic: {} after {} retry",
        response.status(),
        basic.stats().retries
    );

    step("A custom API-key strategy keeps the retries");
    let keyed = Session::builder()
        .base_url(&demo.api)
        .auth(ApiKeyAuth(sensitive_header_value(API_KEY)?))
        .retry(fast()?)
        .build()?;
    demo.fail_next(&[Failure::TooManyRequests(0), Failure::Unavailable]);
    let response = keyed.get("keyed").send().await?;
    println!(
        "api key: {} after {} retries",
        response.status(),
        keyed.stats().retries
    );

    step("Bad settings are typed errors");
    for result in [
        RetryPolicy::builder().retries(0).build(),
        RetryPolicy::builder().retries(-1).build(),
        RetryPolicy::builder().backoff_factor(0.0).build(),
        RetryPolicy::builder().backoff_factor(-1.0).build(),
        RetryPolicy::builder().status_forcelist([500, 700]).build(),
    ] {
        match result {
            Ok(_) => println!("unexpectedly valid"),
            Err(e) => println!("{e}"),
        }
    }
    Ok(())
}
