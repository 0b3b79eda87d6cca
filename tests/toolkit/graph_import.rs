//! The graph importers reproduce the counts `testdata/graphs/README.md`
//! gives for every snapshot (computed there with an independent decoder).

use lnkit::graph::import::{load, unxz};

fn shared(name: &str) -> Vec<u8> {
    let path = format!("{}/testdata/graphs/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn gossip_store_2024_09_22() {
    let map = unxz(&shared("gossip-store-2024-09-22-node-map.xz")).unwrap();
    let g = load(shared("gossip-store-2024-09-22.compressed"), Some(&map)).unwrap();
    let s = g.stats();
    assert_eq!(
        (s.nodes, s.channels, s.half_channels, s.enabled_directions),
        (18_212, 59_428, 118_856, 106_666)
    );
    assert_eq!(s.total_capacity_sat, 536_887_559_260);
    assert_eq!((s.components, s.largest_component), (508, 16_936));
    assert_eq!(s.largest_scc_enabled, 12_739);
    assert_eq!(g.aliases[0], "ACINQ");
    assert_eq!(g.out_edges.len(), 118_856);
}

#[test]
fn gossip_store_2026_02_03() {
    let map = unxz(&shared("gossip-store-2026-02-03-node-map.xz")).unwrap();
    let g = load(shared("gossip-store-2026-02-03.compressed"), Some(&map)).unwrap();
    let s = g.stats();
    assert_eq!(
        (s.nodes, s.channels, s.enabled_directions),
        (17_324, 50_808, 65_810)
    );
    assert_eq!(s.total_capacity_sat, 536_168_010_515);
    assert_eq!((s.components, s.largest_component), (721, 15_542));
    assert_eq!(s.largest_scc_enabled, 6_191);
}

#[test]
fn cln_listchannels_2021_04_16() {
    let g = load(shared("cln-listchannels-2021-04-16.json.gz"), None).unwrap();
    let s = g.stats();
    assert_eq!(
        (s.nodes, s.channels, s.half_channels, s.enabled_directions),
        (8_827, 37_454, 66_964, 55_622)
    );
    assert_eq!(s.total_capacity_sat, 119_099_106_244);
    assert_eq!(s.largest_scc_enabled, 5_320);
}

#[test]
fn unknown_and_truncated_files_are_refused() {
    assert!(matches!(
        load(b"hello world".to_vec(), None),
        Err(lnkit::graph::import::ImportError::UnknownFormat)
    ));
    let map = unxz(&shared("gossip-store-2024-09-22-node-map.xz")).unwrap();
    let mut raw =
        lnkit::graph::import::maybe_gunzip(shared("gossip-store-2024-09-22.compressed")).unwrap();
    raw.truncate(raw.len() / 2);
    let e = load(raw, Some(&map)).unwrap_err().to_string();
    assert!(e.contains("GOSSMAP_COMPRESSv1"), "{e}");
}

/// Every truncation of the mainnet file fails with an error (no panic), and
/// flipped bytes anywhere never panic: the importer reads untrusted files.
#[test]
fn truncated_and_corrupted_gossmap_files_never_panic() {
    let map = unxz(&shared("gossip-store-2024-09-22-node-map.xz")).unwrap();
    let raw =
        lnkit::graph::import::maybe_gunzip(shared("gossip-store-2024-09-22.compressed")).unwrap();
    let mut seed = 7u64;
    let mut next = move |m: usize| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) as usize % m
    };
    for _ in 0..64 {
        let cut = next(raw.len());
        let e = load(raw[..cut].to_vec(), Some(&map));
        assert!(e.is_err(), "a file cut at {cut} of {} loaded", raw.len());
    }
    for _ in 0..32 {
        let mut bad = raw.clone();
        for _ in 0..4 {
            let i = next(bad.len());
            bad[i] ^= 1 << next(8);
        }
        if let Ok(g) = load(bad, Some(&map)) {
            // Whatever loads must be a consistent graph.
            let s = g.stats();
            assert_eq!(s.channels, g.channels.len());
            assert!(g
                .channels
                .iter()
                .all(|c| (c.node_1 as usize) < s.nodes && (c.node_2 as usize) < s.nodes));
        }
    }
}

use crate::common;

#[test]
fn graph_stats_cli_and_the_small_importers() {
    let path = format!(
        "{}/testdata/graphs/gossip-store-2024-09-22.compressed",
        env!("CARGO_MANIFEST_DIR")
    );
    let out = common::lnkit(&["graph", "stats", "--graph", &path], "").json();
    assert_eq!(out["enabled_directions"], 106_666);
    let run = common::lnkit(
        &[
            "graph",
            "stats",
            "--graph",
            &format!("{}/Cargo.toml", env!("CARGO_MANIFEST_DIR")),
        ],
        "",
    );
    run.assert_bad_input(
        "--graph",
        &[
            "not a graph in any known format",
            "GOSSMAP_COMPRESSv1",
            "describegraph",
        ],
    );

    // Raw gossip lines, signed by lnkit itself: one channel, both directions, one disabled.
    let k = |b: u8| hex::encode([b; 32]);
    let ann = common::lnkit_json(&["gossip", "sign", "--kind", "channel_announcement"], &serde_json::json!({
        "node_privkey_1": k(0x31), "node_privkey_2": k(0x32), "bitcoin_privkey_1": k(0x41), "bitcoin_privkey_2": k(0x42), "short_channel_id": "103x1x0"})).json();
    let upd = |key: u8, dir: u64, disabled: bool| {
        common::lnkit_json(&["gossip", "sign", "--kind", "channel_update"], &serde_json::json!({
        "node_privkey": k(key), "short_channel_id": "103x1x0", "timestamp": 1, "direction": dir, "disabled": disabled,
        "cltv_expiry_delta": 40, "htlc_minimum_msat": 1, "fee_base_msat": 1000, "fee_proportional_millionths": 10, "htlc_maximum_msat": 1000000})).json()
    };
    let lines = [
        ann["message_hex"].clone(),
        upd(0x31, 0, false)["message_hex"].clone(),
        upd(0x32, 1, true)["message_hex"].clone(),
    ]
    .iter()
    .map(|v| v.as_str().unwrap().to_string())
    .collect::<Vec<_>>()
    .join("\n");
    let g = load(lines.into_bytes(), None).unwrap();
    let s = g.stats();
    assert_eq!(
        (s.nodes, s.channels, s.half_channels, s.enabled_directions),
        (2, 1, 2, 1)
    );
    assert_eq!(g.policies[0].cltv_expiry_delta, 40);

    // LND describegraph.
    let lnd = serde_json::json!({"nodes": [{"pub_key": "02eec7245d6b7d2ccb30380bfbe2a3648cd7a942653f5aa340edcea1f283686619", "alias": "alice"}],
        "edges": [{"channel_id": "113249697513472", "capacity": "1000000",
                   "node1_pub": "0324653eac434488002cc06bbfb7f10fe18991e35f9fe4302dbea6d2353dc0ab1c",
                   "node2_pub": "02eec7245d6b7d2ccb30380bfbe2a3648cd7a942653f5aa340edcea1f283686619",
                   "node1_policy": {"time_lock_delta": 40, "min_htlc": "1000", "fee_base_msat": "1000", "fee_rate_milli_msat": "1", "disabled": false, "max_htlc_msat": "990000000"},
                   "node2_policy": null}]});
    let g = load(lnd.to_string().into_bytes(), None).unwrap();
    let s = g.stats();
    assert_eq!(
        (s.nodes, s.channels, s.half_channels, s.total_capacity_sat),
        (2, 1, 1, 1_000_000)
    );
    // node1_pub was the greater key: its policy is direction 1 (from node_id_2).
    assert!(g.policies[1].present && !g.policies[0].present);
    assert_eq!(
        g.aliases[g
            .node(
                &hex::decode("02eec7245d6b7d2ccb30380bfbe2a3648cd7a942653f5aa340edcea1f283686619")
                    .unwrap()
                    .try_into()
                    .unwrap()
            )
            .unwrap() as usize],
        "alice"
    );
}
