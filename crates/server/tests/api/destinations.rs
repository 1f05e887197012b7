//! `/api/v1/destinations` against a simulator: create with a board of the
//! credential's account, list, read, repoint, delete; validation names the field;
//! another user gets 404 and an anonymous caller 401.

use serde_json::json;

use crate::helpers::spawn_with_simulator;

#[tokio::test]
async fn destinations_are_created_listed_read_and_deleted_by_their_owner_only() {
    let app = spawn_with_simulator("pw", true).await;
    let credential = app.authorized_credential().await;
    let boards = app
        .sim
        .control()
        .expected_ids("pinner", pinion_simulator::Stream::Boards)
        .await
        .unwrap();
    let board = boards.first().expect("the simulated account has boards");
    let bob = app.bob().await;
    use reqwest::Method as M;

    // Validation names the field; nothing is stored.
    let (status, body) = app
        .send(
            M::POST,
            "/api/v1/destinations",
            Some(&app.token),
            Some(json!({"name": " ", "credential_id": credential, "board_id": ""})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "validation_failed");
    assert_eq!(body["error"]["field"], "name");
    let fields: Vec<&str> = body["error"]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["name", "board_id"]);
    let (status, body) = app
        .send(
            M::POST,
            "/api/v1/destinations",
            Some(&app.token),
            Some(json!({"name": "Mood", "credential_id": credential, "board_id": "1234567890"})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["field"], "board_id");
    let (status, body) = app
        .send(
            M::POST,
            "/api/v1/destinations",
            Some(&app.token),
            Some(json!({"name": "Mood", "credential_id": credential})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("board_id"),
        "{body}"
    );

    // Bob cannot publish with alice's credential: same 404 as an unknown one.
    let (status, body) = app
        .send(
            M::POST,
            "/api/v1/destinations",
            Some(&bob),
            Some(json!({"name": "Mine", "credential_id": credential, "board_id": board})),
        )
        .await;
    assert_eq!((status, &body["error"]["code"]), (404, &json!("not_found")));

    // Alice creates one.
    let (status, created) = app
        .send(
            M::POST,
            "/api/v1/destinations",
            Some(&app.token),
            Some(json!({"name": " Mood board ", "credential_id": credential, "board_id": board})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("dst_"), "{id}");
    assert_eq!(created["name"], "Mood board");
    assert_eq!(created["credential_id"], credential.as_str());
    assert_eq!(created["board_id"], board.as_str());
    assert!(!created["board_name"].as_str().unwrap().is_empty());

    let (status, list) = app
        .send(M::GET, "/api/v1/destinations", Some(&app.token), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], id.as_str());
    let path = format!("/api/v1/destinations/{id}");
    let (status, got) = app.send(M::GET, &path, Some(&app.token), None).await;
    assert_eq!((status, &got), (200, &created));

    // Bob sees nothing of it, and cannot delete it.
    let (status, list) = app
        .send(M::GET, "/api/v1/destinations", Some(&bob), None)
        .await;
    assert_eq!((status, list), (200, json!([])));
    for method in [M::GET, M::DELETE] {
        let (status, body) = app.send(method.clone(), &path, Some(&bob), None).await;
        assert_eq!(status, 404, "{method} {body}");
        assert_eq!(body["error"]["message"], "destination not found");
    }

    // Repointing: to the same credential is fine; an unknown one is 404
    // and Bob cannot repoint it at all.
    let (status, repointed) = app
        .send(
            M::PATCH,
            &path,
            Some(&app.token),
            Some(json!({"credential_id": credential})),
        )
        .await;
    assert_eq!((status, &repointed), (200, &created));
    let (status, body) = app
        .send(
            M::PATCH,
            &path,
            Some(&app.token),
            Some(json!({"credential_id": "cred_00000000000000000000000000000000"})),
        )
        .await;
    assert_eq!(status, 404, "{body}");
    let (status, _) = app
        .send(
            M::PATCH,
            &path,
            Some(&bob),
            Some(json!({"credential_id": credential})),
        )
        .await;
    assert_eq!(status, 404);

    // Anonymous callers get 401 on every route.
    for (method, path) in [
        (M::GET, "/api/v1/destinations".to_owned()),
        (M::POST, "/api/v1/destinations".to_owned()),
        (M::GET, path.clone()),
        (M::DELETE, path.clone()),
    ] {
        let (status, body) = app.send(method.clone(), &path, None, None).await;
        assert_eq!(status, 401, "{method} {path}");
        assert_eq!(body["error"]["code"], "unauthorized");
    }

    // Alice deletes it; a second delete and a read are 404.
    let (status, _) = app.send(M::DELETE, &path, Some(&app.token), None).await;
    assert_eq!(status, 204);
    let (status, _) = app.send(M::DELETE, &path, Some(&app.token), None).await;
    assert_eq!(status, 404);
    let (status, _) = app.send(M::GET, &path, Some(&app.token), None).await;
    assert_eq!(status, 404);
    let (_, list) = app
        .send(M::GET, "/api/v1/destinations", Some(&app.token), None)
        .await;
    assert_eq!(list, json!([]));
}
