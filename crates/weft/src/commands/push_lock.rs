//! `weft push`'s lock from a `weft serve` (`--server`/`WEFT_SERVER`): the
//! engine's [`ExternalLock`] over the lease API, with the server's priority
//! scheduling.

use std::sync::mpsc;
use std::time::Duration;

use serde_json::json;
use weft_client::{AcquireBody, Client, ClientError};
use weft_push::{ExternalLock, ExternalLockError, Interrupt, LockHandle, LockRequest};

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// A lease on `branch:<remote>/<branch>` from the server.
#[derive(Debug)]
pub(crate) struct ServerLock {
    client: Client,
}

impl ServerLock {
    pub(crate) fn new(url: &str, token: Option<String>) -> ServerLock {
        ServerLock {
            client: Client::new(url, token),
        }
    }
}

/// Sorts the client's failures into what the engine does with them.
fn classify(error: ClientError) -> ExternalLockError {
    match &error {
        ClientError::Api(failure) if failure.code == "timeout" || failure.code == "conflict" => {
            ExternalLockError::TimedOut {
                holder: Some(failure.message.clone()),
            }
        }
        ClientError::Api(failure) if failure.status == 404 || failure.status == 410 => {
            ExternalLockError::Lost {
                message: failure.message.clone(),
            }
        }
        ClientError::Api(failure) if (400..500).contains(&failure.status) => {
            ExternalLockError::Refused {
                message: failure.message.clone(),
            }
        }
        _ => ExternalLockError::Unavailable {
            message: error.to_string(),
        },
    }
}

impl ExternalLock for ServerLock {
    fn acquire(
        &mut self,
        request: &LockRequest,
        interrupt: &Interrupt,
    ) -> Result<LockHandle, ExternalLockError> {
        let holder = &request.holder;
        let body = AcquireBody {
            resource: request.resource.clone(),
            priority: request.priority,
            class: request.class.clone(),
            ttl_ms: Some(millis(request.ttl)),
            wait_ms: Some(millis(request.wait)),
            holder: json!({
                "repository": holder.repository,
                "workflow": holder.workflow,
                "run_id": holder.run_id,
                "host": holder.host,
                "labels": {"pid": holder.pid.to_string(), "tool": "weft push"},
            }),
            ..AcquireBody::default()
        };
        // The long poll blocks in its own thread so that a signal is seen
        // at once; an abandoned poll's connection closes with the process,
        // and the server keeps its waiter only for the 10 s a client has to
        // ask again by its request id (a grant made meanwhile is given back
        // when that runs out).
        let client = self.client.clone();
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = sender.send(client.acquire(&body));
        });
        loop {
            match receiver.recv_timeout(Duration::from_millis(50)) {
                Ok(Ok(lease)) => {
                    return Ok(LockHandle {
                        lease_id: lease.id,
                        token: u64::try_from(lease.token).unwrap_or(0),
                    });
                }
                Ok(Err(error)) => return Err(classify(error)),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if let Some(signal) = interrupt.signal() {
                        return Err(ExternalLockError::Interrupted { signal });
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(ExternalLockError::Unavailable {
                        message: "the request thread ended without an answer".to_owned(),
                    });
                }
            }
        }
    }

    fn renew(&mut self, handle: &LockHandle, ttl: Duration) -> Result<(), ExternalLockError> {
        self.client
            .renew(&handle.lease_id, Some(millis(ttl)))
            .map(|_| ())
            .map_err(classify)
    }

    fn release(&mut self, handle: &LockHandle) -> Result<(), ExternalLockError> {
        self.client
            .release(&handle.lease_id)
            .map(|_| ())
            .map_err(classify)
    }
}
