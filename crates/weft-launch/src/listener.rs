//! Whether the listening socket a TCP probe last connected to is still
//! there with room for a connection, asked of the kernel (`sock_diag(7)`)
//! instead of by connecting again.
//!
//! A TCP probe that connects wakes the service twice (the connection in its
//! accept queue, then the close): with a thousand services probed every few
//! seconds that is most of a supervisor's cost at rest. So a probe of a
//! loopback address connects for real until it passes, and from then on
//! asks the kernel for the socket a connection to the address would reach,
//! with the lookup the kernel runs for an incoming connection (wildcard and
//! dual-stack listeners included): while that is the very socket the last
//! connect reached (by inode), still listening and with room in its accept
//! queue, the probe passes without waking anyone. Anything else (another
//! socket, none, an error, not Linux) makes it connect again.
//!
//! What this cannot see, that a connect would: the network between the
//! supervisor and a socket it already reached changing under it (loopback
//! taken down, a firewall rule added), and which worker of an
//! `SO_REUSEPORT` group a real connection would be hashed to.

use std::net::SocketAddr;

/// The listener a successful connect reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Witness {
    inode: u32,
}

/// The listener a connection to `address` reaches now, found right after a
/// connect to it succeeded: what later checks compare with.
pub(crate) fn witness(address: SocketAddr) -> Option<Witness> {
    let listener = lookup(address).ok()??;
    listener.accepts().then_some(Witness {
        inode: listener.inode,
    })
}

/// Whether a connection to `address` would reach the `witness`ed listener
/// and be queued; `false` whenever that cannot be told without connecting.
pub(crate) fn still_listening(address: SocketAddr, witness: Option<&Witness>) -> bool {
    let Some(witness) = witness else {
        return false;
    };
    matches!(
        lookup(address),
        Ok(Some(listener)) if listener.accepts() && listener.inode == witness.inode
    )
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
    pub(crate) inode: u32,
}

impl Listener {
    /// Whether a new connection would be queued: the kernel refuses one
    /// only when the queue holds more than the backlog.
    pub(crate) fn accepts(self) -> bool {
        self.state == TCP_LISTEN && self.queued <= self.backlog
    }
}

const TCP_LISTEN: u8 = 10;

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
    send(
        socket.as_raw_fd(),
        &diag::request(address),
        MsgFlags::empty(),
    )?;
    // The kernel answers while sending; never wait for it.
    let mut reply = [0u8; 512];
    let length = recv(socket.as_raw_fd(), &mut reply, MsgFlags::MSG_DONTWAIT)?;
    diag::parse(&reply[..length])
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn lookup(_address: SocketAddr) -> std::io::Result<Option<Listener>> {
    Err(std::io::ErrorKind::Unsupported.into())
}

/// The messages of `sock_diag(7)`, `inet_diag.h` and `netlink.h`.
#[cfg(target_os = "linux")]
mod diag {
    use std::net::{IpAddr, SocketAddr};

    use nix::libc;

    use super::{Listener, TCP_LISTEN};

    /// From `linux/sock_diag.h`.
    const SOCK_DIAG_BY_FAMILY: u16 = 20;
    /// `nlmsghdr`, then `inet_diag_req_v2`.
    const REQUEST_LENGTH: usize = 16 + 56;
    /// `nlmsghdr`, then `inet_diag_msg` up to `idiag_inode`.
    const REPLY_LENGTH: usize = 16 + 72;

    /// An exact lookup (no dump) of the socket bound to `address` with no
    /// peer: the listener a connection to `address` would reach.
    pub(super) fn request(address: SocketAddr) -> [u8; REQUEST_LENGTH] {
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

    /// The kernel's answer: an `inet_diag_msg`, or an error (`ENOENT` when
    /// no socket matched).
    pub(super) fn parse(reply: &[u8]) -> std::io::Result<Option<Listener>> {
        let invalid = || std::io::Error::from(std::io::ErrorKind::InvalidData);
        let word = |at: usize| -> std::io::Result<[u8; 4]> {
            let slice = reply.get(at..at + 4).ok_or_else(invalid)?;
            Ok(slice.try_into().unwrap_or_default())
        };
        let [kind_low, kind_high, ..] = word(4)?;
        let kind = u16::from_ne_bytes([kind_low, kind_high]);
        if kind == libc::NLMSG_ERROR as u16 {
            // nlmsgerr: a negative errno.
            return match i32::from_ne_bytes(word(16)?).checked_neg() {
                Some(libc::ENOENT) => Ok(None),
                Some(errno) if errno > 0 => Err(std::io::Error::from_raw_os_error(errno)),
                _ => Err(invalid()),
            };
        }
        if kind != SOCK_DIAG_BY_FAMILY || reply.len() < REPLY_LENGTH {
            return Err(invalid());
        }
        // inet_diag_msg: family, state, timer, retransmits, the 48-byte
        // id, expires, the receive and send queues, uid, inode.
        let number = |at: usize| word(16 + at).map(u32::from_ne_bytes);
        Ok(Some(Listener {
            state: reply[17],
            queued: number(56)?,
            backlog: number(60)?,
            inode: number(68)?,
        }))
    }
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
        assert!(found.backlog > 0 && found.inode > 0, "{found:?}");

        // A connection nobody accepted waits in the queue.
        let _waiting = std::net::TcpStream::connect(address).unwrap();
        assert_eq!(lookup(address).unwrap().unwrap().queued, 1);

        drop(listener);
        assert_eq!(lookup(address).unwrap(), None);
    }

    #[test]
    fn only_the_witnessed_listener_passes() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        assert!(!still_listening(address, None), "no connect, no word");
        let witness = witness(address).expect("a listener to vouch for");
        assert!(still_listening(address, Some(&witness)));

        // Another socket on the same port (the service restarted) is not
        // the one a connect reached.
        drop(listener);
        assert!(!still_listening(address, Some(&witness)));
        let Ok(again) = std::net::TcpListener::bind(address) else {
            return;
        };
        assert!(!still_listening(address, Some(&witness)));
        let renewed = super::witness(address).unwrap();
        assert_ne!(renewed, witness);
        assert!(still_listening(address, Some(&renewed)));
        drop(again);
    }

    #[test]
    fn a_wildcard_listener_takes_loopback_connections() {
        let listener = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        for address in [[127, 0, 0, 1], [127, 0, 0, 2]] {
            let address = SocketAddr::from((address, port));
            let witness = witness(address).expect("the wildcard listener");
            assert!(still_listening(address, Some(&witness)));
        }
    }

    #[test]
    fn finds_an_ipv6_listener() {
        // Where the loopback interface has no IPv6, there is nothing to find.
        let Ok(listener) = std::net::TcpListener::bind("[::1]:0") else {
            return;
        };
        let address = listener.local_addr().unwrap();
        assert!(witness(address).is_some());
        drop(listener);
        assert!(witness(address).is_none());
    }

    #[test]
    fn a_full_queue_refuses() {
        let full = Listener {
            state: TCP_LISTEN,
            queued: 5,
            backlog: 4,
            inode: 1,
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
