//! Whether a TCP connection to a loopback address would be accepted, asked
//! of the kernel (`sock_diag(7)`) instead of by connecting.
//!
//! A TCP probe that connects wakes the service twice (the connection in its
//! accept queue, then the close): with a thousand services probed every few
//! seconds that is most of a supervisor's cost at rest. A connection to a
//! loopback address succeeds exactly when the kernel finds a listening
//! socket for it whose accept queue is not full, so the probe asks the
//! kernel that question, with the lookup the kernel itself runs for an
//! incoming connection (wildcard and dual-stack listeners included), and
//! wakes nobody.
//!
//! Any doubt (not Linux, a non-loopback address, an error, no listener
//! found) answers `None`, and the probe connects as before: a probe never
//! fails on this path's word.

use std::net::{IpAddr, SocketAddr};

use nix::libc;

/// `Some(true)` when a connection to `address` would be accepted, `None`
/// when that cannot be told without connecting.
pub(crate) fn accepts(address: SocketAddr) -> Option<bool> {
    if !address.ip().is_loopback() {
        return None;
    }
    let listener = lookup(address).ok()??;
    Some(listener.accepts())
}

/// What the kernel says of the socket that would take a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Listener {
    /// The socket's TCP state (`TCP_LISTEN` is 10).
    pub(crate) state: u8,
    /// Connections waiting in its accept queue.
    pub(crate) queued: u32,
    /// The accept queue's length (`listen(2)`'s backlog).
    pub(crate) backlog: u32,
}

impl Listener {
    /// Whether a new connection would be queued: the kernel refuses one
    /// only when the queue holds more than the backlog.
    pub(crate) fn accepts(self) -> bool {
        self.state == TCP_LISTEN && self.queued <= self.backlog
    }
}

const TCP_LISTEN: u8 = 10;
/// From `linux/sock_diag.h`.
const SOCK_DIAG_BY_FAMILY: u16 = 20;
/// `nlmsghdr`, then `inet_diag_req_v2`.
const REQUEST_LENGTH: usize = 16 + 56;
/// `nlmsghdr`, then `inet_diag_msg` up to `idiag_wqueue`.
const REPLY_LENGTH: usize = 16 + 64;

/// The socket a connection to `address` would reach, if any (`Ok(None)`:
/// the kernel found none).
#[cfg(target_os = "linux")]
pub(crate) fn lookup(address: SocketAddr) -> std::io::Result<Option<Listener>> {
    use std::os::fd::AsRawFd;

    use nix::sys::socket::{
        AddressFamily, MsgFlags, SockFlag, SockProtocol, SockType, recv, send, socket,
    };

    let socket = socket(
        AddressFamily::Netlink,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::NetlinkSockDiag,
    )?;
    let request = request(address);
    send(socket.as_raw_fd(), &request, MsgFlags::empty())?;
    // The kernel answers while sending; never wait for it.
    let mut reply = [0u8; 512];
    let length = recv(socket.as_raw_fd(), &mut reply, MsgFlags::MSG_DONTWAIT)?;
    parse(&reply[..length])
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn lookup(_address: SocketAddr) -> std::io::Result<Option<Listener>> {
    Err(std::io::ErrorKind::Unsupported.into())
}

/// An exact lookup (no dump) of the socket bound to `address` with no peer:
/// the listener a connection to `address` would reach.
fn request(address: SocketAddr) -> [u8; REQUEST_LENGTH] {
    let mut request = [0u8; REQUEST_LENGTH];
    // nlmsghdr: length, type, flags, sequence, port id (native order).
    request[0..4].copy_from_slice(&(REQUEST_LENGTH as u32).to_ne_bytes());
    request[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    request[6..8].copy_from_slice(&(libc::NLM_F_REQUEST as u16).to_ne_bytes());
    // inet_diag_req_v2: family, protocol, extensions, pad, states.
    let body = &mut request[16..];
    body[0] = match address.ip() {
        IpAddr::V4(_) => libc::AF_INET as u8,
        IpAddr::V6(_) => libc::AF_INET6 as u8,
    };
    body[1] = libc::IPPROTO_TCP as u8;
    body[4..8].copy_from_slice(&(1u32 << TCP_LISTEN).to_ne_bytes());
    // inet_diag_sockid: source port and address are the socket's own
    // (network order); destination, interface zero; no cookie.
    let id = &mut body[8..];
    id[0..2].copy_from_slice(&address.port().to_be_bytes());
    match address.ip() {
        IpAddr::V4(ip) => id[4..8].copy_from_slice(&ip.octets()),
        IpAddr::V6(ip) => id[4..20].copy_from_slice(&ip.octets()),
    }
    id[40..48].fill(0xff);
    request
}

/// The kernel's answer: an `inet_diag_msg`, or an error (`ENOENT` when no
/// socket matched).
fn parse(reply: &[u8]) -> std::io::Result<Option<Listener>> {
    let invalid = || std::io::Error::from(std::io::ErrorKind::InvalidData);
    let bytes = |at: usize| -> std::io::Result<[u8; 4]> {
        let slice = reply.get(at..at + 4).ok_or_else(invalid)?;
        Ok(slice.try_into().unwrap_or_default())
    };
    let [kind_low, kind_high, ..] = bytes(4)?;
    let kind = u16::from_ne_bytes([kind_low, kind_high]);
    if kind == libc::NLMSG_ERROR as u16 {
        // nlmsgerr: a negative errno.
        return match -i32::from_ne_bytes(bytes(16)?) {
            0 => Err(invalid()),
            libc::ENOENT => Ok(None),
            errno => Err(std::io::Error::from_raw_os_error(errno)),
        };
    }
    if kind != SOCK_DIAG_BY_FAMILY || reply.len() < REPLY_LENGTH {
        return Err(invalid());
    }
    let body = &reply[16..];
    let word = |at: usize| u32::from_ne_bytes(body[at..at + 4].try_into().unwrap_or_default());
    // inet_diag_msg: family, state, timer, retransmits, the 48-byte id,
    // expires, then the receive and send queues.
    Ok(Some(Listener {
        state: body[1],
        queued: word(56),
        backlog: word(60),
    }))
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn finds_a_listener_and_its_queue() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let found = lookup(address).unwrap().expect("the listener is found");
        assert_eq!(found.state, TCP_LISTEN);
        assert_eq!(found.queued, 0);
        assert!(found.backlog > 0, "{found:?}");
        assert_eq!(accepts(address), Some(true));

        // A connection nobody accepted waits in the queue.
        let _waiting = std::net::TcpStream::connect(address).unwrap();
        let found = lookup(address).unwrap().unwrap();
        assert_eq!(found.queued, 1);

        drop(listener);
        assert_eq!(lookup(address).unwrap(), None);
        assert_eq!(accepts(address), None, "no word without a listener");
    }

    #[test]
    fn a_wildcard_listener_takes_loopback_connections() {
        let listener = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        assert_eq!(
            accepts(SocketAddr::from(([127, 0, 0, 1], port))),
            Some(true)
        );
        assert_eq!(
            accepts(SocketAddr::from(([127, 0, 0, 2], port))),
            Some(true)
        );
    }

    #[test]
    fn finds_an_ipv6_listener() {
        // Where the loopback interface has no IPv6, there is nothing to find.
        let Ok(listener) = std::net::TcpListener::bind("[::1]:0") else {
            return;
        };
        let address = listener.local_addr().unwrap();
        assert_eq!(accepts(address), Some(true));
        drop(listener);
        assert_eq!(accepts(address), None);
    }

    #[test]
    fn only_loopback_addresses_are_looked_up() {
        let listener = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        // A wildcard listener here says nothing of another host's port.
        assert_eq!(accepts(SocketAddr::from(([10, 0, 0, 5], port))), None);
    }

    #[test]
    fn a_full_queue_refuses() {
        let full = Listener {
            state: TCP_LISTEN,
            queued: 5,
            backlog: 4,
        };
        assert!(!full.accepts());
        assert!(Listener { queued: 4, ..full }.accepts());
        assert!(
            !Listener {
                state: 1,
                queued: 0,
                ..full
            }
            .accepts()
        );
    }
}
