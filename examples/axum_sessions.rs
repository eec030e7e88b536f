//! Sessions in your own axum app: a `/login` handler that starts the
//! session, `/cart` that keeps a value in it, `/logout` that ends it. The
//! layer sets and clears the cookie and writes each request's changes once.
//!
//! Run with `cargo run --example axum_sessions --features server` (listens on `SESSION_BIND`,
//! default 127.0.0.1:3000), then:
//!
//! ```sh
//! curl -c jar -X POST localhost:3000/login
//! curl -b jar -X POST localhost:3000/cart      # 1 items
//! curl -b jar -X POST localhost:3000/cart      # 2 items
//! curl -b jar -c jar -X POST localhost:3000/logout
//! ```

use axum::{Router, routing::post};
use session_kit::server::{
    Error, Login, SessionConfig, SessionHandle, SessionLayer, SessionManager,
};

async fn login(session: SessionHandle) -> Result<&'static str, Error> {
    // …check the password first…
    session.login(Login::user("ada").role("customer")).await?; // a new id every login
    Ok("welcome")
}

async fn add(session: SessionHandle) -> Result<String, Error> {
    let mut cart: Vec<String> = session.get("cart").await?.unwrap_or_default();
    cart.push("book".into());
    session.insert("cart", &cart).await?;
    Ok(format!("{} items", cart.len()))
}

async fn logout(session: SessionHandle) -> Result<&'static str, Error> {
    session.logout().await?; // deleted, cookie expired
    Ok("bye")
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Behind https, add `.secure_cookies(true)`: the cookie becomes `__Host-sid`.
    let config = SessionConfig::builder().cookie_name("sid").build()?;
    let manager = SessionManager::memory(config)?; // or SessionManager::sqlite(config).await?
    let app = Router::new()
        .route("/login", post(login))
        .route("/cart", post(add))
        .route("/logout", post(logout))
        .layer(SessionLayer::new(manager));
    let bind = std::env::var("SESSION_BIND").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let listener = tokio::net::TcpListener::bind(&bind).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
