//! S3 and S3-compatible stores (MinIO, Ceph, moto) for backups.
//!
//! Credentials come from the standard AWS chain (environment, profile, web identity, ECS, IMDS).
//! `AWS_ENDPOINT_URL` (or `AWS_ENDPOINT_URL_S3`) points at an S3-compatible store and switches to
//! path-style addressing. Checksums are only sent where S3 requires them, as S3-compatible servers
//! do not all accept the newer flexible checksums; the backup carries its own SHA-256s anyway.
//! HTTPS is rustls on ring. Errors name the bucket and key and never carry the secret key.
//! Every wait is bounded (see `Timeouts`), and a backup's objects are written only where no
//! object is (`put_new`, `complete_upload`): a backup never replaces another.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{Region, RequestChecksumCalculation, ResponseChecksumValidation};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

use crate::error::{Error, Result};

/// The smallest part S3 accepts (but the last).
pub const MIN_PART_SIZE: usize = 5 * 1024 * 1024;
/// Parts of this size keep memory small and the part count far below S3's 10,000.
pub const DEFAULT_PART_SIZE: usize = 8 * 1024 * 1024;

/// How long S3 requests may take. The SDK has no operation or attempt timeout by default: a store
/// that accepts a connection and then says nothing would hold a backup, or a cron job, forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Opening a connection.
    pub connect: Duration,
    /// One attempt of a small request (list, HEAD, the index object, delete, start or abort an
    /// upload), from sending it to the answer's headers; the SDK retries a timed-out attempt.
    pub small_attempt: Duration,
    /// A small request, all its attempts.
    pub small_operation: Duration,
    /// One attempt of a part upload or a completion: a part is up to 1 GiB (`--s3-part-size`),
    /// and S3 may take minutes to assemble a large object.
    pub large_attempt: Duration,
    /// A part or a completion, all its attempts.
    pub large_operation: Duration,
    /// A download that receives no byte for this long is stalled (the SDK's timeouts end at the
    /// answer's headers; a body is streamed after them).
    pub idle: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            small_attempt: Duration::from_secs(30),
            small_operation: Duration::from_secs(120),
            large_attempt: Duration::from_secs(15 * 60),
            large_operation: Duration::from_secs(45 * 60),
            idle: Duration::from_secs(60),
        }
    }
}

impl Timeouts {
    fn small(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(self.connect)
            .operation_attempt_timeout(self.small_attempt)
            .operation_timeout(self.small_operation)
            .build()
    }

    fn large(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(self.connect)
            .operation_attempt_timeout(self.large_attempt)
            .operation_timeout(self.large_operation)
            .build()
    }
}

/// `s3://BUCKET/PREFIX`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Url {
    pub bucket: String,
    /// Empty, or ends with `/`.
    pub prefix: String,
}

impl FromStr for S3Url {
    type Err = Error;

    fn from_str(text: &str) -> Result<S3Url> {
        let rest = text
            .strip_prefix("s3://")
            .ok_or_else(|| Error::usage(format!("{text:?} is not an s3://BUCKET/PREFIX URL")))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(Error::usage(format!("{text:?} names no bucket")));
        }
        let prefix = prefix.trim_matches('/');
        Ok(S3Url {
            bucket: bucket.to_string(),
            prefix: if prefix.is_empty() {
                String::new()
            } else {
                format!("{prefix}/")
            },
        })
    }
}

impl S3Url {
    /// The key of `file` under the prefix.
    pub fn key(&self, file: &str) -> String {
        format!("{}{file}", self.prefix)
    }

    /// Splits `s3://bucket/prefix/file` into the folder URL and the file name.
    pub fn split_object(text: &str) -> Result<(S3Url, String)> {
        let url: S3Url = text.parse()?;
        let full = url.prefix.trim_end_matches('/');
        match full.rsplit_once('/') {
            Some((dir, file)) => Ok((
                S3Url {
                    bucket: url.bucket,
                    prefix: format!("{dir}/"),
                },
                file.to_string(),
            )),
            None if !full.is_empty() => Ok((
                S3Url {
                    bucket: url.bucket,
                    prefix: String::new(),
                },
                full.to_string(),
            )),
            None => Err(Error::usage(format!("{text:?} names no object"))),
        }
    }
}

impl fmt::Display for S3Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.prefix)
    }
}

/// One stored object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub key: String,
    pub size: u64,
}

/// A multipart upload not yet completed or aborted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingUpload {
    pub key: String,
    pub upload_id: String,
}

/// A client for one bucket.
#[derive(Clone, Debug)]
pub struct S3 {
    client: aws_sdk_s3::Client,
    pub bucket: String,
    timeouts: Timeouts,
}

/// The endpoint override, as the SDK reads it (service-specific first).
fn endpoint_override() -> Option<String> {
    ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
}

impl S3 {
    /// Builds the client. Sends no request; credentials are resolved on the first one.
    pub async fn connect(bucket: &str) -> Result<S3> {
        S3::connect_with(bucket, Timeouts::default()).await
    }

    /// `connect` with other timeouts.
    pub async fn connect_with(bucket: &str, timeouts: Timeouts) -> Result<S3> {
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
            .build_https();
        // The loader's own region chain (env, profile, IMDS) shares this HTTP client.
        let shared = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http)
            .load()
            .await;
        let mut config = aws_sdk_s3::config::Builder::from(&shared);
        if shared.region().is_none() {
            // S3-compatible stores ignore the region, but signing needs one.
            config = config.region(Region::from_static("us-east-1"));
        }
        let config = config
            .force_path_style(endpoint_override().is_some())
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
            // Small requests' bounds by default; parts and completions override them (`large`).
            .timeout_config(timeouts.small())
            .build();
        Ok(S3 {
            client: aws_sdk_s3::Client::from_conf(config),
            bucket: bucket.to_string(),
            timeouts,
        })
    }

    /// The configured timeouts.
    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    /// The per-request override for parts and completions.
    fn large(&self) -> aws_sdk_s3::config::Builder {
        aws_sdk_s3::config::Builder::default().timeout_config(self.timeouts.large())
    }

    fn fail<E>(&self, what: &str, key: &str, err: SdkError<E, HttpResponse>) -> Error
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        Error::failed(describe(
            &format!("{what} s3://{}/{key}", self.bucket),
            &err,
        ))
    }

    /// One small object in one request (the index object, its signature, a small archive),
    /// only where none is: `If-None-Match: *`, which S3 (since 2024), MinIO, Ceph RGW and moto
    /// (5.x, tested) honour, after a HEAD that catches the stores that ignore the header. An
    /// object already there is an error: a backup never replaces another.
    pub async fn put_new(&self, key: &str, bytes: Vec<u8>) -> Result<()> {
        self.ensure_absent(key).await?;
        self.put_if_none_match(key, bytes).await
    }

    /// The conditional PUT alone, without the HEAD before it (`put_new` is what to call).
    pub async fn put_if_none_match(&self, key: &str, bytes: Vec<u8>) -> Result<()> {
        let answer = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .if_none_match("*")
            .body(ByteStream::from(bytes))
            .customize()
            .config_override(self.large())
            .send()
            .await;
        match answer {
            Ok(_) => Ok(()),
            Err(e) if is_precondition_failed(&e) => Err(self.exists(key)),
            Err(e) => Err(self.fail("upload", key, e)),
        }
    }

    /// An error unless `key` is free (HEAD answers 404). Run before a backup starts, and before
    /// each write.
    pub async fn ensure_absent(&self, key: &str) -> Result<()> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(_) => Err(self.exists(key)),
            Err(SdkError::ServiceError(e)) if e.err().is_not_found() => Ok(()),
            Err(e) => Err(self.fail("check", key, e)),
        }
    }

    fn exists(&self, key: &str) -> Error {
        Error::failed(format!(
            "s3://{}/{key} already exists: a backup never replaces another",
            self.bucket
        ))
    }

    pub async fn start_upload(&self, key: &str) -> Result<String> {
        let out = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| self.fail("start multipart upload of", key, e))?;
        out.upload_id.ok_or_else(|| {
            Error::failed(format!(
                "start multipart upload of s3://{}/{key}: no upload id in the answer",
                self.bucket
            ))
        })
    }

    /// Uploads part `number` (from 1); returns the part as `complete_upload` needs it.
    pub async fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        number: i32,
        bytes: Vec<u8>,
    ) -> Result<CompletedPart> {
        let out = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(number)
            .body(ByteStream::from(bytes))
            .customize()
            .config_override(self.large())
            .send()
            .await
            .map_err(|e| self.fail(&format!("upload part {number} of"), key, e))?;
        Ok(CompletedPart::builder()
            .set_e_tag(out.e_tag)
            .part_number(number)
            .build())
    }

    /// Completes an upload of `size` bytes, only where no object is (`If-None-Match: *`, honoured
    /// by moto 5.x as by S3; see `put_new`; the HEAD before the upload began covers the others).
    /// Some S3-compatible servers (moto) answer 200 with a body the SDK cannot read
    /// (`CompleteMultipartUploadResponse`): then a HEAD of the object, of exactly `size` bytes,
    /// confirms the completion.
    pub async fn complete_upload(
        &self,
        key: &str,
        upload_id: &str,
        parts: Vec<CompletedPart>,
        size: u64,
    ) -> Result<()> {
        let answer = self
            .client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .if_none_match("*")
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .customize()
            .config_override(self.large())
            .send()
            .await;
        let err = match answer {
            Ok(_) => return Ok(()),
            Err(err) if is_precondition_failed(&err) => return Err(self.exists(key)),
            Err(err) => err,
        };
        let answered_ok =
            matches!(&err, SdkError::ServiceError(e) if e.raw().status().as_u16() == 200);
        if answered_ok && self.size_of(key).await == Some(size) {
            return Ok(());
        }
        Err(self.fail("complete multipart upload of", key, err))
    }

    /// The stored size of `key`, if it exists and can be read.
    pub async fn size_of(&self, key: &str) -> Option<u64> {
        let head = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .ok()?;
        head.content_length().and_then(|n| u64::try_from(n).ok())
    }

    /// Drops the parts of an unfinished upload, so it leaves no cost and no trace.
    pub async fn abort_upload(&self, key: &str, upload_id: &str) -> Result<()> {
        self.client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| self.fail("abort multipart upload of", key, e))
    }

    /// One cheap request that fails as the real work would (credentials, bucket, endpoint): run
    /// before a backup reads the cluster, so that a bad setup stops it at once.
    pub async fn check(&self, prefix: &str) -> Result<()> {
        self.client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(query_prefix(prefix))
            .max_keys(1)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| self.fail("list", prefix, e))
    }

    /// Every object under `prefix`, all pages.
    pub async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        let mut out = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(query_prefix(prefix))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.fail("list", prefix, e))?;
            for object in page.contents() {
                if let Some(key) = object.key().filter(|k| k.starts_with(prefix)) {
                    out.push(ObjectInfo {
                        key: key.to_string(),
                        size: object.size().unwrap_or(0).max(0) as u64,
                    });
                }
            }
        }
        Ok(out)
    }

    /// Multipart uploads begun under `prefix` and neither completed nor aborted.
    pub async fn pending_uploads(&self, prefix: &str) -> Result<Vec<PendingUpload>> {
        let out = self
            .client
            .list_multipart_uploads()
            .bucket(&self.bucket)
            .prefix(query_prefix(prefix))
            .send()
            .await
            .map_err(|e| self.fail("list multipart uploads in", prefix, e))?;
        Ok(out
            .uploads()
            .iter()
            .filter(|u| u.key().is_some_and(|k| k.starts_with(prefix)))
            .filter_map(|u| {
                Some(PendingUpload {
                    key: u.key()?.to_string(),
                    upload_id: u.upload_id()?.to_string(),
                })
            })
            .collect())
    }

    /// A small object, whole, of at most `limit` bytes: a bigger one is an error, found from its
    /// length before reading and by counting while reading (a length can lie). None when it does
    /// not exist.
    pub async fn get_small(&self, key: &str, limit: u64) -> Result<Option<Vec<u8>>> {
        let out = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => out,
            Err(SdkError::ServiceError(e)) if e.err().is_no_such_key() => return Ok(None),
            Err(e) => return Err(self.fail("download", key, e)),
        };
        let too_big = || {
            Error::failed(format!(
                "s3://{}/{key} is larger than {limit} bytes: not an object this tool wrote",
                self.bucket
            ))
        };
        if out
            .content_length()
            .is_some_and(|n| u64::try_from(n).map_or(true, |n| n > limit))
        {
            return Err(too_big());
        }
        let mut body = out.body;
        let mut bytes = Vec::new();
        while let Some(chunk) = self.next_chunk(key, &mut body).await? {
            if bytes.len() as u64 + chunk.len() as u64 > limit {
                return Err(too_big());
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(Some(bytes))
    }

    /// The body's next chunk, within the idle timeout.
    async fn next_chunk(&self, key: &str, body: &mut ByteStream) -> Result<Option<bytes::Bytes>> {
        let fail =
            |why: String| Error::failed(format!("download s3://{}/{key}: {why}", self.bucket));
        match tokio::time::timeout(self.timeouts.idle, body.try_next()).await {
            Ok(chunk) => chunk.map_err(|e| fail(e.to_string())),
            Err(_) => Err(fail(format!(
                "no data for {}s, the download stalled",
                self.timeouts.idle.as_secs()
            ))),
        }
    }

    /// Streams an object into `file`, chunk by chunk.
    pub async fn download(&self, key: &str, file: &mut tokio::fs::File) -> Result<u64> {
        use tokio::io::AsyncWriteExt;
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| self.fail("download", key, e))?;
        let mut body = out.body;
        let mut size = 0u64;
        while let Some(chunk) = self.next_chunk(key, &mut body).await? {
            file.write_all(&chunk)
                .await
                .map_err(|e| Error::io("write the downloaded archive", e))?;
            size += chunk.len() as u64;
        }
        file.flush()
            .await
            .map_err(|e| Error::io("write the downloaded archive", e))?;
        Ok(size)
    }

    pub async fn delete(&self, key: &str) -> Result<()> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| self.fail("delete", key, e))
    }
}

/// 412 (or 409, a concurrent conditional write): the object appeared meanwhile.
fn is_precondition_failed<E>(err: &SdkError<E, HttpResponse>) -> bool
where
    E: ProvideErrorMetadata,
{
    match err {
        SdkError::ServiceError(e) => {
            matches!(e.raw().status().as_u16(), 412 | 409)
                || matches!(
                    e.err().code(),
                    Some("PreconditionFailed" | "ConditionalRequestConflict")
                )
        }
        _ => false,
    }
}

/// The prefix as sent in a list query: without its trailing `/` (the keys are filtered after),
/// because some S3-compatible servers (moto 5) reject the signature of a query value ending in
/// `/`. Same answer from S3 itself, a few extra keys at most.
fn query_prefix(prefix: &str) -> &str {
    prefix.trim_end_matches('/')
}

/// `what: why`, with a hint for credential problems. Built from the error's code and message
/// only: never from the request, whose signing inputs are not for printing.
pub fn describe<E>(what: &str, err: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let why = match err {
        SdkError::ServiceError(service) => {
            let inner = service.err();
            let status = service.raw().status().as_u16();
            let code = inner.code().unwrap_or("error");
            let message = match inner.message() {
                Some(message) => message.to_string(),
                None => format!("the server answered HTTP {status} ({inner})"),
            };
            let hint = match code {
                "InvalidAccessKeyId"
                | "SignatureDoesNotMatch"
                | "InvalidToken"
                | "ExpiredToken" => {
                    " (the credentials were rejected: check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE)"
                }
                "AccessDenied" => {
                    " (the credentials lack a permission: s3:PutObject, s3:GetObject, s3:ListBucket, s3:DeleteObject, s3:AbortMultipartUpload)"
                }
                "NoSuchBucket" => " (create the bucket first)",
                _ => "",
            };
            format!("{code}: {message}{hint}")
        }
        SdkError::DispatchFailure(failure) => {
            let source = std::error::Error::source(err)
                .map(|s| s.to_string())
                .unwrap_or_default();
            if failure.is_io() || failure.is_timeout() {
                format!("cannot reach S3: {source}")
            } else {
                let text = source.clone();
                if text.to_lowercase().contains("credential") {
                    format!(
                        "no usable AWS credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE): {text}"
                    )
                } else {
                    format!("cannot send the request: {text}")
                }
            }
        }
        SdkError::TimeoutError(_) => "timed out".to_string(),
        SdkError::ResponseError(_) => "the answer could not be read".to_string(),
        SdkError::ConstructionFailure(_) => {
            let source = std::error::Error::source(err)
                .map(|s| s.to_string())
                .unwrap_or_default();
            format!("cannot build the request: {source}")
        }
        other => other.to_string(),
    };
    redact(&format!("{what}: {why}"))
}

/// Belt and braces: the secret key, should any message ever carry it, is masked.
fn redact(text: &str) -> String {
    match std::env::var("AWS_SECRET_ACCESS_KEY") {
        Ok(secret) if secret.len() >= 4 => text.replace(&secret, "****"),
        _ => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn urls_parse_with_and_without_prefix() {
        let url: S3Url = "s3://bucket/a/b/".parse().unwrap();
        assert_eq!(url.bucket, "bucket");
        assert_eq!(url.prefix, "a/b/");
        assert_eq!(url.key("x.tar.gz"), "a/b/x.tar.gz");
        assert_eq!(url.to_string(), "s3://bucket/a/b/");
        let bare: S3Url = "s3://bucket".parse().unwrap();
        assert_eq!(bare.prefix, "");
        assert!("bucket/x".parse::<S3Url>().is_err());
        assert!("s3:///x".parse::<S3Url>().is_err());
    }

    #[tokio::test]
    async fn every_request_is_bounded() {
        let s3 = S3::connect("b").await.unwrap();
        let config = s3.client.config();
        let small = config.timeout_config().unwrap();
        assert_eq!(small.connect_timeout(), Some(Duration::from_secs(10)));
        assert_eq!(
            small.operation_attempt_timeout(),
            Some(Duration::from_secs(30))
        );
        assert_eq!(small.operation_timeout(), Some(Duration::from_secs(120)));
        let large = s3.timeouts().large();
        assert!(large.operation_attempt_timeout() > small.operation_attempt_timeout());
        assert!(large.operation_timeout().is_some());
    }

    #[test]
    fn object_urls_split_into_folder_and_file() {
        let (dir, file) = S3Url::split_object("s3://b/p/q/x.tar.gz").unwrap();
        assert_eq!(dir.prefix, "p/q/");
        assert_eq!(file, "x.tar.gz");
        let (dir, file) = S3Url::split_object("s3://b/x.tar.gz").unwrap();
        assert_eq!(dir.prefix, "");
        assert_eq!(file, "x.tar.gz");
        assert!(S3Url::split_object("s3://b/").is_err());
    }
}
