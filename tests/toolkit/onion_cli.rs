//! The onion subcommands as a shell user runs them: onion-create, a loop of
//! onion-peel, onion-error create | wrap | decode, blinded-path create, tlv.

use crate::common;

use common::{lnkit, lnkit_json, s, testdata};
use serde_json::{json, Value};

fn vector_hops(v: &Value) -> Vec<Value> {
    v["generate"]["hops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            // The vector's payloads carry their length prefix; payload_hex is the bare TLV stream.
            let p = hex::decode(s(h, "payload")).unwrap();
            let (_, n) = lnkit::wire::BigSize::decode(&p).unwrap();
            json!({"pubkey": h["pubkey"], "payload_hex": hex::encode(&p[n..])})
        })
        .collect()
}

#[test]
fn onion_create_then_peel_in_a_loop_reproduces_the_vector() {
    let v = testdata("bolt04-onion-test.json");
    let hops = vector_hops(&v);
    let created = lnkit_json(
        &["onion-create"],
        &json!({"session_key": v["generate"]["session_key"], "associated_data": v["generate"]["associated_data"], "hops": hops}),
    )
    .json();
    assert_eq!(created["onion_hex"], v["onion"]);
    // Each hop peels what the previous one forwarded: output piped into the next peel.
    let mut input = json!({"onion_hex": created["onion_hex"], "associated_data": v["generate"]["associated_data"]});
    for (i, key) in v["decode"].as_array().unwrap().iter().enumerate() {
        let out = lnkit(
            &["onion-peel", "--node-privkey", key.as_str().unwrap()],
            &input.to_string(),
        )
        .json();
        assert_eq!(out["payload_hex"], hops[i]["payload_hex"], "hop {i}");
        assert_eq!(out["shared_secret"], created["hops"][i]["shared_secret"]);
        assert_eq!(out["is_final"], i == 4);
        input = out;
    }
}

#[test]
fn onion_payload_fields_round_trip() {
    let out = lnkit_json(
        &["onion-create"],
        &json!({
            "session_key": "4141414141414141414141414141414141414141414141414141414141414141",
            "payment_hash": "4242424242424242424242424242424242424242424242424242424242424242",
            "hops": [
                {"pubkey": "02eec7245d6b7d2ccb30380bfbe2a3648cd7a942653f5aa340edcea1f283686619",
                 "amt_to_forward_msat": 15000, "outgoing_cltv_value": 1500, "short_channel_id": "700000x1x0"},
                {"pubkey": "0324653eac434488002cc06bbfb7f10fe18991e35f9fe4302dbea6d2353dc0ab1c",
                 "amt_to_forward_msat": 15000, "outgoing_cltv_value": 1460,
                 "payment_secret": "2323232323232323232323232323232323232323232323232323232323232323", "total_msat": 15000,
                 "custom_tlvs": {"65537": "cafe"}}
            ]
        }),
    )
    .json();
    let first = lnkit(
        &["onion-peel", "--node-privkey", "4141414141414141414141414141414141414141414141414141414141414141"],
        &json!({"onion_hex": out["onion_hex"], "payment_hash": "4242424242424242424242424242424242424242424242424242424242424242"}).to_string(),
    )
    .json();
    assert_eq!(
        first["payload"],
        json!({"amt_to_forward_msat": 15000, "outgoing_cltv_value": 1500, "short_channel_id": "700000x1x0"})
    );
    let second = lnkit(
        &[
            "onion-peel",
            "--node-privkey",
            "4242424242424242424242424242424242424242424242424242424242424242",
        ],
        &first.to_string(),
    )
    .json();
    assert_eq!(second["is_final"], true);
    assert_eq!(
        second["payload"]["payment_secret"],
        "2323232323232323232323232323232323232323232323232323232323232323"
    );
    assert_eq!(second["payload"]["total_msat"], 15000);
    assert_eq!(second["payload"]["custom_tlvs"]["65537"], "cafe");
}

#[test]
fn onion_error_create_wrap_decode() {
    let v = testdata("bolt04-onion-error-test.json");
    let hops = v["generate"]["hops"].as_array().unwrap();
    let mut out = lnkit_json(
        &["onion-error", "create"],
        &json!({"shared_secret": hops[4]["hop_shared_secret"], "failure_code": "temporary_node_failure", "hold_time": 5}),
    )
    .json();
    assert_eq!(out["failure_message_hex"], "2002");
    for h in hops[..4].iter().rev() {
        let mut next = out.clone();
        next["shared_secret"] = h["hop_shared_secret"].clone();
        next["hold_time"] = json!(1);
        out = lnkit_json(&["onion-error", "wrap"], &next).json();
    }
    assert_eq!(
        out["error_hex"], v["errorpacket"],
        "the legacy packet is the vector's"
    );
    let mut decode = out.clone();
    decode["session_key"] = v["generate"]["session_key"].clone();
    decode["hops"] = json!(hops
        .iter()
        .map(|h| json!({"pubkey": h["pubkey"]}))
        .collect::<Vec<_>>());
    let d = lnkit_json(&["onion-error", "decode"], &decode).json();
    assert_eq!(d["failing_hop_index"], 4);
    assert_eq!(d["failure"]["name"], "temporary_node_failure");
    assert_eq!(d["failure"]["flags"], json!(["NODE"]));
    assert_eq!(d["hold_times"], json!([1, 1, 1, 1, 5]));
    // Garbage decodes to no hop.
    decode["error_hex"] = json!("00".repeat(292));
    lnkit_json(&["onion-error", "decode"], &decode)
        .assert_bad_input("error_hex", &["no hop's HMAC matches"]);
    // Failure fields by name.
    let c = lnkit_json(
        &["onion-error", "create"],
        &json!({"shared_secret": hops[0]["hop_shared_secret"], "failure_code": "incorrect_or_unknown_payment_details", "htlc_msat": 100, "height": 800000}),
    )
    .json();
    assert_eq!(c["failure_message_hex"], "400f0000000000000064000c3500");
}

#[test]
fn blinded_path_create_matches_the_route_blinding_vector() {
    let v = testdata("bolt04-route-blinding-test.json");
    let hops = v["generate"]["hops"].as_array().unwrap();
    // Eve's Dave -> Eve path (session 0x01), from the raw encrypted_data_tlv bytes.
    let out = lnkit_json(
        &["blinded-path", "create"],
        &json!({
            "session_key": hops[2]["session_key"],
            "hops": hops[2..].iter().map(|h| json!({"node_id": h["node_id"], "encrypted_data_tlv_hex": h["encoded_tlvs"]})).collect::<Vec<_>>(),
        }),
    )
    .json();
    assert_eq!(out["first_path_key"], hops[2]["path_key"]);
    for (got, want) in out["hops"].as_array().unwrap().iter().zip(&hops[2..]) {
        assert_eq!(got["blinded_node_id"], want["blinded_node_id"]);
        assert_eq!(got["encrypted_recipient_data"], want["encrypted_data"]);
    }
    // From fields instead of bytes: the same encrypted data for Dave.
    let dave = &hops[2]["tlvs"];
    let from_fields = lnkit_json(
        &["blinded-path", "create"],
        &json!({"session_key": hops[2]["session_key"], "hops": [{
            "node_id": hops[2]["node_id"], "padding": dave["padding"], "short_channel_id": "0x0x561",
            "cltv_expiry_delta": 144, "fee_proportional_millionths": 250, "fee_base_msat": 0,
            "max_cltv_expiry": 747921, "htlc_minimum_msat": 1500, "features": ""}]}),
    )
    .json();
    assert_eq!(
        from_fields["hops"][0]["encrypted_recipient_data"],
        hops[2]["encrypted_data"]
    );
}

#[test]
fn tlv_decode_encode_round_trip_and_rules() {
    let d = lnkit_json(
        &["tlv", "decode", "--namespace", "n1"],
        &json!({"tlv_hex": "01010102080000000000000226"}),
    )
    .json();
    assert_eq!(d["records"][0]["name"], "tlv1");
    assert_eq!(d["records"][1]["fields"]["scid"], "0x0x550");
    let e = lnkit_json(&["tlv", "encode", "--namespace", "n1"], &d).json();
    assert_eq!(e["tlv_hex"], "01010102080000000000000226");
    // Which rule broke, by name.
    lnkit_json(
        &["tlv", "decode", "--namespace", "n1"],
        &json!({"tlv_hex": "0208000000000000022601012a"}),
    )
    .assert_bad_input("tlv_hex", &["type 1 after type 2", "strictly increase"]);
    lnkit_json(
        &["tlv", "decode", "--namespace", "n2"],
        &json!({"tlv_hex": "1200"}),
    )
    .assert_bad_input("tlv_hex", &["unknown even type 18"]);
    lnkit_json(&["tlv", "decode"], &json!({"tlv_hex": "fd000100"}))
        .assert_bad_input("tlv_hex", &["not minimally encoded"]);
}

#[test]
fn onion_peel_walks_a_blinded_route() {
    // BOLT 4's payment onion into a blinded route: Alice (normal), Bob (introduction), Carol, Dave, Eve.
    let v = testdata("bolt04-blinded-payment-onion-test.json");
    let hops = v["decrypt"]["hops"].as_array().unwrap();
    let mut input = json!({"onion_hex": v["generate"]["onion"], "associated_data": v["generate"]["associated_data"]});
    for (i, h) in hops.iter().enumerate() {
        let out = lnkit(
            &["onion-peel", "--node-privkey", s(h, "node_privkey")],
            &input.to_string(),
        )
        .json();
        if let Some(next) = h["next_path_key"].as_str() {
            // Bob learns the path key from his payload; Carol's data overrides it (the paths were concatenated).
            assert_eq!(out["next_path_key"], next, "{}", s(h, "alias"));
            assert!(out["encrypted_recipient_data"].is_object());
        }
        if i + 1 < hops.len() {
            assert_eq!(
                out["next_onion_hex"],
                hops[i + 1]["onion"],
                "{}",
                s(h, "alias")
            );
        } else {
            assert_eq!(out["is_final"], true);
            assert_eq!(
                out["encrypted_recipient_data"]["path_id"],
                "c9cf92f45ade68345bc20ae672e2012f4af487ed4415"
            );
        }
        input = out;
    }
}
