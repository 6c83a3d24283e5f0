//! Real servers on 127.0.0.1 for the channels: weft-testkit's recording HTTP
//! server (Slack's and a webhook receiver's wire format is plain HTTP +
//! JSON), and aiosmtpd, a real SMTP server, with a handler that writes each
//! mail it accepts to a directory.

use std::collections::HashMap;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use weft_notify::{DeliverySettings, NotifyConfig};
pub(crate) use weft_testkit::http::RecordingServer as HttpServer;

/// Fast retries, so failing deliveries end quickly.
pub(crate) fn quick() -> DeliverySettings {
    DeliverySettings {
        attempts: 3,
        backoff: Duration::from_millis(10),
        backoff_max: Duration::from_millis(40),
        timeout: Duration::from_secs(10),
    }
}

/// The `notify:` of a weft.yaml text, through the real loader's parser.
pub(crate) fn notify_config(yaml: &str) -> NotifyConfig {
    match weft_model::config::parse(yaml) {
        Ok((config, warnings)) => {
            assert!(warnings.is_empty(), "{warnings:?}");
            config.notify
        }
        Err(error) => panic!("{error}: {error:?}"),
    }
}

/// An environment lookup over fixed pairs.
pub(crate) fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name| map.get(name).cloned()
}

/// A port nothing listens on.
pub(crate) fn dead_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Polls `check` until it gives a value or `within` passes.
pub(crate) fn eventually<T>(within: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "nothing came within {within:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The Python that can run aiosmtpd: `WEFT_AIOSMTPD_PYTHON`, or a `python3`
/// that imports it. `None` (after a `SKIP:` line) when there is none, unless
/// `WEFT_REQUIRE_SMTP=1`.
pub(crate) fn aiosmtpd_python(test: &str) -> Option<PathBuf> {
    let candidates: Vec<PathBuf> = std::env::var_os("WEFT_AIOSMTPD_PYTHON")
        .map(PathBuf::from)
        .into_iter()
        .chain([PathBuf::from("python3")])
        .collect();
    for python in candidates {
        let works = Command::new(&python)
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if works {
            return Some(python);
        }
    }
    assert!(
        std::env::var("WEFT_REQUIRE_SMTP").as_deref() != Ok("1"),
        "WEFT_REQUIRE_SMTP=1 but no Python with aiosmtpd (set WEFT_AIOSMTPD_PYTHON)"
    );
    println!("SKIP: {test}: no Python with aiosmtpd (set WEFT_AIOSMTPD_PYTHON)");
    None
}

const HANDLER: &str = r#"
import json, os, uuid

class Capture:
    """Writes each accepted mail to DIRECTORY/ID.eml, its envelope to ID.json."""

    def __init__(self, directory):
        self.directory = directory

    @classmethod
    def from_cli(cls, parser, directory):
        return cls(directory)

    async def handle_DATA(self, server, session, envelope):
        name = uuid.uuid4().hex
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode()
        meta = {"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos, "tls": session.ssl is not None}
        with open(os.path.join(self.directory, name + ".json"), "w") as f:
            json.dump(meta, f)
        tmp = os.path.join(self.directory, name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(content)
        os.rename(tmp, os.path.join(self.directory, name + ".eml"))
        return "250 Message accepted for delivery"
"#;

/// A running aiosmtpd.
pub(crate) struct SmtpServer {
    pub(crate) port: u16,
    child: Child,
    directory: tempfile::TempDir,
}

/// A mail aiosmtpd accepted.
#[derive(Debug, Clone)]
pub(crate) struct Mail {
    pub(crate) raw: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) envelope: serde_json::Value,
    pub(crate) modified: std::time::SystemTime,
}

impl Mail {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The decoded body of the part of `content_type`.
    pub(crate) fn part(&self, content_type: &str) -> Option<String> {
        let start = self.raw.find(&format!("Content-Type: {content_type}"))?;
        let part = &self.raw[start..];
        let (head, body) = part.split_once("\r\n\r\n")?;
        let body = body.split("\r\n--").next().unwrap_or_default();
        let body = if head.contains("quoted-printable") {
            decode_quoted_printable(body)
        } else {
            assert!(!head.contains("base64"), "a base64 part: {head}");
            body.to_string()
        };
        Some(body.replace("\r\n", "\n"))
    }
}

impl SmtpServer {
    /// aiosmtpd on a free port; `tls` is `(certificate, key)` for STARTTLS,
    /// which the server then requires.
    pub(crate) fn start(python: &Path, tls: Option<(&Path, &Path)>) -> SmtpServer {
        let directory = tempfile::tempdir().unwrap();
        let module = directory.path().join("module");
        let mails = directory.path().join("mails");
        fs_err::create_dir_all(&module).unwrap();
        fs_err::create_dir_all(&mails).unwrap();
        fs_err::write(module.join("weft_capture.py"), HANDLER).unwrap();
        let port = dead_port();
        let mut command = Command::new(python);
        command
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "weft_capture.Capture"]);
        if let Some((certificate, key)) = tls {
            command
                .arg("--tlscert")
                .arg(certificate)
                .arg("--tlskey")
                .arg(key);
        }
        let log = fs_err::File::create(directory.path().join("server.log")).unwrap();
        let child = command
            .arg(&mails)
            .env("PYTHONPATH", &module)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap().into_parts().0)
            .stderr(log.into_parts().0)
            .spawn()
            .unwrap();
        let mut server = SmtpServer {
            port,
            child,
            directory,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("aiosmtpd exited with {status}: {}", server.log());
            }
            assert!(
                Instant::now() < deadline,
                "aiosmtpd did not listen: {}",
                server.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    pub(crate) fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub(crate) fn log(&self) -> String {
        fs_err::read_to_string(self.directory.path().join("server.log")).unwrap_or_default()
    }

    /// The mails received so far, oldest first.
    pub(crate) fn mails(&self) -> Vec<Mail> {
        let mut mails = Vec::new();
        for entry in fs_err::read_dir(self.directory.path().join("mails")).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "eml") {
                continue;
            }
            let raw = fs_err::read_to_string(&path).unwrap();
            let envelope =
                serde_json::from_str(&fs_err::read_to_string(path.with_extension("json")).unwrap())
                    .unwrap();
            let modified = fs_err::metadata(&path).unwrap().modified().unwrap();
            mails.push(Mail {
                headers: headers(&raw),
                raw,
                envelope,
                modified,
            });
        }
        mails.sort_by_key(|m| m.modified);
        mails
    }

    /// Waits for `count` mails.
    pub(crate) fn wait_for(&self, count: usize) -> Vec<Mail> {
        eventually(Duration::from_secs(10), || {
            let mails = self.mails();
            (mails.len() >= count).then_some(mails)
        })
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The unfolded header fields of a message.
fn headers(raw: &str) -> Vec<(String, String)> {
    let head = raw.split("\r\n\r\n").next().unwrap_or_default();
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = fields.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            fields.push((name.to_string(), value.trim().to_string()));
        }
    }
    fields
}

fn decode_quoted_printable(text: &str) -> String {
    let text = text.replace("=\r\n", "");
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 3 <= bytes.len()
            && let Ok(byte) = u8::from_str_radix(&text[i + 1..i + 3], 16)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A CA and a certificate for 127.0.0.1 signed by it, made with `openssl`:
/// `(ca.pem, cert.pem, key.pem)`, or `None` without openssl.
pub(crate) fn certificates(directory: &Path) -> Option<(PathBuf, PathBuf, PathBuf)> {
    let run = |args: &[&str]| {
        Command::new("openssl")
            .args(args)
            .current_dir(directory)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .map(|o| {
                assert!(
                    o.status.success(),
                    "openssl {args:?}: {}",
                    String::from_utf8_lossy(&o.stderr)
                );
            })
    };
    let ca = [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=weft test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ];
    run(&ca).ok()?;
    fs_err::write(
        directory.join("leaf.ext"),
        "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "key.pem",
        "-out",
        "leaf.csr",
    ])
    .ok()?;
    run(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "leaf.ext",
        "-out",
        "cert.pem",
    ])
    .ok()?;
    Some((
        directory.join("ca.pem"),
        directory.join("cert.pem"),
        directory.join("key.pem"),
    ))
}
