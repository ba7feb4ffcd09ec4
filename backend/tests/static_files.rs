//! Serving the built frontend: client routes, caching, compression, CSP.

mod common;

use common::{PATIENCE, TestServer};
use reqwest::header;

const INDEX: &str = r#"<!DOCTYPE html><html><head>
<link rel="modulepreload" href="/frontend-0123456789abcdef.js">
<script type="module">import init from '/frontend-0123456789abcdef.js'; init();</script>
</head><body></body></html>"#;

async fn server_with_site() -> (TestServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("index.html"), INDEX).expect("write");
    std::fs::write(
        dir.path().join("frontend-0123456789abcdef.js"),
        "export default function init() {}\n".repeat(100),
    )
    .expect("write");
    std::fs::write(dir.path().join("robots.txt"), "User-agent: *\n").expect("write");
    let path = dir.path().to_owned();
    let server = TestServer::start(move |config| config.static_dir = Some(path)).await;
    (server, dir)
}

/// A client that does not decompress (so the tests see what was sent) and that gives up after
/// the usual patience.
fn plain_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_gzip()
        .timeout(PATIENCE)
        .build()
        .expect("client")
}

/// The start page and every client route answer with `index.html`, never cached stale.
#[tokio::test]
async fn client_routes_get_index_html() {
    let (server, _dir) = server_with_site().await;
    for path in ["/", "/room/blue-fox", "/some/other/route"] {
        let response = plain_client()
            .get(server.http_url(path))
            .send()
            .await
            .expect("get");
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(
            response.headers()[header::CACHE_CONTROL],
            "no-cache",
            "{path}"
        );
        assert!(
            response.headers()[header::CONTENT_TYPE]
                .to_str()
                .expect("ascii")
                .starts_with("text/html")
        );
        assert_eq!(response.text().await.expect("body"), INDEX, "{path}");
    }
}

/// Content-hashed assets are cached for a year; other files are revalidated.
#[tokio::test]
async fn hashed_assets_are_cached_long() {
    let (server, _dir) = server_with_site().await;
    let asset = plain_client()
        .get(server.http_url("/frontend-0123456789abcdef.js"))
        .send()
        .await
        .expect("get");
    assert_eq!(asset.status(), 200);
    assert_eq!(
        asset.headers()[header::CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );
    let plain = plain_client()
        .get(server.http_url("/robots.txt"))
        .send()
        .await
        .expect("get");
    assert_eq!(plain.headers()[header::CACHE_CONTROL], "no-cache");
}

/// Responses are compressed for browsers that accept it.
#[tokio::test]
async fn responses_are_compressed() {
    let (server, _dir) = server_with_site().await;
    let response = plain_client()
        .get(server.http_url("/frontend-0123456789abcdef.js"))
        .header(header::ACCEPT_ENCODING, "gzip")
        .send()
        .await
        .expect("get");
    assert_eq!(response.headers()[header::CONTENT_ENCODING], "gzip");
    let compressed = response.bytes().await.expect("body").len();
    assert!(compressed < 3400 / 4, "compressed to {compressed} bytes");
}

/// The CSP allows this site's scripts, the wasm, and the inline bootstrap by its exact hash.
#[tokio::test]
async fn pages_carry_a_content_security_policy() {
    let (server, _dir) = server_with_site().await;
    let csp = csp_of(&server, "/room/x").await;
    use base64::Engine;
    use sha2::Digest;
    let inline = "import init from '/frontend-0123456789abcdef.js'; init();";
    let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(inline));
    assert!(csp.contains(&format!("'sha256-{hash}'")), "{csp}");
    assert!(csp.contains("'wasm-unsafe-eval'"), "{csp}");
    assert!(csp.contains("default-src 'self'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!csp.contains("'unsafe-eval'"), "no general eval: {csp}");
}

/// The API still answers when a site is served.
#[tokio::test]
async fn api_routes_win_over_the_site() {
    let (server, _dir) = server_with_site().await;
    let health = plain_client()
        .get(server.http_url("/healthz"))
        .send()
        .await
        .expect("get");
    assert_eq!(health.status(), 200);
    assert!(
        health
            .text()
            .await
            .expect("body")
            .contains("\"status\":\"ok\"")
    );
    let mut client = server.client().await;
    client.assert_quiet().await;
}

/// A `304 Not Modified` of a hashed asset keeps the one-year cache header (browsers store the
/// headers of a 304 in place of the old ones); a 304 of anything else says `no-cache`, even
/// when the `index.html` fallback answers a hashed-looking path.
#[tokio::test]
async fn not_modified_keeps_the_cache_header() {
    let (server, _dir) = server_with_site().await;
    for (path, cache) in [
        (
            "/frontend-0123456789abcdef.js",
            "public, max-age=31536000, immutable",
        ),
        ("/robots.txt", "no-cache"),
        ("/missing-0123456789abcdef.js", "no-cache"),
    ] {
        let first = plain_client()
            .get(server.http_url(path))
            .send()
            .await
            .expect("get");
        assert_eq!(first.status(), 200, "{path}");
        let modified = first.headers()[header::LAST_MODIFIED].clone();
        let again = plain_client()
            .get(server.http_url(path))
            .header(header::IF_MODIFIED_SINCE, modified)
            .send()
            .await
            .expect("get");
        assert_eq!(again.status(), 304, "{path}");
        assert_eq!(again.headers()[header::CACHE_CONTROL], cache, "{path}");
    }
}

/// When `index.html` points the page at a signalling server of another origin, the CSP lets
/// the page connect there (and nowhere else); without one, only to its own origin.
#[tokio::test]
async fn csp_lets_the_page_reach_its_signalling_server() {
    let dir = tempfile::tempdir().expect("temp dir");
    let html = INDEX.replace(
        "</head>",
        r#"<meta name="signalling-url" content="wss://API.example.com:8443/ws" /></head>"#,
    );
    std::fs::write(dir.path().join("index.html"), html).expect("write");
    let path = dir.path().to_owned();
    let server = TestServer::start(move |config| config.static_dir = Some(path)).await;
    let csp = csp_of(&server, "/").await;
    assert!(
        csp.contains("connect-src 'self' wss://api.example.com:8443;"),
        "{csp}"
    );

    let (plain, _dir) = server_with_site().await;
    let csp = csp_of(&plain, "/").await;
    assert!(csp.contains("connect-src 'self';"), "{csp}");
}

/// The Content-Security-Policy of the page at `path`.
async fn csp_of(server: &TestServer, path: &str) -> String {
    let response = plain_client()
        .get(server.http_url(path))
        .send()
        .await
        .expect("get");
    response.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .expect("ascii")
        .to_owned()
}

/// The wasm as Trunk names it, and stand-ins for the copies `scripts/precompress` writes next
/// to it. The stand-ins are not real brotli/gzip on purpose: bytes no compressor would produce
/// prove that the file on disk was sent as it is, not compressed again.
const WASM: &str = "frontend-0123456789abcdef_bg.wasm";
const WASM_BODY: &[u8] = b"\0asm\x01\0\0\0 the original module, long enough to be compressed";
const WASM_BR: &[u8] = b"precompressed brotli stand-in";
const WASM_GZ: &[u8] = b"precompressed gzip stand-in";
const INDEX_BR: &[u8] = b"precompressed index.html brotli stand-in";

/// The site of `server_with_site` plus a wasm with `.br` and `.gz` siblings and an
/// `index.html.br`; the JS keeps no sibling.
async fn server_with_precompressed_site() -> (TestServer, tempfile::TempDir) {
    let (server, dir) = server_with_site().await;
    let write = |name: &str, bytes: &[u8]| {
        std::fs::write(dir.path().join(name), bytes).expect("write");
    };
    write(WASM, &WASM_BODY.repeat(20));
    write(&format!("{WASM}.br"), WASM_BR);
    write(&format!("{WASM}.gz"), WASM_GZ);
    write("index.html.br", INDEX_BR);
    (server, dir)
}

/// GET `path` with this `Accept-Encoding` (none when `None`), without decompressing.
async fn get_with_encoding(
    server: &TestServer,
    path: &str,
    accept: Option<&str>,
) -> reqwest::Response {
    let mut request = plain_client().get(server.http_url(path));
    if let Some(accept) = accept {
        request = request.header(header::ACCEPT_ENCODING, accept);
    }
    let response = request.send().await.expect("get");
    assert_eq!(response.status(), 200, "{path} with {accept:?}");
    response
}

/// Whether the response says it varies with `Accept-Encoding`.
fn varies_on_encoding(response: &reqwest::Response) -> bool {
    response
        .headers()
        .get_all(header::VARY)
        .iter()
        .any(|value| {
            value
                .to_str()
                .expect("ascii")
                .to_ascii_lowercase()
                .contains("accept-encoding")
        })
}

/// A browser accepting brotli gets the `.br` file byte for byte, one accepting only gzip the
/// `.gz` file, one accepting neither the original; each as `application/wasm` (which
/// `WebAssembly.instantiateStreaming` requires), cached for a year, and every answer (the
/// original too) varying on `Accept-Encoding`.
#[tokio::test]
async fn precompressed_siblings_are_sent_as_they_are() {
    let (server, _dir) = server_with_precompressed_site().await;
    let path = format!("/{WASM}");
    let original = WASM_BODY.repeat(20);
    for (accept, encoding, body) in [
        (Some("br"), Some("br"), WASM_BR),
        (Some("gzip, deflate, br, zstd"), Some("br"), WASM_BR),
        (Some("gzip"), Some("gzip"), WASM_GZ),
        (Some("br;q=0.5, gzip"), Some("gzip"), WASM_GZ),
        (Some("identity"), None, &original[..]),
        (None, None, &original[..]),
    ] {
        let response = get_with_encoding(&server, &path, accept).await;
        let headers = response.headers();
        assert_eq!(
            headers
                .get(header::CONTENT_ENCODING)
                .map(|value| value.to_str().expect("ascii")),
            encoding,
            "{accept:?}"
        );
        assert_eq!(
            headers[header::CONTENT_TYPE],
            "application/wasm",
            "{accept:?}"
        );
        assert_eq!(
            headers[header::CACHE_CONTROL],
            "public, max-age=31536000, immutable",
            "{accept:?}"
        );
        assert!(headers.contains_key(header::CONTENT_SECURITY_POLICY));
        assert!(varies_on_encoding(&response), "{accept:?}: {headers:?}");
        assert_eq!(response.bytes().await.expect("body"), body, "{accept:?}");
    }
}

/// A file with no precompressed sibling is still compressed on the fly, with brotli or gzip.
#[tokio::test]
async fn files_without_siblings_are_compressed_on_the_fly() {
    let (server, _dir) = server_with_precompressed_site().await;
    for encoding in ["br", "gzip"] {
        let response =
            get_with_encoding(&server, "/frontend-0123456789abcdef.js", Some(encoding)).await;
        assert_eq!(response.headers()[header::CONTENT_ENCODING], encoding);
        assert!(varies_on_encoding(&response), "{encoding}");
        let compressed = response.bytes().await.expect("body").len();
        assert!(compressed < 3400 / 4, "{encoding}: {compressed} bytes");
    }
}

/// A client route still gets `index.html`: its precompressed copy when the browser accepts
/// it, as HTML, never cached long, with the CSP; the original otherwise.
#[tokio::test]
async fn client_routes_get_the_precompressed_index() {
    let (server, _dir) = server_with_precompressed_site().await;
    for path in ["/", "/room/x"] {
        let response = get_with_encoding(&server, path, Some("br")).await;
        let headers = response.headers();
        assert_eq!(headers[header::CONTENT_ENCODING], "br", "{path}");
        assert!(
            headers[header::CONTENT_TYPE]
                .to_str()
                .expect("ascii")
                .starts_with("text/html"),
            "{path}"
        );
        assert_eq!(headers[header::CACHE_CONTROL], "no-cache", "{path}");
        assert!(headers.contains_key(header::CONTENT_SECURITY_POLICY));
        assert!(varies_on_encoding(&response), "{path}");
        assert_eq!(response.bytes().await.expect("body"), INDEX_BR, "{path}");

        let plain = get_with_encoding(&server, path, None).await;
        assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
        assert_eq!(plain.text().await.expect("body"), INDEX, "{path}");
    }
}
