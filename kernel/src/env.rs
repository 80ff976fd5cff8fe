//! The kernel command line: parameters for the kernel and arguments for the application.
//!
//! The line is split into words at white space; a word may be quoted with `"`, inside which
//! `\"` and `\\` stand for `"` and `\`. Before a lone `--`, a word `key=value` is a
//! parameter (`log=debug`) and any other word an argument; after it, every word is an
//! argument. Boards read their own parameters (`tsc_khz=`) from the same line.

use alloc::string::String;
use alloc::vec::Vec;

use spin::Once;

/// A parsed command line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Env {
    params: Vec<(String, String)>,
    args: Vec<String>,
    unterminated_quote: bool,
}

impl Env {
    /// Parses a command line. Never fails: an unterminated quote runs to the end of the
    /// line, and [`Env::unterminated_quote`] says so.
    pub fn parse(line: &str) -> Self {
        let mut env = Self::default();
        let mut chars = line.chars().peekable();
        let mut only_args = false;
        loop {
            while chars.next_if(|c| c.is_whitespace()).is_some() {}
            if chars.peek().is_none() {
                return env;
            }
            let mut word = String::new();
            let mut quoted = false;
            while let Some(c) = chars.next() {
                match c {
                    '"' => quoted = !quoted,
                    '\\' if quoted => word.extend(chars.next()),
                    c if c.is_whitespace() && !quoted => break,
                    c => word.push(c),
                }
            }
            env.unterminated_quote |= quoted;
            if only_args {
                env.args.push(word);
            } else if word == "--" {
                only_args = true;
            } else if let Some((key, value)) = word.split_once('=') {
                env.params.push((key.into(), value.into()));
            } else {
                env.args.push(word);
            }
        }
    }

    /// The value of parameter `key`; the last one wins when it is given twice.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The application's arguments.
    pub fn args(&self) -> &[String] {
        &self.args
    }

    /// Whether a quote was left open.
    pub fn unterminated_quote(&self) -> bool {
        self.unterminated_quote
    }
}

static LINE: Once<&'static str> = Once::new();
static ENV: Once<Env> = Once::new();

/// Keeps the command line; it is parsed on first use, not at boot, where every new line
/// of code costs (under TCG, running code for the first time is most of a boot).
pub(crate) fn install(line: &'static str) {
    LINE.call_once(|| line);
}

fn env() -> &'static Env {
    ENV.call_once(|| Env::parse(LINE.get().copied().unwrap_or_default()))
}

/// The value of `key=` among the plain words before `--`, without the full parse: for the
/// few parameters the kernel needs at boot, whose values are never quoted.
pub(crate) fn boot_param(key: &str) -> Option<&'static str> {
    plain_param(LINE.get().copied().unwrap_or_default(), key)
}

/// The value of `key=` among the words of `line` before `--`, quotes taken as they stand.
/// Words end at the white space [`Env::parse`] splits at, Unicode's included, so that both
/// read the same value.
fn plain_param<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split(char::is_whitespace)
        .take_while(|word| *word != "--")
        .filter_map(|word| word.strip_prefix(key)?.strip_prefix('='))
        .last()
}

/// The application's arguments, as `std::env::args` gives them but without a program name.
pub fn args() -> impl Iterator<Item = &'static str> {
    env().args().iter().map(String::as_str)
}

/// The value of kernel parameter `key` (`key=value` on the command line).
pub fn param(key: &str) -> Option<&'static str> {
    env().param(key)
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc::{self, RecvTimeoutError};
    use std::time::Duration;

    use super::{Env, plain_param};

    #[test]
    fn splits_parameters_from_arguments() {
        let env = Env::parse("tsc_khz=2600000  log=debug serve  -- log=trace -- x");
        assert_eq!(env.param("log"), Some("debug"));
        assert_eq!(env.param("tsc_khz"), Some("2600000"));
        assert_eq!(env.param("nope"), None);
        assert_eq!(env.args(), ["serve", "log=trace", "--", "x"]);
        assert!(!env.unterminated_quote());
    }

    #[test]
    fn honours_quotes_and_escapes() {
        let env = Env::parse(r#"greet "hello world" "say \"hi\" \\o/" a=" b ""#);
        assert_eq!(env.args(), ["greet", "hello world", r#"say "hi" \o/"#]);
        assert_eq!(env.param("a"), Some(" b "));
    }

    #[test]
    fn boot_parameters_are_found_before_the_separator() {
        super::install("log=warn x log=debug -- log=trace");
        assert_eq!(super::boot_param("log"), Some("debug"));
        assert_eq!(super::boot_param("lo"), None);
        assert_eq!(super::param("log"), Some("debug"));
        assert_eq!(super::args().collect::<Vec<_>>(), ["x", "log=trace"]);
    }

    #[test]
    fn boot_parameters_end_where_the_full_parse_ends_words() {
        for line in ["log=debug\u{b}x", "log=debug\u{a0}x", "x\u{3000}log=debug"] {
            assert_eq!(plain_param(line, "log"), Some("debug"), "{line:?}");
            assert_eq!(Env::parse(line).param("log"), Some("debug"), "{line:?}");
        }
        assert_eq!(
            plain_param("log=debug\u{a0}--\u{a0}log=trace", "log"),
            Some("debug")
        );
    }

    #[test]
    fn survives_bad_input() {
        assert_eq!(Env::parse(""), Env::default());
        assert_eq!(Env::parse("   \t "), Env::default());
        let env = Env::parse(r#"x "unterminated \"#);
        assert!(env.unterminated_quote());
        assert_eq!(env.args(), ["x", "unterminated "]);
        assert_eq!(Env::parse("=v").param(""), Some("v"));
    }

    /// Random lines of quotes, escapes, separators and every kind of white space: each
    /// parses (a loop that does not end fails after a minute instead of hanging), the words
    /// hold no more than the line, and on lines without quotes the boot-time reader agrees
    /// with the full parse.
    #[test]
    fn hostile_lines_parse_and_both_readers_agree() {
        let (done, finished) = mpsc::channel();
        let worker = std::thread::spawn(move || {
            let mut seed = 0x656e_765f_6c69_6e65u64;
            let mut next = || {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed
            };
            let pieces = [
                "a", "log", "=", "debug", "--", "-", " ", "\t", "\n", "\u{b}", "\u{a0}",
                "\u{3000}", "\"", "\\", "\u{e9}",
            ];
            for _ in 0..100_000 {
                let line: String = (0..next() % 16)
                    .map(|_| pieces[(next() % pieces.len() as u64) as usize])
                    .collect();
                let env = Env::parse(&line);
                let held = env.args().iter().map(String::len).sum::<usize>()
                    + env
                        .params
                        .iter()
                        .map(|(k, v)| k.len() + v.len())
                        .sum::<usize>();
                assert!(held <= line.len(), "{line:?}");
                assert!(!env.unterminated_quote() || line.contains('"'), "{line:?}");
                if !line.contains('"') {
                    for key in ["log", "a", ""] {
                        assert_eq!(plain_param(&line, key), env.param(key), "{line:?} {key:?}");
                    }
                }
            }
            let _ = done.send(());
        });
        if finished.recv_timeout(Duration::from_secs(60)) == Err(RecvTimeoutError::Timeout) {
            panic!("the parser is still running after a minute: a loop that does not end");
        }
        if let Err(panic) = worker.join() {
            std::panic::resume_unwind(panic);
        }
    }
}
