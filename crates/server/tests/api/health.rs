//! Probes and the headers every response carries.

use crate::helpers::spawn_app;

#[tokio::test]
async fn health_and_readiness_answer_200_with_security_headers() {
    let app = spawn_app().await;
    for path in ["/healthz", "/readyz"] {
        let response = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let headers = response.headers();
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert_eq!(headers["referrer-policy"], "no-referrer");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["x-frame-options"], "DENY");
        assert_eq!(headers["cache-control"], "no-store");
    }
}

#[tokio::test]
async fn unknown_api_routes_are_404_in_the_error_format() {
    let app = spawn_app().await;
    for path in [
        "/api/v1/nope",
        "/api/v1",
        "/api/v1/",
        "/api/v1/credentials/",
        "/api/v1/credentials/x/y/z",
    ] {
        let response = app
            .http
            .get(app.url(path))
            .bearer_auth(&app.alice)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{path}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "not_found", "{path}");
    }
    // Outside the API an unknown path is a bare 404, not the API's JSON.
    for path in ["/nope", "/api/v10", "/api/v1x/credentials"] {
        let response = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 404, "{path}");
        assert!(
            response.text().await.unwrap().is_empty(),
            "{path} answers no API error"
        );
    }
}
