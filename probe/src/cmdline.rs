//! The guest's kernel command line (QEMU's `-append`).
//!
//! Words are separated by spaces. A word with whitespace, a `"` or a `\` (or an empty
//! word) is wrapped in double quotes, and inside the quotes `"` and `\` are escaped with
//! a backslash; the guest's parser undoes exactly that.

/// Builds the command line: the TSC hint first, then the guest's own arguments.
pub(crate) fn guest_cmdline(tsc_khz: Option<u64>, args: &[String]) -> String {
    let hint = tsc_khz.map(|khz| format!("tsc_khz={khz}"));
    hint.into_iter()
        .chain(args.iter().map(|arg| quote(arg)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Quotes one argument if the guest would otherwise split or misread it.
fn quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && !arg
            .chars()
            .any(|c| c.is_whitespace() || c == '"' || c == '\\');
    if plain {
        return arg.to_owned();
    }
    let mut out = String::with_capacity(arg.len() + 2);
    out.push('"');
    for c in arg.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::guest_cmdline;

    fn args(words: &[&str]) -> Vec<String> {
        words.iter().map(|word| (*word).to_owned()).collect()
    }

    #[test]
    fn hint_comes_first() {
        assert_eq!(
            guest_cmdline(Some(2_995_200), &args(&["a", "b"])),
            "tsc_khz=2995200 a b"
        );
        assert_eq!(guest_cmdline(None, &args(&["a", "b"])), "a b");
        assert_eq!(guest_cmdline(None, &[]), "");
        assert_eq!(guest_cmdline(Some(1), &[]), "tsc_khz=1");
    }

    #[test]
    fn quotes_words_the_guest_would_split() {
        assert_eq!(
            guest_cmdline(None, &args(&["hello world"])),
            r#""hello world""#
        );
        assert_eq!(guest_cmdline(None, &args(&["tab\there"])), "\"tab\there\"");
        assert_eq!(guest_cmdline(None, &args(&[""])), r#""""#);
    }

    #[test]
    fn escapes_quotes_and_backslashes() {
        assert_eq!(
            guest_cmdline(None, &args(&[r#"say "hi""#])),
            r#""say \"hi\"""#
        );
        assert_eq!(guest_cmdline(None, &args(&[r"a\b"])), r#""a\\b""#);
        assert_eq!(
            guest_cmdline(None, &args(&["key=value", "--flag"])),
            "key=value --flag"
        );
    }
}
