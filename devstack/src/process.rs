//! The process guard shared by every service, and free-port selection.

use std::{
    fs::File,
    io::{self, Read, Seek, SeekFrom},
    net::{Ipv4Addr, TcpListener},
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    thread,
    time::{Duration, Instant},
};

use tempfile::TempDir;
use tracing::{debug, warn};

use crate::error::{DevstackError, DevstackResult};

/// How long to wait between two readiness probes.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// How much of the log an error shows, in bytes; enough for a panic or a Go fatal line plus
/// some context, small enough to read in a terminal.
const LOG_TAIL_BYTES: u64 = 4096;

/// Reserves a port that is free on `127.0.0.1` right now.
///
/// The port is found by binding `127.0.0.1:0` and dropping the listener, so another process can
/// take it before the caller binds it; the spawn functions of this crate retry on
/// [`DevstackError::AddrInUse`] when they picked the port themselves.
///
/// # Errors
///
/// [`DevstackError::FreePort`] when binding fails.
pub fn free_port() -> DevstackResult<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(DevstackError::FreePort)?;
    Ok(listener.local_addr().map_err(DevstackError::FreePort)?.port())
}

/// Creates the per-run directory that holds a service's log (and anything else it writes that
/// should disappear with it).
pub(crate) fn run_dir(name: &'static str) -> DevstackResult<TempDir> {
    tempfile::Builder::new()
        .prefix(&format!("nsed-devstack-{name}-"))
        .tempdir()
        .map_err(|source| DevstackError::TempDir { name, source })
}

/// Owns a running child process: kills and reaps it on drop, and keeps its combined stdout and
/// stderr in a log file so that errors can show what the process said.
#[derive(Debug)]
pub(crate) struct ProcessGuard {
    name: &'static str,
    pid: u32,
    /// `None` once the process was stopped and reaped.
    child: Option<Child>,
    log_path: PathBuf,
    /// Deleted on drop, after `Drop::drop` has killed the child.
    run_dir: TempDir,
}

impl ProcessGuard {
    /// Spawns `command` with stdin closed and stdout and stderr appended to `<run_dir>/<name>.log`.
    pub(crate) fn spawn(
        name: &'static str,
        mut command: Command,
        run_dir: TempDir,
    ) -> DevstackResult<Self> {
        let binary = PathBuf::from(command.get_program());
        let spawn_err = |source| DevstackError::Spawn { name, binary: binary.clone(), source };
        let log_path = run_dir.path().join(format!("{name}.log"));
        let stdout = File::create(&log_path).map_err(spawn_err)?;
        let stderr = stdout.try_clone().map_err(spawn_err)?;
        let child = command
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .map_err(spawn_err)?;
        let pid = child.id();
        debug!(target: "devstack", name, pid, log = %log_path.display(), "spawned");
        Ok(Self { name, pid, child: Some(child), log_path, run_dir })
    }

    pub(crate) const fn pid(&self) -> u32 {
        self.pid
    }

    pub(crate) fn log_path(&self) -> &Path {
        &self.log_path
    }

    pub(crate) fn run_dir(&self) -> &Path {
        self.run_dir.path()
    }

    /// Returns the exit status if the process has exited, without blocking.
    pub(crate) fn try_wait(&mut self) -> DevstackResult<Option<ExitStatus>> {
        let (name, pid) = (self.name, self.pid);
        match self.child.as_mut() {
            Some(child) => {
                child.try_wait().map_err(|source| DevstackError::Status { name, pid, source })
            }
            // Only `stop` clears the child, and it consumes the instance that owns the guard.
            None => Ok(None),
        }
    }

    /// The last few kilobytes of the log, lossily decoded.
    pub(crate) fn log_tail(&self) -> String {
        read_tail(&self.log_path, LOG_TAIL_BYTES)
            .unwrap_or_else(|err| format!("<could not read {}: {err}>", self.log_path.display()))
    }

    /// Polls `probe` until it succeeds, the process exits, or `timeout` passes.
    ///
    /// `port` is only used to report [`DevstackError::AddrInUse`].
    pub(crate) fn wait_ready<T>(
        &mut self,
        port: u16,
        timeout: Duration,
        mut probe: impl FnMut() -> Result<T, String>,
    ) -> DevstackResult<T> {
        let started = Instant::now();
        loop {
            self.fail_if_exited(port)?;
            match probe() {
                Ok(value) => {
                    // A process that lost the race for its port can exit just after another
                    // server on that port answered our probe; make sure the answer was ours.
                    self.fail_if_exited(port)?;
                    debug!(target: "devstack", name = self.name, pid = self.pid, port, elapsed = ?started.elapsed(), "ready");
                    return Ok(value);
                }
                Err(last_probe) => {
                    if started.elapsed() >= timeout {
                        return Err(DevstackError::NotReady {
                            name: self.name,
                            timeout,
                            last_probe,
                            log_tail: self.log_tail(),
                        });
                    }
                }
            }
            thread::sleep(POLL_INTERVAL);
        }
    }

    fn fail_if_exited(&mut self, port: u16) -> DevstackResult<()> {
        let Some(status) = self.try_wait()? else {
            return Ok(());
        };
        let log_tail = self.log_tail();
        if log_tail.to_ascii_lowercase().contains("address already in use") {
            Err(DevstackError::AddrInUse { name: self.name, port, log_tail })
        } else {
            Err(DevstackError::ExitedEarly { name: self.name, status, log_tail })
        }
    }

    /// Kills the process and waits for it to exit.
    pub(crate) fn stop(&mut self) -> DevstackResult<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let (name, pid) = (self.name, self.pid);
        let stop_err = |source| DevstackError::Stop { name, pid, source };
        // Killing a process that already exited (but was not reaped) is not an error on Unix;
        // we still have to wait for it either way.
        if child.try_wait().map_err(stop_err)?.is_none() {
            child.kill().map_err(stop_err)?;
        }
        let status = child.wait().map_err(stop_err)?;
        debug!(target: "devstack", name, pid, %status, "stopped");
        Ok(())
    }
}

impl Drop for ProcessGuard {
    fn drop(&mut self) {
        if let Err(err) = self.stop() {
            warn!(target: "devstack", name = self.name, pid = self.pid, %err, "failed to stop on drop");
        }
    }
}

fn read_tail(path: &Path, max_bytes: u64) -> io::Result<String> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    let start = len.saturating_sub(max_bytes);
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    let text = String::from_utf8_lossy(&bytes);
    // Cutting in the middle of the file leaves a partial first line; drop it.
    let text =
        if start > 0 { text.split_once('\n').map_or(&*text, |(_, rest)| rest) } else { &text };
    Ok(text.trim_end().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_port_returns_a_bindable_nonzero_port() {
        let port = free_port().unwrap();
        assert_ne!(port, 0);
        TcpListener::bind((Ipv4Addr::LOCALHOST, port)).unwrap();
    }

    #[test]
    fn log_tail_of_a_short_log_is_the_whole_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        std::fs::write(&path, "one\ntwo\n").unwrap();
        assert_eq!(read_tail(&path, 4096).unwrap(), "one\ntwo");
    }

    #[test]
    fn log_tail_of_a_long_log_starts_at_a_line_boundary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        std::fs::write(&path, "aaaaaaaa\nbbbb\ncccc\n").unwrap();
        assert_eq!(read_tail(&path, 8).unwrap(), "cccc");
    }
}
