use core::fmt;

/// The status codes the server answers with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    /// 200
    Ok,
    /// 206: a `Range` was served.
    PartialContent,
    /// 304: `If-Modified-Since` says the client's copy is current.
    NotModified,
    /// 400: the request is malformed, or its path would leave the served folder.
    BadRequest,
    /// 404
    NotFound,
    /// 405: a method other than `GET` and `HEAD`.
    MethodNotAllowed,
    /// 408: the request did not arrive in time.
    RequestTimeout,
    /// 413: the request carries a body larger than the server takes.
    PayloadTooLarge,
    /// 414: the request line is longer than the server takes.
    UriTooLong,
    /// 416: the `Range` starts past the end of the file.
    RangeNotSatisfiable,
    /// 431: too many header lines, or too many header bytes.
    HeaderFieldsTooLarge,
    /// 500: the disk failed.
    InternalServerError,
    /// 501: a transfer coding the server does not implement.
    NotImplemented,
    /// 503: no room for another connection.
    ServiceUnavailable,
    /// 505: a version other than HTTP/1.0 and HTTP/1.1.
    VersionNotSupported,
}

impl Status {
    /// The three-digit code.
    pub const fn code(self) -> u16 {
        match self {
            Self::Ok => 200,
            Self::PartialContent => 206,
            Self::NotModified => 304,
            Self::BadRequest => 400,
            Self::NotFound => 404,
            Self::MethodNotAllowed => 405,
            Self::RequestTimeout => 408,
            Self::PayloadTooLarge => 413,
            Self::UriTooLong => 414,
            Self::RangeNotSatisfiable => 416,
            Self::HeaderFieldsTooLarge => 431,
            Self::InternalServerError => 500,
            Self::NotImplemented => 501,
            Self::ServiceUnavailable => 503,
            Self::VersionNotSupported => 505,
        }
    }

    /// The reason phrase.
    pub const fn reason(self) -> &'static str {
        match self {
            Self::Ok => "OK",
            Self::PartialContent => "Partial Content",
            Self::NotModified => "Not Modified",
            Self::BadRequest => "Bad Request",
            Self::NotFound => "Not Found",
            Self::MethodNotAllowed => "Method Not Allowed",
            Self::RequestTimeout => "Request Timeout",
            Self::PayloadTooLarge => "Content Too Large",
            Self::UriTooLong => "URI Too Long",
            Self::RangeNotSatisfiable => "Range Not Satisfiable",
            Self::HeaderFieldsTooLarge => "Request Header Fields Too Large",
            Self::InternalServerError => "Internal Server Error",
            Self::NotImplemented => "Not Implemented",
            Self::ServiceUnavailable => "Service Unavailable",
            Self::VersionNotSupported => "HTTP Version Not Supported",
        }
    }

    /// Whether a response with this status carries a body (304 never does).
    pub const fn has_body(self) -> bool {
        !matches!(self, Self::NotModified)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code(), self.reason())
    }
}
