//! Mail over SMTP with lettre's blocking transport (rustls with ring): a
//! `multipart/alternative` of text and HTML, one thread per release.
//!
//! Threading: every mail of a thread (a release) names the same root,
//! `<weft.thread.THREAD@DOMAIN>`, in `In-Reply-To` and `References`, and
//! has a fresh `Message-ID` of its own. The root is derived, not
//! remembered, so a mail sent by another process (an escalation sent by
//! `weft serve` after the release's own process ended) joins the thread;
//! mail clients group messages that share a parent even when it never
//! arrived.
//!
//! TLS: `smtps://` is TLS from the first byte; on `smtp://`, `starttls: auto`
//! upgrades when the server offers STARTTLS, `always` fails when it does not,
//! `never` stays plain. Certificates are checked against the Mozilla roots
//! plus `ca_file`.

use std::sync::Arc;
use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{Message, SmtpTransport, Transport};
use weft_model::config::{EmailConfig, SmtpServer, StartTls};

use super::{Sent, blocking};
use crate::error::NotifyError;
use crate::notification::Notification;
use crate::render;
use crate::retry::{DeliverySettings, Failure, with_retries};
use crate::secret::{Secret, scrub};

#[derive(Debug)]
pub(crate) struct EmailChannel {
    server: Result<SmtpServer, NotifyError>,
    from: String,
    to: Vec<String>,
    starttls: StartTls,
    /// User name and password, when `username_env` is set.
    credentials: Option<Result<(Secret, Secret), NotifyError>>,
    /// The PEM of `ca_file`.
    roots: Option<Result<Vec<u8>, NotifyError>>,
    timeout: Option<Duration>,
}

impl EmailChannel {
    pub(super) fn new(config: &EmailConfig, env: &dyn Fn(&str) -> Option<String>) -> EmailChannel {
        let credentials = match (&config.username_env, &config.password_env) {
            (Some(user), Some(password)) => Some(
                super::secret(env, user).and_then(|user| Ok((user, super::secret(env, password)?))),
            ),
            _ => None,
        };
        let roots = config.ca_file.as_ref().map(|path| {
            fs_err::read(path).map_err(|error| NotifyError::Certificates {
                path: path.clone(),
                message: error.to_string(),
            })
        });
        EmailChannel {
            server: config
                .server()
                .map_err(|message| NotifyError::Unconfigured { message }),
            from: config.from.clone(),
            to: config.to.clone(),
            starttls: config.starttls,
            credentials,
            roots,
            timeout: config.timeout.map(|t| t.0),
        }
    }

    pub(super) fn problem(&self) -> Option<NotifyError> {
        if let Err(error) = &self.server {
            return Some(error.clone());
        }
        if let Some(Err(error)) = &self.credentials {
            return Some(error.clone());
        }
        if let Some(Err(error)) = &self.roots {
            return Some(error.clone());
        }
        None
    }

    /// The mail for `notification`, threaded with the earlier mails of its
    /// thread.
    fn compose(&self, notification: &Notification) -> Result<Message, NotifyError> {
        let mailbox = |address: &str| {
            address
                .parse::<Mailbox>()
                .map_err(|error| NotifyError::Address {
                    address: address.to_string(),
                    message: error.to_string(),
                })
        };
        let from = mailbox(&self.from)?;
        let id = format!(
            "<weft.{}.{:x}{:08x}@{}>",
            id_part(&notification.thread),
            jiff::Timestamp::now().as_microsecond(),
            fastrand::u32(..),
            id_part(from.email.domain())
        );
        let root = format!(
            "<weft.thread.{}@{}>",
            id_part(&notification.thread),
            id_part(from.email.domain())
        );
        let mut builder = Message::builder()
            .from(from)
            .subject(render::subject(notification))
            .message_id(Some(id.clone()))
            .user_agent("weft".to_string());
        for to in &self.to {
            builder = builder.to(mailbox(to)?);
        }
        builder = builder.in_reply_to(root.clone()).references(root);
        builder
            .multipart(MultiPart::alternative_plain_html(
                render::text(notification),
                render::html(notification),
            ))
            .map_err(|error| NotifyError::Compose {
                message: error.to_string(),
            })
    }

    /// One SMTP exchange: connect, EHLO, STARTTLS as configured, AUTH when
    /// credentials are set, MAIL FROM, RCPT TO, DATA.
    fn send(&self, message: &Message, timeout: Duration) -> Result<(), Failure> {
        let server = self.server.as_ref().map_err(|e| Failure::stop(e.clone()))?;
        let name = format!(
            "smtp{}://{}:{}",
            if server.implicit_tls { "s" } else { "" },
            server.host,
            server.port
        );
        let stop = |message: String| {
            Failure::stop(NotifyError::Smtp {
                server: name.clone(),
                message,
            })
        };
        let parameters = || -> Result<TlsParameters, Failure> {
            let mut builder = TlsParameters::builder(server.host.clone());
            if let Some(roots) = &self.roots {
                let pem = roots.as_ref().map_err(|e| Failure::stop(e.clone()))?;
                let certificate = Certificate::from_pem(pem).map_err(|e| stop(e.to_string()))?;
                builder = builder.add_root_certificate(certificate);
            }
            builder.build_rustls().map_err(|e| stop(e.to_string()))
        };
        let tls = if server.implicit_tls {
            Tls::Wrapper(parameters()?)
        } else {
            match self.starttls {
                StartTls::Auto => Tls::Opportunistic(parameters()?),
                StartTls::Always => Tls::Required(parameters()?),
                StartTls::Never => Tls::None,
            }
        };
        let mut transport = SmtpTransport::builder_dangerous(server.host.clone())
            .port(server.port)
            .tls(tls)
            .timeout(Some(timeout));
        let mut secrets = Vec::new();
        if let Some(credentials) = &self.credentials {
            let (user, password) = credentials.as_ref().map_err(|e| Failure::stop(e.clone()))?;
            secrets.extend([user, password]);
            transport = transport.credentials(Credentials::new(
                user.expose().to_string(),
                password.expose().to_string(),
            ));
        }
        match transport.build().send(message) {
            Ok(_) => Ok(()),
            Err(error) => {
                let retryable = !(error.is_permanent()
                    || error.is_client()
                    || error.is_tls()
                    || error.is_response()
                    || is_tls_failure(&error));
                let error = NotifyError::Smtp {
                    server: name.clone(),
                    message: scrub(&error.to_string(), &secrets),
                };
                Err(if retryable {
                    Failure::retry(error)
                } else {
                    Failure::stop(error)
                })
            }
        }
    }
}

/// A TLS handshake that failed (an untrusted certificate, no common
/// protocol): lettre reports it as a network error, but it will not pass.
fn is_tls_failure(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(error);
    while let Some(error) = source {
        if error.is::<rustls::Error>() {
            return true;
        }
        if let Some(io) = error.downcast_ref::<std::io::Error>()
            && io
                .get_ref()
                .is_some_and(|inner| inner.is::<rustls::Error>())
        {
            return true;
        }
        source = error.source();
    }
    false
}

/// Keeps what a `Message-ID` may hold.
fn id_part(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '-'
            }
        })
        .collect()
}

pub(super) async fn deliver(
    channel: Arc<EmailChannel>,
    notification: Arc<Notification>,
    settings: DeliverySettings,
) -> (Result<Sent, NotifyError>, u32) {
    if let Some(problem) = channel.problem() {
        return (Err(problem), 0);
    }
    let message = match channel.compose(&notification) {
        Ok(message) => Arc::new(message),
        Err(error) => return (Err(error), 0),
    };
    let timeout = channel.timeout.unwrap_or(settings.timeout);
    let (result, attempts) = with_retries(&settings, || {
        let channel = Arc::clone(&channel);
        let message = Arc::clone(&message);
        blocking(move || channel.send(&message, timeout))
    })
    .await;
    (result.map(|()| Sent::Done), attempts)
}
