//! Sending mail: the second factor by email. SMTP through lettre; the server runs without a
//! mailer, in which case email codes cannot be turned on.

use async_trait::async_trait;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use nubes::{Error, ErrorKind, Result};

#[async_trait]
pub trait Mailer: std::fmt::Debug + Send + Sync {
    async fn send(&self, to: &str, subject: &str, body: &str) -> Result<()>;
}

/// SMTP: `smtp://host:port` (plain, for a relay on the same host), `smtp://host?tls=required`
/// (STARTTLS) or `smtps://host` (TLS), with `user:password@` where the relay wants a login.
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a password: show only the sender.
        f.debug_struct("SmtpMailer")
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl SmtpMailer {
    pub fn new(url: &str, from: &str) -> Result<Self> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|_| Error::invalid_input("invalid SMTP URL: use smtp://host:port, smtp://host?tls=required or smtps://host"))?
            .build();
        let from = from
            .parse()
            .map_err(|_| Error::invalid_input(format!("invalid sender address `{from}`")))?;
        Ok(Self { transport, from })
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, to: &str, subject: &str, body: &str) -> Result<()> {
        let to: Mailbox = to
            .parse()
            .map_err(|_| Error::invalid_input(format!("cannot send mail to `{to}`")))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .body(body.to_string())
            .map_err(|e| Error::unexpected(format!("cannot build the message: {e}")))?;
        self.transport.send(message).await.map_err(|e| {
            tracing::error!(error = %e, "SMTP delivery failed");
            Error::new(
                ErrorKind::Unavailable,
                "the sign-in code could not be sent; try again later",
            )
            .set_temporary()
        })?;
        Ok(())
    }
}
