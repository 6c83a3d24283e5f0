//! Published ports: the short syntax (`[IP:]HOST:CONTAINER[/PROTOCOL]`) and
//! the long one, as host-port claims.

use weft_model::yaml::Node;
use weft_model::{Diagnostic, Platform, Protocol, Resource, Rule};

use super::Reader;
use crate::facts::{LocalService, SourceFile};

impl Reader<'_, '_> {
    pub(super) fn read_port(&mut self, file: &SourceFile, local: &LocalService, item: &Node) {
        let parsed = if item.as_mapping().is_some() {
            let Some(published) = item.get("published") else {
                return;
            };
            let Some(text) = self.text(published) else {
                return;
            };
            let protocol = item
                .get("protocol")
                .and_then(|p| self.text(p))
                .unwrap_or_else(|| "tcp".into());
            let host_ip = item.get("host_ip").and_then(|h| self.text(h));
            parse_range(&text)
                .map(|(start, end)| (start != 0).then_some((host_ip, start, end, protocol)))
                .ok_or_else(|| format!("`published: {text}` is not a port or a port range"))
                .map(|p| (p, published.span))
        } else {
            let Some(text) = self.text(item) else { return };
            parse_short_port(&text)
                .map(|p| (p, item.span))
                .map_err(|message| match item.as_str() {
                    Some(raw) if raw != text => {
                        format!("{message}; it is written `{raw}`: are its variables set?")
                    }
                    _ => message,
                })
        };
        match parsed {
            Ok((Some((host_ip, start, end, protocol)), span)) => {
                let Some(protocol) = Protocol::parse(&protocol) else {
                    self.facts.diagnostics.push(
                        file.diagnostic(
                            Diagnostic::warning(
                                "compose-port",
                                format!("unknown protocol `{protocol}`"),
                            )
                            .with_hint("use tcp, udp or sctp"),
                            span,
                        ),
                    );
                    return;
                };
                let host_ip =
                    host_ip.filter(|ip| !matches!(ip.as_str(), "" | "0.0.0.0" | "::" | "[::]"));
                self.claim(
                    file,
                    local,
                    span,
                    Rule::ComposePorts,
                    Resource::HostPort {
                        platform: Platform::Docker,
                        protocol,
                        host_ip,
                        start,
                        end,
                    },
                );
            }
            Ok((None, _)) => {}
            Err(message) => self.facts.diagnostics.push(
                file.diagnostic(
                    Diagnostic::warning("compose-port", message)
                        .with_hint("ports read [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL]"),
                    item.span,
                ),
            ),
        }
    }
}

type PublishedPort = (Option<String>, u16, u16, String);

/// Parses the short port syntax `[HOST_IP:][HOST[-HOST]:]CONTAINER[-CONTAINER][/PROTOCOL]`.
/// `Ok(None)` when nothing is published on the host (a container port only).
pub fn parse_short_port(text: &str) -> Result<Option<PublishedPort>, String> {
    let invalid = || format!("`{text}` is not a valid port mapping");
    let text = text.trim();
    let (mapping, protocol) = text.rsplit_once('/').map_or((text, "tcp"), |(m, p)| (m, p));
    let (host_ip, rest) = if let Some(stripped) = mapping.strip_prefix('[') {
        let (ip, rest) = stripped.split_once(']').ok_or_else(invalid)?;
        (
            Some(ip.to_string()),
            rest.strip_prefix(':').ok_or_else(invalid)?,
        )
    } else {
        match mapping.matches(':').count() {
            0 | 1 => (None, mapping),
            _ => {
                let (ip, rest) = mapping.split_once(':').ok_or_else(invalid)?;
                (Some(ip.to_string()), rest)
            }
        }
    };
    let Some((host, container)) = rest.rsplit_once(':') else {
        parse_range(rest).ok_or_else(invalid)?;
        return Ok(None);
    };
    parse_range(container).ok_or_else(invalid)?;
    if host.is_empty() {
        return Ok(None);
    }
    let (start, end) = parse_range(host).ok_or_else(invalid)?;
    if start == 0 {
        // Host port 0: Docker picks a free port, nothing is claimed.
        return Ok(None);
    }
    Ok(Some((host_ip, start, end, protocol.to_string())))
}

fn parse_range(text: &str) -> Option<(u16, u16)> {
    // A bare port, nearly every one, without searching and trimming.
    if (1..=5).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit()) {
        let port = text.parse().ok()?;
        return Some((port, port));
    }
    let text = text.trim();
    let (start, end) = text.split_once('-').unwrap_or((text, text));
    let start: u16 = start.trim().parse().ok()?;
    let end: u16 = end.trim().parse().ok()?;
    (start <= end).then_some((start, end))
}
