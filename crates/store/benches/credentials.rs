//! Benchmarks of the credential store: creating a credential (one sealed
//! value, one durable write) and reading one by id with and without decrypting
//! its client secret and two tokens, on SQLite and, when
//! `PINION_TEST_POSTGRES_URL` is set, on a fresh PostgreSQL database. The bare
//! seal and open costs show how much of a read is encryption.
//!
//! Run with `cargo bench -p pinion-store`.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{Criterion, criterion_group, criterion_main};
use pinion_domain::{
    AccessToken, ClientId, ClientSecret, CredentialId, CredentialName, NewCredential, RefreshToken,
    Role, ScopeSet, UserId, Username,
};
use pinion_store::crypto::Location;
use pinion_store::{ConnectOptions, KeySource, Keyring, Store, TokenSet, connect_with};
use tokio::runtime::Runtime;

/// Credentials stored before the read benchmarks, read round-robin.
const PRELOADED: usize = 500;

fn keyring() -> Keyring {
    Keyring::from_keys([(1, zeroize::Zeroizing::new([7u8; 32]))]).expect("valid keyring")
}

fn new_credential(name: &str) -> NewCredential {
    NewCredential {
        name: CredentialName::parse(name).expect("valid name"),
        description: None,
        client_id: ClientId::parse("1484362").expect("valid client id"),
        // Realistic sizes: a 40-character secret, tokens of about 100 characters.
        client_secret: ClientSecret::new("0123456789abcdef0123456789abcdef01234567"),
        scopes: ScopeSet::default_requested(),
    }
}

fn tokens() -> TokenSet {
    TokenSet {
        access_token: AccessToken::new(format!("pina_{}", "A".repeat(100))),
        access_token_expires_at: Some(chrono::Utc::now() + chrono::Duration::days(30)),
        refresh_token: Some(RefreshToken::new(format!("pinr_{}", "R".repeat(100)))),
        refresh_token_expires_at: Some(chrono::Utc::now() + chrono::Duration::days(60)),
        granted_scopes: Some(ScopeSet::default_requested()),
    }
}

/// A store with `PRELOADED` authorized credentials; returns it, the owner and the ids.
async fn prepared(location: &str) -> (Arc<dyn Store>, UserId, Vec<CredentialId>) {
    let store = connect_with(
        location,
        KeySource::Given(Arc::new(keyring())),
        ConnectOptions::default(),
    )
    .await
    .expect("connect")
    .store;
    let owner = store
        .create_user(&Username::parse("bench").expect("valid"), Role::User)
        .await
        .expect("create user")
        .id;
    let mut ids = Vec::with_capacity(PRELOADED);
    for i in 0..PRELOADED {
        let created = store
            .create_credential(&owner, &new_credential(&format!("preloaded-{i}")))
            .await
            .expect("create");
        store
            .set_tokens(&created.id, &tokens(), created.version)
            .await
            .expect("set tokens");
        ids.push(created.id.clone());
    }
    (store, owner, ids)
}

fn bench_backend(c: &mut Criterion, runtime: &Runtime, backend: &str, location: &str) {
    let (store, owner, ids) = runtime.block_on(prepared(location));
    let mut group = c.benchmark_group(backend);

    let next = AtomicU64::new(0);
    group.bench_function("read_by_id_metadata_only", |b| {
        b.to_async(runtime).iter(|| async {
            let i = next.fetch_add(1, Ordering::Relaxed) as usize % ids.len();
            black_box(store.get_credential(&ids[i]).await.expect("read"))
        })
    });
    group.bench_function("read_by_id_with_decryption", |b| {
        b.to_async(runtime).iter(|| async {
            let i = next.fetch_add(1, Ordering::Relaxed) as usize % ids.len();
            let secrets = store.credential_secrets(&ids[i]).await.expect("read");
            black_box(secrets.client_secret.expose_secret().len())
        })
    });
    let counter = AtomicU64::new(0);
    group.bench_function("create", |b| {
        b.to_async(runtime).iter(|| async {
            let n = counter.fetch_add(1, Ordering::Relaxed);
            black_box(
                store
                    .create_credential(&owner, &new_credential(&format!("bench-{n}")))
                    .await
                    .expect("create"),
            )
        })
    });
    group.finish();
    runtime.block_on(store.close());
}

fn bench_crypto(c: &mut Criterion) {
    let ring = keyring();
    let location = Location {
        table: "credentials",
        column: "access_token",
        row_id: "cred_0123456789abcdef0123456789abcdef",
    };
    let plaintext = vec![b'A'; 105];
    let sealed = ring.seal(location, &plaintext);
    let mut group = c.benchmark_group("crypto");
    group.bench_function("seal_105_bytes", |b| {
        b.iter(|| black_box(ring.seal(location, black_box(&plaintext))))
    });
    group.bench_function("open_105_bytes", |b| {
        b.iter(|| black_box(ring.open(location, black_box(&sealed)).expect("opens")))
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    let runtime = Runtime::new().expect("tokio runtime");
    bench_crypto(c);

    let dir = tempfile::tempdir().expect("temporary directory");
    let sqlite = dir.path().join("bench.db").display().to_string();
    bench_backend(c, &runtime, "sqlite", &sqlite);

    if let Some(database) = pinion_testkit::TestDatabase::create("the PostgreSQL benchmarks") {
        bench_backend(c, &runtime, "postgres", &database.url);
    }
}

criterion_group!(credentials, benches);
criterion_main!(credentials);
