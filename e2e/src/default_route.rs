//! A default route inside the loopback-only namespace, which Firefox needs to gather any ICE
//! candidate.
//!
//! Firefox's ICE starts by looking up the address of the default route ("failed to find
//! default addresses" in `MOZ_LOG=mtransport:4`); in a namespace with only `lo` and no route
//! there is none, and with fake devices (no real camera permission) it gathers nothing at all,
//! not even `127.0.0.1` with `media.peerconnection.ice.loopback`. Chromium gathers `127.0.0.1`
//! without it. [`DefaultRoute`] gives the namespace a non-loopback address on `lo` and a
//! default route through it: Firefox then gathers a host candidate on that address, and the
//! pair with Chromium's `127.0.0.1` connects over `lo`. Nothing can leave the namespace, which
//! has no other interface.
//!
//! Added by the tests that start Firefox and removed when they end, so every other test keeps
//! the bare loopback namespace it was written for.

use anyhow::Context;

/// The namespace's address while a [`DefaultRoute`] lives: in the benchmarking range
/// (198.18.0.0/15), never a real host. `e2e/tests/check.rs` uses 198.18.0.2 for its NAT.
pub const ADDRESS: &str = "198.18.0.1";

/// [`ADDRESS`] on `lo` and the default route through it, removed on drop.
pub struct DefaultRoute(());

impl DefaultRoute {
    /// Adds them (`replace`: a leftover of a killed run is taken over, not an error). Needs
    /// root inside the namespace, as the end-to-end tests run.
    pub fn add() -> anyhow::Result<Self> {
        ip(&["addr", "replace", &format!("{ADDRESS}/32"), "dev", "lo"])?;
        let route = Self(());
        ip(&["route", "replace", "default", "dev", "lo", "src", ADDRESS])?;
        Ok(route)
    }
}

impl Drop for DefaultRoute {
    fn drop(&mut self) {
        // Should this fail, removing the address below takes the route with it (the kernel
        // drops the routes whose source address goes away).
        let _route_gone = ip(&["route", "del", "default", "dev", "lo"]);
        if let Err(error) = ip(&["addr", "del", &format!("{ADDRESS}/32"), "dev", "lo"]) {
            eprintln!("could not remove {ADDRESS} from lo: {error}");
        }
    }
}

fn ip(args: &[&str]) -> anyhow::Result<()> {
    let status = std::process::Command::new("ip")
        .args(args)
        .status()
        .context("running ip (iproute2)")?;
    anyhow::ensure!(status.success(), "ip {args:?} failed: {status}");
    Ok(())
}
