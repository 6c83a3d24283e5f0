//! An S3-compatible bucket for release artifacts: objects put from a file
//! and got into one, over presigned URLs (rusty-s3 signs, ureq sends), so
//! the workspace's HTTP stack and its one TLS provider serve S3 too.

use std::path::Path;
use std::time::Duration;

use rusty_s3::{Bucket as S3Bucket, Credentials, S3Action, UrlStyle};
use weft_model::config::S3Config;

/// How long a presigned URL works: long enough for a large upload.
const SIGNED_FOR: Duration = Duration::from_secs(3600);

/// What goes wrong with the bucket.
#[derive(Debug, thiserror::Error)]
pub enum BucketError {
    #[error("artifacts.s3: {message}")]
    Config { message: String },
    #[error("artifacts.s3: the variable {variable} is not set; it holds the bucket's {what}")]
    MissingCredential {
        variable: String,
        what: &'static str,
    },
    #[error("cannot reach the artifact bucket at {endpoint}: {message}")]
    Unreachable { endpoint: String, message: String },
    #[error("the artifact bucket answered {status} to {method} {key}: {message}")]
    Refused {
        method: &'static str,
        key: String,
        status: u16,
        message: String,
    },
    #[error("failed to copy an artifact")]
    Io(#[from] std::io::Error),
}

/// A bucket with its credentials, ready to sign requests.
#[derive(Clone)]
pub struct Bucket {
    bucket: S3Bucket,
    credentials: Credentials,
    prefix: String,
    agent: ureq::Agent,
}

impl std::fmt::Debug for Bucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // No credentials.
        f.debug_struct("Bucket")
            .field("bucket", &self.bucket.name())
            .field("endpoint", &self.bucket.base_url().as_str())
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl Bucket {
    /// The bucket `config` names, with credentials read through `env`.
    pub fn new(
        config: &S3Config,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Bucket, BucketError> {
        let region = config.region.as_deref().unwrap_or("us-east-1").to_string();
        let endpoint = config
            .endpoint
            .clone()
            .unwrap_or_else(|| format!("https://s3.{region}.amazonaws.com"));
        let url = endpoint.parse().map_err(|error| BucketError::Config {
            message: format!("`endpoint` `{endpoint}` is not a URL: {error}"),
        })?;
        let style = if config.path_style.unwrap_or(config.endpoint.is_some()) {
            UrlStyle::Path
        } else {
            UrlStyle::VirtualHost
        };
        let bucket = S3Bucket::new(url, style, config.bucket.clone(), region).map_err(|error| {
            BucketError::Config {
                message: format!("bucket `{}` at `{endpoint}`: {error}", config.bucket),
            }
        })?;
        let read = |variable: &str, what: &'static str| {
            env(variable)
                .filter(|value| !value.is_empty())
                .ok_or_else(|| BucketError::MissingCredential {
                    variable: variable.to_string(),
                    what,
                })
        };
        let key = read(
            config
                .access_key_env
                .as_deref()
                .unwrap_or("AWS_ACCESS_KEY_ID"),
            "access key id",
        )?;
        let secret = read(
            config
                .secret_key_env
                .as_deref()
                .unwrap_or("AWS_SECRET_ACCESS_KEY"),
            "secret key",
        )?;
        let credentials = match env("AWS_SESSION_TOKEN").filter(|t| !t.is_empty()) {
            Some(token) => Credentials::new_with_token(key, secret, token),
            None => Credentials::new(key, secret),
        };
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(10)))
            .build()
            .into();
        Ok(Bucket {
            bucket,
            credentials,
            prefix: config.prefix.clone(),
            agent,
        })
    }

    /// The key of artifact `name` of `deployment`.
    pub fn key(&self, deployment: &str, name: &str) -> String {
        format!("{}{deployment}/{name}", self.prefix)
    }

    /// `s3://BUCKET/KEY`, as the store records it.
    pub fn location(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket.name())
    }

    /// The key of a recorded location in this bucket, if it is one.
    pub fn key_of<'l>(&self, location: &'l str) -> Option<&'l str> {
        location
            .strip_prefix("s3://")?
            .strip_prefix(self.bucket.name())?
            .strip_prefix('/')
    }

    /// Uploads `file` as `key` (blocking).
    pub fn put(&self, key: &str, file: &Path) -> Result<(), BucketError> {
        let url = self
            .bucket
            .put_object(Some(&self.credentials), key)
            .sign(SIGNED_FOR);
        let body = fs_err::File::open(file)?;
        let size = body.metadata()?.len();
        let answer = self
            .agent
            .put(url.as_str())
            .header("content-length", size.to_string())
            .send(body.into_file());
        self.check("PUT", key, answer).map(|_| ())
    }

    /// Creates the bucket (blocking); for tests and first set-up.
    pub fn create(&self) -> Result<(), BucketError> {
        let url = self
            .bucket
            .create_bucket(&self.credentials)
            .sign(SIGNED_FOR);
        let answer = self.agent.put(url.as_str()).send_empty();
        self.check("PUT", "(the bucket)", answer).map(|_| ())
    }

    /// Downloads `key` into `file` (blocking), replacing it.
    pub fn get(&self, key: &str, file: &Path) -> Result<(), BucketError> {
        let url = self
            .bucket
            .get_object(Some(&self.credentials), key)
            .sign(SIGNED_FOR);
        let answer = self.agent.get(url.as_str()).call();
        let mut response = self.check("GET", key, answer)?;
        let mut out = fs_err::File::create(file)?;
        std::io::copy(&mut response.body_mut().as_reader(), &mut out)?;
        Ok(())
    }

    fn check(
        &self,
        method: &'static str,
        key: &str,
        answer: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<ureq::http::Response<ureq::Body>, BucketError> {
        let mut response = answer.map_err(|error| BucketError::Unreachable {
            endpoint: self.bucket.base_url().to_string(),
            message: error.to_string(),
        })?;
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(response);
        }
        let text = response.body_mut().read_to_string().unwrap_or_default();
        Err(BucketError::Refused {
            method,
            key: key.to_string(),
            status,
            message: s3_message(&text),
        })
    }
}

/// The `<Code>` and `<Message>` of an S3 error body, or its start.
fn s3_message(body: &str) -> String {
    let tag = |name: &str| {
        let open = format!("<{name}>");
        let start = body.find(&open)? + open.len();
        let end = body[start..].find(&format!("</{name}>"))? + start;
        Some(body[start..end].to_string())
    };
    match (tag("Code"), tag("Message")) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code,
        _ => body.chars().take(200).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> S3Config {
        S3Config {
            bucket: "releases".into(),
            prefix: "acme/".into(),
            endpoint: Some("http://127.0.0.1:9000".into()),
            ..S3Config::default()
        }
    }

    #[test]
    fn keys_locations_and_credentials() {
        let env = |name: &str| match name {
            "AWS_ACCESS_KEY_ID" => Some("id".to_string()),
            "AWS_SECRET_ACCESS_KEY" => Some("secret".to_string()),
            _ => None,
        };
        let bucket = Bucket::new(&config(), &env).unwrap();
        let key = bucket.key("d-1", "app.tar.gz");
        assert_eq!(key, "acme/d-1/app.tar.gz");
        let location = bucket.location(&key);
        assert_eq!(location, "s3://releases/acme/d-1/app.tar.gz");
        assert_eq!(bucket.key_of(&location), Some(key.as_str()));
        assert_eq!(bucket.key_of("s3://other/acme/d-1/x"), None);
        assert_eq!(bucket.key_of("/tmp/x"), None);
        assert!(!format!("{bucket:?}").contains("secret"));

        let none = |_: &str| None;
        let error = Bucket::new(&config(), &none).unwrap_err();
        assert_eq!(
            error.to_string(),
            "artifacts.s3: the variable AWS_ACCESS_KEY_ID is not set; it holds the bucket's access key id"
        );
        let bad = S3Config {
            endpoint: Some("not a url".into()),
            ..config()
        };
        assert!(matches!(
            Bucket::new(&bad, &env).unwrap_err(),
            BucketError::Config { .. }
        ));
    }

    #[test]
    fn s3_errors_read_as_code_and_message() {
        let body = "<?xml version=\"1.0\"?><Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message></Error>";
        assert_eq!(
            s3_message(body),
            "NoSuchBucket: The specified bucket does not exist"
        );
        assert_eq!(s3_message("plain"), "plain");
    }
}
