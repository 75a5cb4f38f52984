//! A small in-process TCP proxy in front of a redis-server, for the network faults a real
//! server process cannot produce by itself (QUEUE.md's harness: "pass, blackhole or reset").
//!
//! - [`Mode::Pass`]: bytes flow both ways, unchanged.
//! - [`Mode::Blackhole`]: connections stay open (and new ones are accepted) but nothing is
//!   forwarded in either direction, like a network path that silently drops packets. Bytes
//!   already sent wait in the socket buffers and flow once the mode is `Pass` again — what
//!   TCP does when a path comes back (retransmission), so a multiplexed connection's stream
//!   never loses bytes in the middle, as it never would on a real network.
//! - [`Mode::Reset`]: every open connection is closed at once with a TCP RST (zero linger),
//!   and every new one is reset as soon as it is accepted, like a middlebox that killed the
//!   flows or a server that crashed and came back.
//!
//! The mode is switched at runtime with [`Proxy::set`]. Dropping the proxy stops it: the
//! listener closes and every connection task is aborted (their sockets close).
//!
//! Must be started inside a tokio runtime (it spawns its accept loop there).

use std::net::{Ipv4Addr, SocketAddr};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

/// What the proxy does with traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Pass,
    Blackhole,
    Reset,
}

/// A proxy on a free loopback port, forwarding to `127.0.0.1:upstream`.
pub struct Proxy {
    pub port: u16,
    // A watch channel: every connection task sees the latest mode, and learns of a change
    // while it waits on either socket.
    mode: watch::Sender<Mode>,
    accept: JoinHandle<()>,
}

impl Proxy {
    /// Starts passing traffic to the Redis on `upstream` (loopback).
    pub fn start(upstream: u16) -> Self {
        // Bound with std so `start` is not async (like `TestRedis::start`); handed to tokio below.
        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
        let port = listener.local_addr().expect("local addr").port();
        listener.set_nonblocking(true).expect("nonblocking");
        let listener = TcpListener::from_std(listener).expect("inside a tokio runtime");
        let (mode, watching) = watch::channel(Mode::Pass);
        let upstream = SocketAddr::from((Ipv4Addr::LOCALHOST, upstream));
        let accept = tokio::spawn(accept_loop(listener, upstream, watching));
        Proxy { port, mode, accept }
    }

    /// `redis://127.0.0.1:<proxy port>`: what the app under test connects to.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Switches the mode for open and future connections.
    pub fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }

    pub fn mode(&self) -> Mode {
        *self.mode.borrow()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        // Aborting the accept loop drops its JoinSet, which aborts every connection task.
        self.accept.abort();
    }
}

async fn accept_loop(listener: TcpListener, upstream: SocketAddr, mode: watch::Receiver<Mode>) {
    // Owned here so that aborting this task ends every connection too.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                if let Ok((client, _)) = accepted {
                    connections.spawn(relay(client, upstream, mode.clone()));
                }
            }
            // Reap finished connection tasks so the set does not grow over a long test.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// Forwards one connection according to the mode, until either side closes or a reset.
async fn relay(client: TcpStream, upstream: SocketAddr, mut mode: watch::Receiver<Mode>) {
    if *mode.borrow_and_update() == Mode::Reset {
        return reset(&[&client]);
    }
    // Connect at once even in Blackhole mode: what is "lost" is the traffic, not the server.
    let Ok(server) = TcpStream::connect(upstream).await else {
        // Upstream down: the client sees the connection die, as it would without the proxy.
        return reset(&[&client]);
    };
    let _ = server.set_nodelay(true);
    let _ = client.set_nodelay(true);
    let (mut client, mut server) = (client, server);
    let mut up = vec![0u8; 16 * 1024];
    let mut down = vec![0u8; 16 * 1024];
    loop {
        let current = *mode.borrow_and_update();
        match current {
            Mode::Reset => return reset(&[&client, &server]),
            Mode::Blackhole => {
                // Read nothing (the bytes wait in the kernel buffers) until the mode changes.
                if mode.changed().await.is_err() {
                    return;
                }
            }
            Mode::Pass => {
                // `read` is cancel safe, so losing the race to a mode change loses no bytes;
                // a write, once started, completes before the mode is looked at again.
                tokio::select! {
                    changed = mode.changed() => if changed.is_err() { return },
                    n = client.read(&mut up) => match n {
                        Ok(n) if n > 0 => if server.write_all(&up[..n]).await.is_err() {
                            return reset(&[&client]);
                        },
                        // Client closed (or failed): close the server side too.
                        _ => return,
                    },
                    n = server.read(&mut down) => match n {
                        Ok(n) if n > 0 => if client.write_all(&down[..n]).await.is_err() {
                            return;
                        },
                        // Redis closed the connection (killed, or `CLIENT KILL`): so does the
                        // proxy, with a FIN, as the server's kernel did.
                        _ => return,
                    },
                }
            }
        }
    }
}

/// Closes the sockets with RST instead of FIN (zero linger), then drops them.
fn reset(sockets: &[&TcpStream]) {
    for socket in sockets {
        let _ = socket.set_zero_linger();
    }
}
