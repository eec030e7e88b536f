//! Replays the committed fuzz corpus (`fuzz/corpus/<target>/*`) through the
//! functions the fuzz targets drive, so every input that ever mattered —
//! seeds and the crashes found and fixed — is checked on every test run.

use std::path::Path;

#[test]
fn every_committed_input_passes_its_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    for (name, drive) in session_kit_reliability::fuzz::TARGETS {
        let dir = root.join(name);
        let mut inputs: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        inputs.sort();
        assert!(!inputs.is_empty(), "{name} has no corpus");
        for input in inputs {
            let data = std::fs::read(&input).unwrap();
            if let Err(panic) = std::panic::catch_unwind(|| drive(&data)) {
                std::panic::resume_unwind(Box::new(format!(
                    "{name} fails on {}: {:?}",
                    input.display(),
                    panic.downcast_ref::<String>()
                )));
            }
        }
    }
}

#[test]
fn every_target_has_a_binary() {
    let manifest =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/Cargo.toml"))
            .unwrap();
    for (name, _) in session_kit_reliability::fuzz::TARGETS {
        assert!(
            manifest.contains(&format!("name = \"{name}\"")),
            "{name} is not a [[bin]] of the fuzz crate"
        );
        assert!(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join(format!("../fuzz/fuzz_targets/{name}.rs"))
                .exists()
        );
    }
}

/// Writes a real encrypted session file (key `[7; 32]`, as the target uses)
/// into the corpus: `cargo test -p session-kit-reliability --test corpus -- --ignored`, when the
/// envelope format changes.
#[test]
#[ignore = "regenerates a corpus seed"]
fn write_a_sealed_seed() {
    use session_core::{SessionStore, StoreRecord};
    let dir = std::env::temp_dir().join(format!("sealed-seed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("s.bin");
    let store = session_store::EncryptedFileStore::new(
        &path,
        session_store::EncryptionKey::from_bytes([7; 32]),
    );
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(store.save(
            "k",
            &StoreRecord::new(serde_json::json!({"tokens": {"access_token": "FUZZSECRET"}})),
        ))
        .unwrap();
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/encrypted_file/sealed");
    std::fs::copy(&path, target).unwrap();
    std::fs::remove_dir_all(dir).ok();
}
