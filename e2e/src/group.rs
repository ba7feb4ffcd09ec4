//! A child process started in a process group of its own, and ended by signalling that group.
//!
//! chromedriver starts Chromium, and Chromium starts its zygote, renderers, GPU and network
//! services: killing chromedriver alone leaves them running (still encoding video when a call
//! was up). Every process they start inherits the process group, so one `SIGKILL` to the group
//! ends exactly the processes this harness started, and nothing else on the machine (unlike
//! matching command lines). The same holds for the backend, coturn, Redis and the stand-in.
//!
//! It does not reap or wait: tokio reaps a dropped child in the background.

use nix::{
    errno::Errno,
    sys::signal::{Signal, killpg},
    unistd::Pid,
};
use tokio::process::{Child, Command};

/// A running child that leads its own process group; the group is killed on drop.
pub struct GroupChild {
    child: Child,
    /// The group's id: the child's pid at spawn (it leads the group, so they are equal).
    group: Pid,
}

impl GroupChild {
    /// Spawns `command` as the leader of a new process group.
    pub fn spawn(command: &mut Command) -> std::io::Result<Self> {
        let child = command.process_group(0).spawn()?;
        let pid = child
            .id()
            .ok_or_else(|| std::io::Error::other("the child exited before it got an id"))?;
        let group = i32::try_from(pid).map_err(std::io::Error::other)?;
        Ok(Self {
            child,
            group: Pid::from_raw(group),
        })
    }

    /// The child itself (to wait on it or read its pipes).
    pub fn child(&mut self) -> &mut Child {
        &mut self.child
    }

    pub fn pid(&self) -> u32 {
        self.group.as_raw().unsigned_abs()
    }

    /// Kills every process in the group. Idempotent: a group already gone is fine.
    pub fn kill_group(&self) -> std::io::Result<()> {
        self.signal_group(Signal::SIGKILL)
    }

    /// Sends `signal` to every process in the group (a group already gone is fine).
    pub fn signal_group(&self, signal: Signal) -> std::io::Result<()> {
        match killpg(self.group, signal) {
            Ok(()) | Err(Errno::ESRCH) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }
}

impl Drop for GroupChild {
    fn drop(&mut self) {
        if let Err(error) = self.kill_group() {
            eprintln!("could not kill process group {}: {error}", self.group);
        }
    }
}
