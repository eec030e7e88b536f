//! One sign-in shared by two API clients; restoring stored tokens; the
//! closed-session error (the seed's device cloud client).
//!
//! Run with `cargo run --example shared_session`.

use async_trait::async_trait;
use session_kit::auth::{Session, SignIn, SignInCredentials, SignInProvider, TokenManager};
use session_kit::oauth::{OAuthClient, ProviderMetadata};
use session_kit::{MemoryStore, SharedSessionStore, TokenSet};
use session_kit_examples::demo::{Demo, USER};
use session_kit_examples::step;

/// The device cloud's login endpoint (here: the demo's OAuth server).
#[derive(Debug)]
struct DeviceCloud(OAuthClient);

#[async_trait]
impl SignIn for DeviceCloud {
    async fn sign_in_with_password(
        &self,
        user: &str,
        password: &str,
    ) -> session_kit::Result<TokenSet> {
        self.0
            .password(user, &password.to_owned().into())
            .await
            .map_err(|e| e.into_core())
    }
    async fn refresh(&self, tokens: &TokenSet) -> session_kit::Result<TokenSet> {
        self.0.refresh(tokens).await.map_err(|e| e.into_core())
    }
}

/// Two API clients holding the same session.
struct DevicesApi(Session);
struct ReportsApi(Session);

impl DevicesApi {
    async fn list(&self) -> Result<u16, session_kit::auth::Error> {
        Ok(self.0.get("devices").send().await?.status().as_u16())
    }
}

impl ReportsApi {
    async fn daily(&self) -> Result<u16, session_kit::auth::Error> {
        Ok(self.0.get("reports/daily").send().await?.status().as_u16())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let demo = Demo::start(3600).await;
    let oauth = || -> Result<OAuthClient, session_kit::oauth::Error> {
        OAuthClient::builder(
            ProviderMetadata::new(&format!("{}/oauth/token", demo.issuer))?,
            "service",
        )
        .client_secret("service-secret")
        .build()
    };
    let store = SharedSessionStore::new(MemoryStore::new());

    step("Sign in once; two API clients share the session");
    let provider = SignInProvider::new(
        DeviceCloud(oauth()?),
        Some(SignInCredentials::password(USER.0, USER.1)),
    );
    let session = Session::builder()
        .base_url(&demo.api)
        .tokens(TokenManager::builder(provider).build())
        .store(store.clone(), "device-cloud")
        .build()?;
    let (devices, reports) = (DevicesApi(session.clone()), ReportsApi(session.clone()));
    println!(
        "devices: {}, reports: {}",
        devices.list().await?,
        reports.daily().await?
    );
    println!("sign-ins: {} (one, shared)", demo.token_calls());
    session.close().await?;

    step("The closed session refuses every client");
    match devices.list().await {
        Err(e) => println!("devices: {e}"),
        Ok(status) => println!("unexpected {status}"),
    }

    step("A new session restores the stored tokens: no sign-in while they are valid");
    let provider = SignInProvider::new(
        DeviceCloud(oauth()?),
        Some(SignInCredentials::password(USER.0, USER.1)),
    );
    let restored = Session::builder()
        .base_url(&demo.api)
        .tokens(TokenManager::builder(provider).build())
        .store(store, "device-cloud")
        .build()?;
    println!(
        "devices: {}, sign-ins still {}",
        DevicesApi(restored.clone()).list().await?,
        demo.token_calls()
    );
    println!("{}", restored.summary());
    Ok(())
}
