//! OAuth flows against the demo provider: password, client credentials, the
//! authorization code with PKCE through the loopback listener (a small
//! client plays the browser), refresh with rotation, sign-out.
//!
//! Run with `cargo run --example oauth_flows`.

use std::time::Duration;

use session_kit::oauth::{LoopbackRedirect, OAuth, OAuthClient, OAuthHttp, ProviderMetadata};
use session_kit_examples::demo::{Demo, SERVICE, USER};
use session_kit_examples::step;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let demo = Demo::start(3600).await;
    let provider = ProviderMetadata::discover(&OAuthHttp::new()?, &demo.issuer).await?;
    let service = OAuthClient::builder(provider.clone(), SERVICE.0)
        .client_secret(SERVICE.1)
        .build()?;

    step("Password grant (the seed's sign_in_with_password)");
    let auth = OAuth::new(service.clone());
    let tokens = auth.sign_in_with_password(USER.0, USER.1).await?;
    println!(
        "signed in; refresh token present: {}",
        tokens.refresh_token().is_some()
    );

    step("Refresh with rotation");
    let rotated = auth.refresh().await?;
    println!(
        "new refresh token differs: {}",
        rotated.refresh_token() != tokens.refresh_token()
    );
    match service.refresh(&tokens).await {
        Err(e) => println!("the old refresh token is refused: {e}"),
        Ok(_) => println!("unexpected: the old refresh token worked"),
    }

    step("Client credentials (service to service)");
    let svc = service.client_credentials().await?;
    println!(
        "service token lives {:?}",
        svc.expiry().lifetime().unwrap_or_default()
    );

    step("Authorization code + PKCE through the loopback listener");
    let native = OAuthClient::builder(provider, "quickstart")
        .scopes(["orders"])
        .build()?;
    let listener = LoopbackRedirect::bind(None, "/callback").await?;
    println!("redirect URI {}", listener.redirect_uri());
    let (tx, rx) = tokio::sync::oneshot::channel::<url::Url>();
    let browser = tokio::spawn(async move {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let url = rx.await.expect("the authorization URL");
        let back = client.get(url).send().await?;
        let location = back.headers()["location"]
            .to_str()
            .unwrap_or_default()
            .to_owned();
        client.get(location).send().await.map(|r| r.status())
    });
    let code_tokens = native
        .authorize_with_loopback(listener, Duration::from_secs(30), |url| {
            println!(
                "open {}…",
                &url.as_str()[..url.as_str().find('?').unwrap_or(url.as_str().len())]
            );
            let _ = tx.send(url.clone());
        })
        .await?;
    println!(
        "the browser saw {}; tokens received: {}",
        browser.await??,
        code_tokens.refresh_token().is_some()
    );

    step("Sign out: revoke refresh and access tokens");
    auth.sign_out().await?;
    println!(
        "revoked {} tokens; signed out: {}",
        demo.revocations(),
        auth.tokens().is_none()
    );
    Ok(())
}
