//! The optional TLS listener: a client that only knows `https://api.pinterest.com`
//! reaches the simulator when the name resolves to it and the local CA is trusted.

use pinion_simulator::{SimConfig, server, try_router};

#[tokio::test]
async fn a_client_with_a_hard_coded_pinterest_host_reaches_the_simulator_over_tls() {
    let certified = rcgen::generate_simple_self_signed(vec!["api.pinterest.com".to_owned()])
        .expect("a self-signed certificate");
    let dir = tempfile::tempdir().unwrap();
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, certified.cert.pem()).unwrap();
    std::fs::write(&key_path, certified.key_pair.serialize_pem()).unwrap();

    let acceptor = server::tls_acceptor(&cert_path, &key_path).expect("a TLS acceptor");
    let (router, handle) = try_router(SimConfig::for_tests()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server::serve(
        listener,
        router,
        handle,
        Some(acceptor),
        async {
            let _ = stopped.await;
        },
    ));

    let trusted = reqwest::Certificate::from_pem(certified.cert.pem().as_bytes()).unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(trusted)
        .resolve("api.pinterest.com", addr)
        .https_only(true)
        .build()
        .unwrap();
    let url = format!("https://api.pinterest.com:{}/v5/user_account", addr.port());
    let response = client.get(&url).send().await.expect("a TLS connection");
    assert_eq!(response.status(), 401);
    assert!(response.headers().contains_key("x-pinterest-rid"));
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["code"], 2);

    // A client that does not trust the local CA is refused at the handshake.
    let untrusting = reqwest::Client::builder()
        .resolve("api.pinterest.com", addr)
        .build()
        .unwrap();
    let refused = untrusting.get(&url).send().await;
    assert!(
        refused.is_err(),
        "an untrusted certificate must fail the handshake"
    );

    let _ = stop.send(());
    serving.await.unwrap();
}
