//! docs/node-rpc.md is the methods' schemas, rendered: a change to a request
//! or response type that the page does not show fails here.

#[test]
fn the_rpc_page_matches_the_schemas() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/node-rpc.md");
    let expected = lnkit::node::rpc::markdown();
    if std::env::var("LNKIT_BLESS").is_ok() {
        std::fs::write(path, &expected).unwrap();
    }
    let page = std::fs::read_to_string(path).unwrap_or_default();
    assert!(page == expected, "docs/node-rpc.md is out of date with the schemas: run with LNKIT_BLESS=1 and read the diff");
}
