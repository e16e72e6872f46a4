//! AWS's answers as the SDK's errors: every error code the services return is read here, once.

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use nubes_core::{Error, ErrorKind};

use crate::SCHEME;

/// The kind an AWS error code (or, without one, an HTTP status) means, and whether trying
/// again later may succeed.
pub fn kind(code: Option<&str>, status: Option<u16>) -> (ErrorKind, bool) {
    use ErrorKind::*;
    let by_code = match code.unwrap_or_default() {
        "NoSuchBucket"
        | "NoSuchKey"
        | "NotFound"
        | "NoSuchUpload"
        | "ResourceNotFoundException"
        | "InvalidInstanceID.NotFound"
        | "InvalidAMIID.NotFound"
        | "InvalidVolume.NotFound"
        | "InvocationDoesNotExist" => Some((NotFound, false)),
        "BucketAlreadyExists" | "BucketAlreadyOwnedByYou" | "ResourceConflictException" => {
            Some((AlreadyExists, false))
        }
        "BucketNotEmpty"
        | "VolumeInUse"
        | "IncorrectState"
        | "IncorrectInstanceState"
        | "InvalidInstanceId" => Some((Conflict, false)),
        "InvalidRange"
        | "InvalidBucketName"
        | "InvalidArgument"
        | "InvalidParameterValue"
        | "InvalidParameterValueException"
        | "InvalidParameterCombination"
        | "KeyTooLongError"
        | "EntityTooLarge"
        | "EntityTooSmall"
        | "MalformedXML"
        | "InvalidRequest"
        | "ValidationException"
        | "InvalidPart"
        | "InvalidPartOrder"
        | "InvalidAMIID.Malformed"
        | "InvalidInstanceType"
        | "InvalidUserData.Malformed"
        | "InvalidParameter"
        | "MissingParameter"
        | "InvalidZipFileException"
        | "InvalidRequestContentException"
        | "RequestTooLargeException"
        | "UnsupportedMediaTypeException"
        | "InvalidRuntimeException"
        | "InvalidSecurityGroupIDException"
        | "InvalidSubnetIDException" => Some((InvalidInput, false)),
        "Unsupported" | "UnsupportedOperation" | "UnsupportedOperationException" => {
            Some((Unsupported, false))
        }
        "AccessDenied"
        | "AccessDeniedException"
        | "UnauthorizedOperation"
        | "AllAccessDisabled" => Some((PermissionDenied, false)),
        "InvalidAccessKeyId"
        | "SignatureDoesNotMatch"
        | "ExpiredToken"
        | "InvalidClientTokenId"
        | "AuthFailure"
        | "UnrecognizedClientException"
        | "MissingAuthenticationToken" => Some((Unauthenticated, false)),
        "Throttling"
        | "ThrottlingException"
        | "SlowDown"
        | "RequestLimitExceeded"
        | "TooManyRequestsException"
        | "RequestThrottled" => Some((RateLimited, true)),
        "InstanceLimitExceeded"
        | "VolumeLimitExceeded"
        | "ServiceQuotaExceededException"
        | "CodeStorageExceededException" => Some((QuotaExceeded, false)),
        "ServiceUnavailable"
        | "InternalError"
        | "InternalFailure"
        | "ServiceException"
        | "Unavailable"
        | "InsufficientInstanceCapacity"
        | "ResourceNotReadyException"
        | "EC2ThrottledException"
        | "ENILimitReachedException" => Some((Unavailable, true)),
        "RequestTimeout" | "RequestTimeoutException" => Some((Timeout, true)),
        _ => None,
    };
    by_code.unwrap_or(match status {
        Some(404) => (NotFound, false),
        Some(409) => (Conflict, false),
        Some(400 | 416) => (InvalidInput, false),
        Some(401) => (Unauthenticated, false),
        Some(403) => (PermissionDenied, false),
        Some(429) => (RateLimited, true),
        Some(500..=599) => (Unavailable, true),
        _ => (Unexpected, false),
    })
}

/// An SDK error as the SDK's error, saying `what` failed and AWS's own reason.
pub fn map<E, R>(e: SdkError<E, R>, what: &str) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + HttpStatus,
{
    let error = match &e {
        SdkError::TimeoutError(_) => Error::new(
            ErrorKind::Timeout,
            format!("{what}: AWS did not answer in time"),
        )
        .set_temporary(),
        SdkError::DispatchFailure(_) => Error::new(
            ErrorKind::Unavailable,
            format!("{what}: cannot reach AWS: {}", DisplayErrorContext(&e)),
        )
        .set_temporary(),
        SdkError::ConstructionFailure(_) => {
            Error::unexpected(format!("{what}: {}", DisplayErrorContext(&e)))
        }
        _ => {
            let status = e.raw_response().map(HttpStatus::status);
            let code = e.code();
            let (kind, temporary) = kind(code, status);
            let reason = e.message().or(code).unwrap_or("no reason given");
            let mut error = Error::new(kind, format!("{what}: {reason}"));
            if temporary {
                error = error.set_temporary();
            }
            error
        }
    };
    error.with_provider(SCHEME)
}

/// The status of a raw response, whichever HTTP types the SDK was built with.
pub trait HttpStatus {
    fn status(&self) -> u16;
}

impl HttpStatus for aws_smithy_runtime_api::http::Response {
    fn status(&self) -> u16 {
        self.status().as_u16()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_decide_before_statuses() {
        assert_eq!(kind(Some("NoSuchKey"), Some(404)).0, ErrorKind::NotFound);
        assert_eq!(
            kind(Some("BucketNotEmpty"), Some(409)).0,
            ErrorKind::Conflict
        );
        assert_eq!(
            kind(Some("InvalidRange"), Some(416)).0,
            ErrorKind::InvalidInput
        );
        assert_eq!(
            kind(Some("SlowDown"), Some(503)),
            (ErrorKind::RateLimited, true)
        );
        assert_eq!(
            kind(Some("Throttling"), Some(400)),
            (ErrorKind::RateLimited, true)
        );
        assert_eq!(kind(None, Some(404)).0, ErrorKind::NotFound);
        assert_eq!(kind(None, Some(503)), (ErrorKind::Unavailable, true));
        assert_eq!(kind(Some("Whatever"), None).0, ErrorKind::Unexpected);
    }
}
