//! A loopback TCP proxy that can be taken down and brought back, for fault tests: while down it
//! refuses new connections (accepts and closes them at once) and cuts every connection it was
//! forwarding, as an unreachable node does to its clients.
//!
//! ```no_run
//! let proxy = nsed_devstack::TcpProxy::start(8545).unwrap();
//! let url = format!("http://127.0.0.1:{}", proxy.port());
//! proxy.set_up(false); // clients of `url` now fail
//! proxy.set_up(true);
//! # let _ = url;
//! ```

use std::{
    io,
    net::{Shutdown, TcpListener, TcpStream},
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
    thread,
};

/// A running proxy from a free loopback port to `127.0.0.1:<target>`; stops when dropped.
#[derive(Debug)]
pub struct TcpProxy {
    port: u16,
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    down: AtomicBool,
    stopped: AtomicBool,
    /// Both ends of every connection being forwarded, to cut them when the proxy goes down.
    live: Mutex<Vec<TcpStream>>,
}

impl Shared {
    fn cut_all(&self) {
        let live = std::mem::take(&mut *self.live.lock().unwrap_or_else(PoisonError::into_inner));
        for stream in live {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

impl TcpProxy {
    /// Listens on a free loopback port and forwards to `127.0.0.1:<target>`.
    ///
    /// # Errors
    ///
    /// When no loopback port can be bound.
    pub fn start(target: u16) -> io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let shared = Arc::new(Shared::default());
        let accepting = shared.clone();
        thread::Builder::new().name(format!("tcp-proxy-{port}")).spawn(move || {
            for inbound in listener.incoming() {
                if accepting.stopped.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(inbound) = inbound else { continue };
                if accepting.down.load(Ordering::Relaxed) {
                    drop(inbound);
                    continue;
                }
                let Ok(outbound) = TcpStream::connect(("127.0.0.1", target)) else { continue };
                forward(&accepting, inbound, outbound);
            }
        })?;
        Ok(Self { port, shared })
    }

    /// The port clients connect to.
    pub const fn port(&self) -> u16 {
        self.port
    }

    /// Takes the proxy down (`false`: new connections are closed at once and open ones are
    /// cut) or brings it back (`true`).
    pub fn set_up(&self, up: bool) {
        self.shared.down.store(!up, Ordering::Relaxed);
        if !up {
            self.shared.cut_all();
        }
    }
}

/// Copies both ways between `a` and `b` on two threads, registering the streams to be cut.
fn forward(shared: &Shared, a: TcpStream, b: TcpStream) {
    let (Ok(a2), Ok(b2), Ok(a3), Ok(b3)) =
        (a.try_clone(), b.try_clone(), a.try_clone(), b.try_clone())
    else {
        return;
    };
    shared.live.lock().unwrap_or_else(PoisonError::into_inner).extend([a3, b3]);
    let pipe = |mut from: TcpStream, mut to: TcpStream| {
        move || {
            let _ = io::copy(&mut from, &mut to);
            let _ = to.shutdown(Shutdown::Write);
        }
    };
    let _ = thread::Builder::new().name("tcp-proxy-up".into()).spawn(pipe(a, b2));
    let _ = thread::Builder::new().name("tcp-proxy-down".into()).spawn(pipe(b, a2));
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.shared.stopped.store(true, Ordering::Relaxed);
        self.shared.cut_all();
        // Wake the accepting thread so it sees `stopped` and ends.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use super::*;

    /// An echo server on a free port, for as many connections as come.
    fn echo() -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                thread::spawn(move || {
                    let mut reader = stream.try_clone().unwrap();
                    let mut writer = stream;
                    let _ = io::copy(&mut reader, &mut writer);
                });
            }
        });
        port
    }

    fn round_trip(port: u16) -> io::Result<Vec<u8>> {
        let mut stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.write_all(b"ping")?;
        let mut buf = [0u8; 4];
        stream.read_exact(&mut buf)?;
        Ok(buf.to_vec())
    }

    #[test]
    fn forwards_while_up_cuts_while_down_and_forwards_again() {
        let proxy = TcpProxy::start(echo()).unwrap();
        assert_eq!(round_trip(proxy.port()).unwrap(), b"ping");
        let mut open = TcpStream::connect(("127.0.0.1", proxy.port())).unwrap();
        open.write_all(b"ping").unwrap();
        let mut buf = [0u8; 4];
        open.read_exact(&mut buf).unwrap();
        proxy.set_up(false);
        assert!(round_trip(proxy.port()).is_err(), "new connections fail while down");
        let mut rest = Vec::new();
        assert_eq!(open.read_to_end(&mut rest).unwrap_or(0), 0, "the open connection was cut");
        proxy.set_up(true);
        assert_eq!(round_trip(proxy.port()).unwrap(), b"ping");
    }
}
