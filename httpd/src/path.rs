//! From a request target to a path inside the served folder.
//!
//! [`resolve`] decodes `%xx`, drops the query, takes the path out of an absolute URI, and
//! applies `.` and `..` itself, so what reaches the file system is a plain list of names
//! below the served folder. A target that would climb above it, or that decodes to a byte
//! no file name holds (NUL, a control character, `/` or `\` inside a name), is refused
//! with 400; a name longer than FAT allows cannot exist, so it is 404.

use alloc::string::String;
use alloc::vec::Vec;

use crate::Status;

/// The longest file name FAT holds, in UTF-16 units (bytes of UTF-8 are at least as many).
pub const MAX_NAME: usize = 255;

/// The most names in a path.
pub const MAX_DEPTH: usize = 32;

/// A path below the served folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SafePath {
    names: Vec<String>,
    trailing_slash: bool,
}

impl SafePath {
    /// The names from the served folder down; empty for the folder itself.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Whether the target ended in `/` (it names a folder).
    pub fn trailing_slash(&self) -> bool {
        self.trailing_slash
    }

    /// The path below `root` (`""` or `"/site"`), as `/site/a/b`.
    pub fn under(&self, root: &str) -> String {
        let mut path = String::from(root.trim_end_matches('/'));
        for name in &self.names {
            path.push('/');
            path.push_str(name);
        }
        if path.is_empty() {
            path.push('/');
        }
        path
    }
}

/// Resolves a request target (origin form `/a/b?q` or absolute form `http://host/a/b`)
/// into a path below the served folder: see the [module docs](self).
pub fn resolve(target: &[u8]) -> Result<SafePath, Status> {
    let path = strip_authority(target)?;
    let path = match path.iter().position(|&b| b == b'?' || b == b'#') {
        Some(end) => &path[..end],
        None => path,
    };
    let Some(path) = path.strip_prefix(b"/") else {
        return Err(Status::BadRequest);
    };
    let mut names: Vec<String> = Vec::new();
    for raw in path.split(|&b| b == b'/') {
        let name = decode(raw)?;
        match name.as_str() {
            "" | "." => {}
            ".." => {
                names.pop().ok_or(Status::BadRequest)?;
            }
            // FAT drops trailing dots and spaces, so `...` or `.. ` could open `..`.
            _ if name.trim_end_matches(['.', ' ']).is_empty() => {
                return Err(Status::BadRequest);
            }
            _ if name.len() > MAX_NAME => return Err(Status::NotFound),
            _ => {
                if names.len() == MAX_DEPTH {
                    return Err(Status::NotFound);
                }
                names.push(name);
            }
        }
    }
    let last = path.rsplit(|&b| b == b'/').next().unwrap_or_default();
    let trailing_slash = path.is_empty() || last.is_empty() || last == b"." || last == b"..";
    Ok(SafePath {
        names,
        trailing_slash,
    })
}

/// The path of an absolute-form target (`http://host/path`): RFC 9112 says a server must
/// accept it; the host part is ignored, as there is one site.
fn strip_authority(target: &[u8]) -> Result<&[u8], Status> {
    let scheme_end = [&b"http://"[..], b"https://"]
        .into_iter()
        .find_map(|scheme| {
            let head = target.get(..scheme.len())?;
            head.eq_ignore_ascii_case(scheme).then_some(scheme.len())
        });
    let Some(start) = scheme_end else {
        return Ok(target);
    };
    let rest = &target[start..];
    match rest.iter().position(|&b| b == b'/' || b == b'?') {
        Some(slash) if rest[slash] == b'/' => Ok(&rest[slash..]),
        _ if rest.is_empty() => Err(Status::BadRequest),
        _ => Ok(b"/"),
    }
}

/// Percent-decodes one name; it must be UTF-8 with no control character, `/` or `\`.
fn decode(raw: &[u8]) -> Result<String, Status> {
    let mut bytes = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let byte = if raw[i] == b'%' {
            let hex = raw.get(i + 1..i + 3).ok_or(Status::BadRequest)?;
            i += 3;
            (hex_digit(hex[0])? << 4) | hex_digit(hex[1])?
        } else {
            i += 1;
            raw[i - 1]
        };
        if byte < 0x20 || byte == 0x7f || byte == b'/' || byte == b'\\' {
            return Err(Status::BadRequest);
        }
        bytes.push(byte);
    }
    String::from_utf8(bytes).map_err(|_| Status::BadRequest)
}

fn hex_digit(b: u8) -> Result<u8, Status> {
    match b {
        b'0'..=b'9' => Ok(b - b'0'),
        b'a'..=b'f' => Ok(b - b'a' + 10),
        b'A'..=b'F' => Ok(b - b'A' + 10),
        _ => Err(Status::BadRequest),
    }
}

#[cfg(test)]
mod tests {
    use super::{MAX_DEPTH, resolve};
    use crate::Status;

    fn path(target: &str) -> String {
        resolve(target.as_bytes())
            .unwrap_or_else(|status| panic!("{target}: {status}"))
            .under("/site")
    }

    #[test]
    fn plain_paths_stay_below_the_root() {
        assert_eq!(path("/"), "/site");
        assert_eq!(path("/index.html"), "/site/index.html");
        assert_eq!(path("/a/./b//c?x=/../.."), "/site/a/b/c");
        assert_eq!(path("/a/b/../c"), "/site/a/c");
        assert_eq!(path("/caf%C3%A9%20menu.txt"), "/site/café menu.txt");
        assert_eq!(path("http://example.org/a/b"), "/site/a/b");
        assert_eq!(path("HTTPS://example.org"), "/site");
        assert_eq!(path("http://example.org?x"), "/site");
        assert_eq!(resolve(b"/").map(|p| p.under("")), Ok("/".into()));
    }

    #[test]
    fn trailing_slashes_are_kept() {
        assert!(resolve(b"/docs/").unwrap().trailing_slash());
        assert!(resolve(b"/docs/..").unwrap().trailing_slash());
        assert!(!resolve(b"/docs").unwrap().trailing_slash());
    }

    #[test]
    fn traversal_attempts_are_refused() {
        for attack in [
            "/..",
            "/../secret.txt",
            "/a/../../secret.txt",
            "/%2e%2e/secret.txt",
            "/%2E%2E/secret.txt",
            "/.%2e/secret.txt",
            "/..%2fsecret.txt",
            "/%2e%2e%2fsecret.txt",
            "/..\\secret.txt",
            "/..%5csecret.txt",
            "/%5c..%5csecret.txt",
            "/.../secret.txt",
            "/.. /secret.txt",
            "/..%20/secret.txt",
            "/a%00.html",
            "/a%0a",
            "/%zz",
            "/%2",
            "/%c0%ae%c0%ae/secret.txt",
            "secret.txt",
            "*",
            "http://",
            "//..",
            "http://host/../secret.txt",
        ] {
            assert_eq!(
                resolve(attack.as_bytes()),
                Err(Status::BadRequest),
                "{attack}"
            );
        }
    }

    #[test]
    fn names_that_cannot_exist_are_not_found() {
        let long = format!("/{}", "a".repeat(256));
        assert_eq!(resolve(long.as_bytes()), Err(Status::NotFound));
        let deep = "/a".repeat(MAX_DEPTH + 1);
        assert_eq!(resolve(deep.as_bytes()), Err(Status::NotFound));
        let fits = format!("/{}", "a".repeat(255));
        assert!(resolve(fits.as_bytes()).is_ok());
    }
}
