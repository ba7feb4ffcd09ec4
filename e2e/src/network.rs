//! Cutting the network inside the test's namespace: every UDP packet dropped by an iptables
//! rule (Debian's `iptables`; `tc netem` is not available on these machines). ICE checks and
//! media stop; the WebSocket, over TCP, stays up.

/// Drops every UDP packet arriving in this network namespace until dropped (or
/// [`UdpBlackhole::lift`]ed), so that no later test inherits the rule.
#[derive(Debug)]
pub struct UdpBlackhole {
    lifted: bool,
}

impl UdpBlackhole {
    /// Adds the rule (`iptables -A INPUT -p udp -j DROP`).
    pub fn start() -> anyhow::Result<Self> {
        iptables("-A")?;
        Ok(Self { lifted: false })
    }

    /// Removes the rule now, reporting a failure (dropping only logs it).
    pub fn lift(mut self) -> anyhow::Result<()> {
        self.lifted = true;
        iptables("-D")
    }
}

impl Drop for UdpBlackhole {
    fn drop(&mut self) {
        if !self.lifted
            && let Err(error) = iptables("-D")
        {
            eprintln!("could not remove the UDP drop rule: {error}");
        }
    }
}

fn iptables(action: &str) -> anyhow::Result<()> {
    let args = [action, "INPUT", "-p", "udp", "-j", "DROP"];
    let status = std::process::Command::new("iptables").args(args).status()?;
    anyhow::ensure!(status.success(), "iptables {args:?} failed: {status}");
    Ok(())
}
