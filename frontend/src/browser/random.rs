//! Random bytes from `crypto.getRandomValues`: room names must not be guessable, so
//! `Math.random` will not do.

/// `N` bytes from the browser's cryptographic generator.
///
/// # Panics
/// When `window.crypto` is missing: every browser that runs WebAssembly has it, so that is a
/// broken environment rather than a condition to handle.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0; N];
    web_sys::window()
        .expect("a browser window")
        .crypto()
        .expect("window.crypto exists wherever WebAssembly runs")
        .get_random_values_with_u8_array(&mut bytes)
        .expect("getRandomValues accepts up to 65536 bytes");
    bytes
}
