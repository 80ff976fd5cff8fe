//! `probe disk new|ls|get`: make a FAT image from nothing or from a folder, list a
//! directory of one, copy a file out of one.

use std::io::Write;
use std::path::{Path, PathBuf};

use fatfs::{DirEntry, FatType, LossyOemCpConverter, ReadWriteSeek, StdIoWrapper};

use crate::fat::region::Region;
use crate::fat::share::Tree;
use crate::fat::time::{from_fat, show};
use crate::fat::{self, Clock, Format, Layout, Volume, fat_name, show_bytes};

/// `disk new`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct NewOptions {
    pub(crate) format: Format,
    pub(crate) share: Option<PathBuf>,
    pub(crate) force: bool,
    pub(crate) file: PathBuf,
}

/// `probe disk ...`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum DiskCommand {
    New(NewOptions),
    Ls {
        file: PathBuf,
        path: String,
    },
    Get {
        file: PathBuf,
        path: String,
        out: Option<PathBuf>,
    },
}

/// Runs the command and returns probe's exit code: 0 done, 1 failed.
pub(crate) fn run(command: &DiskCommand) -> u8 {
    let result = match command {
        DiskCommand::New(options) => new(options).map(|summary| println!("{summary}")),
        DiskCommand::Ls { file, path } => ls(file, path).map(|text| print!("{text}")),
        DiskCommand::Get { file, path, out } => get(file, path, out.as_deref()),
    };
    match result {
        Ok(()) => 0,
        Err(message) => {
            eprintln!("probe: {message}");
            1
        }
    }
}

/// Makes the image and returns a line saying what it holds. A folder that cannot be copied
/// leaves no image behind.
pub(crate) fn new(options: &NewOptions) -> Result<String, String> {
    // The folder is checked before the file is created.
    let tree = options.share.as_deref().map(Tree::scan).transpose()?;
    let mounted = fat::create(&options.file, options.format, options.force)?;
    let fat = mounted.volume.fat_type();
    let copied = match &tree {
        Some(tree) => tree.copy_into(&mounted),
        None => Ok(()),
    };
    let unmounted = mounted
        .volume
        .unmount()
        .map_err(|err| format!("cannot write {}: {err}", options.file.display()));
    if let Err(message) = copied.and(unmounted) {
        // Only the file this command created (or was told to replace).
        let _ignored = std::fs::remove_file(&options.file);
        return Err(message);
    }
    let layout = match options.format.layout {
        Layout::WholeDisk => "whole disk",
        Layout::Mbr => "MBR, one partition from 1 MiB",
    };
    let contents = match &tree {
        Some(tree) => format!(
            ", {} of {} from {}",
            show_bytes(tree.file_bytes()),
            tree.counts(),
            tree.root.display()
        ),
        None => String::new(),
    };
    Ok(format!(
        "{}: {} {} ({layout}){contents}",
        options.file.display(),
        show_bytes(options.format.bytes),
        fat_name(fat)
    ))
}

type Entry<'a> = DirEntry<'a, StdIoWrapper<Region>, Clock, LossyOemCpConverter>;

/// The listing of `path` (a directory's entries, or one file): size, date, name; `/` after
/// a directory's name.
pub(crate) fn ls(file: &Path, path: &str) -> Result<String, String> {
    let mounted = fat::open(file)?;
    let volume = &mounted.volume;
    let mut lines = Vec::new();
    match find(volume, file, path)? {
        Found::Root => lines.extend(entries(file, &volume.root_dir(), path)?),
        Found::Entry(entry) if entry.is_dir() => {
            lines.extend(entries(file, &entry.to_dir(), path)?)
        }
        Found::Entry(entry) => lines.push(line(&entry)),
    }
    Ok(lines.concat())
}

fn line<IO: ReadWriteSeek>(entry: &DirEntry<'_, IO, Clock, LossyOemCpConverter>) -> String {
    let size = if entry.is_dir() {
        "<dir>".to_owned()
    } else {
        entry.len().to_string()
    };
    let slash = if entry.is_dir() { "/" } else { "" };
    format!(
        "{size:>12}  {}  {}{slash}\n",
        show(entry.modified()),
        entry.file_name()
    )
}

/// The lines of a directory's entries (without `.` and `..`), sorted by name.
fn entries(
    file: &Path,
    dir: &fatfs::Dir<'_, StdIoWrapper<Region>, Clock, LossyOemCpConverter>,
    path: &str,
) -> Result<Vec<String>, String> {
    let mut found = Vec::new();
    for entry in bounded(file, dir, path)? {
        let name = entry.file_name();
        if name != "." && name != ".." {
            found.push((name.to_lowercase(), line(&entry)));
        }
    }
    found.sort();
    Ok(found.into_iter().map(|(_, line)| line).collect())
}

/// The most entries a FAT directory holds (its size is limited to 2 MiB).
const MAX_DIR_ENTRIES: usize = 65_536;

/// A directory's entries, refusing a directory with more entries than FAT allows: its
/// cluster chain loops.
fn bounded<'a>(
    file: &Path,
    dir: &fatfs::Dir<'a, StdIoWrapper<Region>, Clock, LossyOemCpConverter>,
    path: &str,
) -> Result<Vec<Entry<'a>>, String> {
    let mut found = Vec::new();
    for entry in dir.iter() {
        let entry = entry.map_err(|err| {
            format!(
                "{}: cannot read the directory {path}: {err}",
                file.display()
            )
        })?;
        found.push(entry);
        if found.len() > MAX_DIR_ENTRIES {
            return Err(format!(
                "{}: the directory {path} has more than {MAX_DIR_ENTRIES} entries, more than \
                 FAT allows: its cluster chain loops",
                file.display()
            ));
        }
    }
    Ok(found)
}

enum Found<'a> {
    Root,
    Entry(Entry<'a>),
}

/// The entry at `path` (`/`-separated, names compared without case).
fn find<'a>(volume: &'a Volume, file: &Path, path: &str) -> Result<Found<'a>, String> {
    let mut current = Found::Root;
    let mut walked = String::new();
    for name in path
        .split('/')
        .filter(|name| !name.is_empty() && *name != ".")
    {
        let dir = match &current {
            Found::Root => volume.root_dir(),
            Found::Entry(entry) if entry.is_dir() => entry.to_dir(),
            Found::Entry(_) => {
                return Err(format!(
                    "{}: {walked} is a file, not a directory",
                    file.display()
                ));
            }
        };
        walked.push('/');
        walked.push_str(name);
        let wanted = name.to_lowercase();
        let entry = bounded(file, &dir, &walked)?
            .into_iter()
            .find(|entry| {
                entry.file_name().to_lowercase() == wanted
                    || entry.short_file_name().to_lowercase() == wanted
            })
            .ok_or_else(|| format!("{}: no {walked} in the volume", file.display()))?;
        current = Found::Entry(entry);
    }
    Ok(current)
}

/// Copies the file at `path` to `out` (with its modification time), or to stdout.
pub(crate) fn get(file: &Path, path: &str, out: Option<&Path>) -> Result<(), String> {
    let mounted = fat::open(file)?;
    let entry = match find(&mounted.volume, file, path)? {
        Found::Root => return Err(format!("{}: / is a directory", file.display())),
        Found::Entry(entry) if entry.is_dir() => {
            return Err(format!(
                "{}: {path} is a directory (list it with probe disk ls)",
                file.display()
            ));
        }
        Found::Entry(entry) => entry,
    };
    let mut reader = entry.to_file();
    let failed = |err: std::io::Error| format!("{}: cannot copy {path} out: {err}", file.display());
    let copied = match out {
        None => {
            let mut stdout = std::io::stdout().lock();
            let copied = std::io::copy(&mut reader, &mut stdout);
            stdout.flush().and(copied)
        }
        Some(out) => {
            let mut target = std::fs::File::create(out)
                .map_err(|err| format!("cannot create {}: {err}", out.display()))?;
            let copied = std::io::copy(&mut reader, &mut target).map_err(failed)?;
            if let Some(modified) = from_fat(entry.modified()) {
                // The time is a courtesy: the data is what was asked for.
                let _ignored = target.set_modified(modified);
            }
            Ok(copied)
        }
    };
    let checked = copied.map_err(failed).and_then(|copied| {
        if copied == entry.len() {
            return Ok(());
        }
        Err(format!(
            "{}: {path} is {} bytes by its directory entry, but only {copied} could be read: \
             a truncated image?",
            file.display(),
            entry.len()
        ))
    });
    if let (Err(_), Some(out)) = (&checked, out) {
        // What was copied is not the file; leave nothing that looks like it.
        let _ignored = std::fs::remove_file(out);
    }
    checked
}

/// `--fat 12|16|32`.
pub(crate) fn parse_fat(value: &str) -> Option<FatType> {
    match value {
        "12" => Some(FatType::Fat12),
        "16" => Some(FatType::Fat16),
        "32" => Some(FatType::Fat32),
        _ => None,
    }
}
