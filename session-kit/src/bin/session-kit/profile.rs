//! Profiles: where the CLI keeps each signed-in provider (its endpoints and
//! client) and its session, in one 0600 JSON file under the user's config
//! folder.

use std::path::PathBuf;

use serde_json::{Value, json};
use session_kit::auth::{DpopKey, SessionState, TokenManager};
use session_kit::oauth::{Grant, OAuthClient, OAuthTokenProvider, ProviderMetadata, SigningKey};
use session_kit::store::JsonFileStore;
use session_kit::{NamedCredential, SessionData, SessionStore, SharedSessionStore, StoreRecord};

/// The owner tag that lets profiles be listed.
const PROFILES: &str = "session-kit-profiles";

/// The profile store's path: `--store`, else `$SESSION_KIT_STORE`, else
/// `$XDG_CONFIG_HOME/session-kit/sessions.json` (or `~/.config/…`).
pub(crate) fn store_path(explicit: Option<PathBuf>) -> PathBuf {
    if let Some(path) =
        explicit.or_else(|| std::env::var_os("SESSION_KIT_STORE").map(PathBuf::from))
    {
        return path;
    }
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        // Windows: the user's roaming application data.
        .or_else(|| std::env::var_os("APPDATA").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("session-kit").join("sessions.json")
}

/// A saved provider profile.
#[derive(Debug, Clone)]
pub(crate) struct Profile {
    pub(crate) name: String,
    pub(crate) issuer: String,
    pub(crate) client_id: String,
    pub(crate) token_endpoint: String,
    pub(crate) revocation_endpoint: Option<String>,
    pub(crate) scopes: Vec<String>,
    pub(crate) grant: String,
}

pub(crate) struct Profiles {
    store: SharedSessionStore,
    pub(crate) path: PathBuf,
}

impl Profiles {
    pub(crate) fn open(explicit: Option<PathBuf>) -> Self {
        let path = store_path(explicit);
        Self {
            store: SharedSessionStore::new(JsonFileStore::new(&path)),
            path,
        }
    }

    pub(crate) fn session_key(name: &str) -> String {
        format!("session:{name}")
    }

    pub(crate) async fn save(
        &self,
        profile: &Profile,
        data: &SessionData,
    ) -> session_kit::Result<()> {
        let record = StoreRecord::new(json!({
            "issuer": profile.issuer,
            "client_id": profile.client_id,
            "token_endpoint": profile.token_endpoint,
            "revocation_endpoint": profile.revocation_endpoint,
            "scopes": profile.scopes,
            "grant": profile.grant,
        }))
        .with_owner(PROFILES);
        self.store
            .save(&format!("profile:{}", profile.name), &record)
            .await?;
        self.store
            .save(
                &Self::session_key(&profile.name),
                &StoreRecord::new(data.to_value()?),
            )
            .await
    }

    pub(crate) async fn load(&self, name: &str) -> session_kit::Result<Option<Profile>> {
        Ok(self
            .store
            .load(&format!("profile:{name}"))
            .await?
            .map(|r| parse(name, &r.data)))
    }

    pub(crate) async fn session(&self, name: &str) -> session_kit::Result<Option<SessionData>> {
        match self.store.load(&Self::session_key(name)).await? {
            Some(record) => SessionData::from_value(record.data).map(Some),
            None => Ok(None),
        }
    }

    pub(crate) async fn list(&self) -> session_kit::Result<Vec<Profile>> {
        let mut list: Vec<Profile> = self
            .store
            .list_by_owner(PROFILES)
            .await?
            .into_iter()
            .map(|(key, r)| parse(key.trim_start_matches("profile:"), &r.data))
            .collect();
        list.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(list)
    }

    pub(crate) async fn remove(&self, name: &str) -> session_kit::Result<()> {
        self.store.delete(&format!("profile:{name}")).await?;
        self.store.delete(&Self::session_key(name)).await?;
        Ok(())
    }

    /// The profile's OAuth client, authenticating as it did at login (with
    /// the client secret or the private key kept with its session).
    pub(crate) async fn client(&self, profile: &Profile) -> Result<OAuthClient, String> {
        let mut metadata = ProviderMetadata::new(&profile.token_endpoint)
            .map_err(|e| e.to_string())?
            .with_issuer(&profile.issuer);
        if let Some(revocation) = &profile.revocation_endpoint {
            metadata = metadata
                .with_revocation_endpoint(revocation)
                .map_err(|e| e.to_string())?;
        }
        let session = self
            .session(&profile.name)
            .await
            .map_err(|e| e.to_string())?;
        let credential = |name: &str| {
            session
                .as_ref()
                .and_then(|d| d.credentials.get(name))
                .map(|c| c.expose_secret().to_owned())
        };
        let mut builder =
            OAuthClient::builder(metadata, &profile.client_id).scopes(profile.scopes.clone());
        if let Some(secret) = credential("client_secret") {
            builder = builder.client_secret(secret);
        }
        if let Some(key) = credential(PRIVATE_KEY) {
            builder = builder.private_key_jwt(signing_key(&key)?);
        }
        if let Some(key) = self.dpop_key(profile).await? {
            builder = builder.dpop(key);
        }
        builder.build().map_err(|e| e.to_string())
    }

    /// The profile's DPoP key, when it signed in with `--dpop`.
    async fn dpop_key(&self, profile: &Profile) -> Result<Option<DpopKey>, String> {
        let state = self.state(profile);
        state.restore().await.map_err(|e| e.to_string())?;
        let has_key = state
            .session()
            .is_some_and(|d| d.credentials.contains_key(DPOP_KEY));
        if !has_key {
            return Ok(None);
        }
        DpopKey::for_state(&state)
            .await
            .map(Some)
            .map_err(|e| e.to_string())
    }

    /// The profile's session state in the store.
    fn state(&self, profile: &Profile) -> SessionState {
        SessionState::builder(self.store.clone(), Self::session_key(&profile.name)).build()
    }

    /// A token manager for the profile, refreshing through its provider and
    /// saving rotated tokens back.
    pub(crate) async fn token_manager(&self, profile: &Profile) -> Result<TokenManager, String> {
        let client = self.client(profile).await?;
        let dpop = self.dpop_key(profile).await?;
        let grant = if profile.grant == "client_credentials" {
            Grant::ClientCredentials
        } else {
            Grant::Interactive
        };
        Ok({
            let mut builder = TokenManager::builder(OAuthTokenProvider::new(client, grant))
                .state(self.state(profile));
            if let Some(key) = dpop {
                builder = builder.dpop(key);
            }
            builder.build()
        })
    }
}

/// The credential under which a DPoP key is kept (see `DpopKey::for_state`).
const DPOP_KEY: &str = "dpop_key";

/// The credential under which a `private_key_jwt` client's key is kept.
pub(crate) const PRIVATE_KEY: &str = "private_key";

/// A signing key from a key file's text: a private JWK, or PEM.
pub(crate) fn signing_key(text: &str) -> Result<SigningKey, String> {
    if text.trim_start().starts_with('{') {
        SigningKey::from_jwk(text)
    } else {
        SigningKey::from_pem(text.as_bytes())
    }
    .map_err(|e| e.to_string())
}

/// The client secret kept with a client-credentials session (the file is 0600).
pub(crate) fn secret_credential(secret: &str) -> NamedCredential {
    NamedCredential::new(secret)
}

fn parse(name: &str, v: &Value) -> Profile {
    let s = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
    Profile {
        name: name.to_owned(),
        issuer: s("issuer"),
        client_id: s("client_id"),
        token_endpoint: s("token_endpoint"),
        revocation_endpoint: v["revocation_endpoint"].as_str().map(str::to_owned),
        scopes: v["scopes"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
        grant: s("grant"),
    }
}
