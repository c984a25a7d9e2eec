//! DESIGN §4 over the real transport: content types, compression, bounded bodies, error shapes.

use async_nats::HeaderMap;
use rolodex::client::{self, Format};
use serde_json::json;

use crate::harness::{Instance, SMALL_DATASET};

async fn raw(i: &Instance, suffix: &str, headers: HeaderMap, body: Vec<u8>) -> client::Reply {
    let msg = i
        .nats
        .request_with_headers(i.subject(suffix), headers, body.into())
        .await
        .expect("a reply");
    client::decode_reply(&msg).expect("decodable reply")
}

#[tokio::test]
async fn each_content_type_and_encoding_gets_the_same_answer_in_its_own_format() {
    let i = Instance::start("wire_formats").await;
    i.sql(SMALL_DATASET).await;
    let body = json!({"filters": {"first_name": {"contains": "jo"}}});
    let mut answers = Vec::new();
    for format in [Format::Json, Format::MsgPack, Format::MsgPackZstd] {
        let reply = i.req_as("contacts.search", body.clone(), format).await;
        assert!(reply.error.is_none(), "{format:?}: {:?}", reply.error);
        let ct = reply.header("Content-Type").unwrap_or_default().to_owned();
        let expected = if format == Format::Json {
            "application/json"
        } else {
            "application/msgpack"
        };
        assert_eq!(ct, expected, "{format:?}");
        answers.push(reply.body);
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[1], answers[2]);
    assert_eq!(answers[0]["items"].as_array().unwrap().len(), 2);

    // A plain `nats req` with a JSON body and no headers at all is answered in JSON.
    let msg = i
        .nats
        .request(
            i.subject("contacts.search"),
            r#"{"filters":{"first_name":{"eq":"ada"}}}"#.into(),
        )
        .await
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&msg.payload).expect("JSON reply");
    assert_eq!(v["items"][0]["last_name"], "Lovelace");
    i.stop().await.unwrap();
}

#[tokio::test]
async fn replies_are_compressed_only_when_asked_and_above_the_threshold() {
    let i = Instance::start("wire_zstd").await;
    i.sql(SMALL_DATASET).await;
    let big = json!({"limit": 10});
    let small = json!({"limit": 1, "fields": ["uuid"]});

    let asked = i
        .req_as("contacts.search", big.clone(), Format::MsgPackZstd)
        .await;
    assert_eq!(asked.header("Content-Encoding"), Some("zstd"));
    let not_asked = i
        .req_as("contacts.search", big.clone(), Format::MsgPack)
        .await;
    assert_eq!(not_asked.header("Content-Encoding"), None);
    assert!(
        not_asked.wire_bytes > 1024,
        "the page must be above the threshold for this test"
    );
    let tiny = i
        .req_as("contacts.search", small, Format::MsgPackZstd)
        .await;
    assert_eq!(
        tiny.header("Content-Encoding"),
        None,
        "a reply under 1 KiB stays plain"
    );
    assert_eq!(asked.body, not_asked.body);

    // A compressed request (what the client sends above 1 KiB) gets the same answer.
    let mut h = HeaderMap::new();
    h.insert("Content-Type", "application/msgpack");
    h.insert("Content-Encoding", "zstd");
    h.insert("Accept-Encoding", "zstd");
    let packed = zstd::bulk::compress(&rmp_serde::to_vec_named(&big).unwrap(), 1).unwrap();
    let reply = raw(&i, "contacts.search", h, packed).await;
    assert!(reply.error.is_none(), "{:?}", reply.error);
    assert_eq!(reply.body, asked.body);

    // Accept-Encoding alone (an uncompressed JSON request) is enough.
    let mut h = HeaderMap::new();
    h.insert("Content-Type", "application/json");
    h.insert("Accept-Encoding", "zstd");
    let reply = raw(&i, "contacts.search", h, serde_json::to_vec(&big).unwrap()).await;
    assert_eq!(reply.header("Content-Encoding"), Some("zstd"));
    assert_eq!(reply.header("Content-Type"), Some("application/json"));
    assert_eq!(reply.body, asked.body);
    i.stop().await.unwrap();
}

#[tokio::test]
async fn bad_bodies_get_their_codes_and_the_service_keeps_serving() {
    let mut config = crate::harness::test_config("wire_errors");
    // Below NATS' own 1 MiB max_payload, so the oversized body reaches Rolodex.
    config.wire.max_request_bytes = 64 * 1024;
    let i = Instance::start_with(config).await;
    i.sql(SMALL_DATASET).await;
    let json_h = || {
        let mut h = HeaderMap::new();
        h.insert("Content-Type", "application/json");
        h
    };
    let mp_h = || {
        let mut h = HeaderMap::new();
        h.insert("Content-Type", "application/msgpack");
        h
    };
    let zstd_h = || {
        let mut h = mp_h();
        h.insert("Content-Encoding", "zstd");
        h
    };
    let cases: Vec<(&str, HeaderMap, Vec<u8>, u16, &str)> = vec![
        (
            "bad JSON",
            json_h(),
            b"{\"filters\": ".to_vec(),
            400,
            "malformed_body",
        ),
        (
            "bad MessagePack",
            mp_h(),
            vec![0xc1, 0xff, 0x00],
            400,
            "malformed_body",
        ),
        (
            "bad zstd",
            zstd_h(),
            b"definitely not zstd".to_vec(),
            400,
            "malformed_body",
        ),
        (
            "unknown filter field",
            json_h(),
            br#"{"filters":{"shoe_size":{"eq":3}}}"#.to_vec(),
            400,
            "unknown_field",
        ),
        (
            "oversized body",
            json_h(),
            vec![b' '; 100 * 1024],
            413,
            "payload_too_large",
        ),
        (
            "zstd bomb",
            zstd_h(),
            zstd::bulk::compress(&vec![b' '; 64 * 1024 * 1024], 3).unwrap(),
            413,
            "payload_too_large",
        ),
    ];
    for (name, headers, body, status, code) in cases {
        let reply = raw(&i, "contacts.search", headers, body).await;
        let (got_status, err) = reply
            .error
            .clone()
            .unwrap_or_else(|| panic!("{name}: no error"));
        assert_eq!(
            (got_status, err.code.as_str()),
            (status, code),
            "{name}: {}",
            err.message
        );
        assert!(!err.message.is_empty(), "{name}");
        assert_eq!(
            reply.header("Nats-Service-Error-Code"),
            Some(status.to_string().as_str())
        );
        assert!(reply
            .header("Nats-Service-Error")
            .is_some_and(|m| !m.is_empty()));
        // Still serving after every bad request.
        let page = i.ok("contacts.search", json!({"limit": 1})).await;
        assert_eq!(page["items"].as_array().unwrap().len(), 1, "{name}");
    }
    i.stop().await.unwrap();
}
