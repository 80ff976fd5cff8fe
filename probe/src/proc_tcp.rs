//! The listening TCP sockets of probe's network namespace, as `/proc/net/tcp` lists them.

/// One listening socket of a `/proc/net/tcp` table.
pub(crate) struct Listening<'a> {
    /// The local address as the kernel writes it: `0100007F` is 127.0.0.1.
    pub(crate) address: &'a str,
    pub(crate) port: u16,
    pub(crate) inode: Option<&'a str>,
}

/// The listening sockets (state `0A`) in the `/proc/net/tcp` text `table`.
pub(crate) fn listening(table: &str) -> impl Iterator<Item = Listening<'_>> {
    table.lines().skip(1).filter_map(|line| {
        let words: Vec<&str> = line.split_whitespace().collect();
        let (local, state) = (words.get(1)?, words.get(3)?);
        if *state != "0A" {
            return None;
        }
        let (address, port) = local.rsplit_once(':')?;
        Some(Listening {
            address,
            port: u16::from_str_radix(port, 16).ok()?,
            inode: words.get(9).copied(),
        })
    })
}

/// The `/proc/net/tcp` table of probe's network namespace.
pub(crate) fn table() -> std::io::Result<String> {
    std::fs::read_to_string("/proc/net/tcp")
}
