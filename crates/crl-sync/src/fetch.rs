//! Fetching a CRL partition over HTTP: conditional GET (ETag / Last-Modified), a size limit checked
//! while the body streams in, timeouts, and bounded retries with exponential backoff.
//!
//! Retried: connection errors, timeouts, 5xx, 429 and bodies cut short. Not retried: other 4xx
//! (configuration problems) and bodies over the limit (input rejected).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How to fetch.
#[derive(Clone, Debug)]
pub struct FetchPolicy {
    /// Whole-request timeout.
    pub timeout: Duration,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Retries after the first attempt.
    pub retries: u32,
    /// First backoff delay.
    pub backoff_initial: Duration,
    /// Backoff cap.
    pub backoff_max: Duration,
    /// Largest body accepted.
    pub max_bytes: u64,
}

/// The validators of the last successful fetch, sent back for a conditional GET.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validators {
    /// `ETag` the server gave.
    pub etag: Option<String>,
    /// `Last-Modified` the server gave.
    pub last_modified: Option<String>,
}

/// What a fetch gave.
#[derive(Debug)]
pub enum FetchOutcome {
    /// 304: the CRL has not changed since the validators were taken.
    NotModified,
    /// 200 with the whole body.
    Fetched {
        /// The CRL bytes.
        body: Vec<u8>,
        /// Validators for the next run.
        validators: Validators,
    },
}

/// Why a fetch failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// No answer after all retries (connect error, timeout, cut-off body, 5xx).
    #[error("{url}: upstream unreachable after {attempts} attempts: {last}")]
    Unreachable {
        /// The URL.
        url: String,
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: String,
    },
    /// A 4xx other than 429: not retried.
    #[error("{url}: HTTP {status}")]
    Status {
        /// The URL.
        url: String,
        /// The status code.
        status: u16,
    },
    /// The body is larger than the limit.
    #[error("{url}: body exceeds the limit of {max} bytes")]
    TooLarge {
        /// The URL.
        url: String,
        /// The limit.
        max: u64,
    },
    /// The HTTP client could not be built.
    #[error("HTTP client: {0}")]
    Client(String),
}

impl FetchError {
    /// A stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            FetchError::Unreachable { .. } => "UPSTREAM_UNREACHABLE",
            FetchError::Status { .. } => "UPSTREAM_STATUS",
            FetchError::TooLarge { .. } => "CRL_TOO_LARGE",
            FetchError::Client(_) => "HTTP_CLIENT",
        }
    }
}

/// Builds the HTTP client (native-tls, so OpenSSL stays the only crypto stack).
pub fn client(policy: &FetchPolicy) -> Result<reqwest::Client, FetchError> {
    reqwest::Client::builder()
        .connect_timeout(policy.connect_timeout)
        .timeout(policy.timeout)
        .user_agent(concat!("jpki-pf-crl-sync/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| FetchError::Client(e.to_string()))
}

enum Attempt {
    Done(FetchOutcome),
    Retry(String),
    Fatal(FetchError),
}

/// Fetches `url`, conditionally on `prev`, retrying per `policy`.
pub async fn fetch(
    client: &reqwest::Client,
    url: &str,
    prev: &Validators,
    policy: &FetchPolicy,
) -> Result<FetchOutcome, FetchError> {
    let mut delay = policy.backoff_initial;
    let mut last = String::new();
    let attempts = policy.retries.saturating_add(1);
    for attempt in 1..=attempts {
        match attempt_once(client, url, prev, policy).await {
            Attempt::Done(o) => return Ok(o),
            Attempt::Fatal(e) => return Err(e),
            Attempt::Retry(why) => {
                tracing::warn!(url, attempt, why = %why, "CRL fetch failed; will retry");
                last = why;
            }
        }
        if attempt < attempts {
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(policy.backoff_max);
        }
    }
    Err(FetchError::Unreachable {
        url: url.to_owned(),
        attempts,
        last,
    })
}

async fn attempt_once(
    client: &reqwest::Client,
    url: &str,
    prev: &Validators,
    policy: &FetchPolicy,
) -> Attempt {
    let mut req = client.get(url);
    if let Some(etag) = &prev.etag {
        req = req.header(reqwest::header::IF_NONE_MATCH, etag);
    }
    if let Some(lm) = &prev.last_modified {
        req = req.header(reqwest::header::IF_MODIFIED_SINCE, lm);
    }
    let mut resp = match req.send().await {
        Ok(r) => r,
        Err(e) => return Attempt::Retry(error_chain(&e)),
    };
    let status = resp.status();
    if status == reqwest::StatusCode::NOT_MODIFIED {
        return Attempt::Done(FetchOutcome::NotModified);
    }
    if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        return Attempt::Retry(format!("HTTP {}", status.as_u16()));
    }
    if !status.is_success() {
        return Attempt::Fatal(FetchError::Status {
            url: url.to_owned(),
            status: status.as_u16(),
        });
    }
    if resp.content_length().is_some_and(|n| n > policy.max_bytes) {
        return Attempt::Fatal(FetchError::TooLarge {
            url: url.to_owned(),
            max: policy.max_bytes,
        });
    }
    let header = |name: reqwest::header::HeaderName| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let validators = Validators {
        etag: header(reqwest::header::ETAG),
        last_modified: header(reqwest::header::LAST_MODIFIED),
    };
    let expected = resp.content_length();
    let cap = expected.unwrap_or(1 << 20).min(policy.max_bytes);
    let mut body = Vec::with_capacity(usize::try_from(cap).unwrap_or(1 << 20));
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                if (body.len() + chunk.len()) as u64 > policy.max_bytes {
                    return Attempt::Fatal(FetchError::TooLarge {
                        url: url.to_owned(),
                        max: policy.max_bytes,
                    });
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(e) => {
                return Attempt::Retry(format!(
                    "body cut off after {} bytes: {}",
                    body.len(),
                    error_chain(&e)
                ));
            }
        }
    }
    if let Some(n) = expected
        && n != body.len() as u64
    {
        return Attempt::Retry(format!("body has {} bytes, Content-Length said {n}", body.len()));
    }
    Attempt::Done(FetchOutcome::Fetched { body, validators })
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
