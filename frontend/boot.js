// Starts the app. A file rather than Trunk's inline loader, so the page runs under a strict
// Content-Security-Policy (`script-src 'self' 'wasm-unsafe-eval'`, no 'unsafe-inline').
// Trunk.toml's `pattern_script` puts the hashed file names on this script's tag.
const boot = document.getElementById("app-boot");
const bindings = await import(boot.dataset.js);
await bindings.default({ module_or_path: boot.dataset.wasm });
