//! # sweep-extract: log lines from files and stdin, in chunks, with provenance
//!
//! The extract step of sweep. [`resolve_inputs`] turns the paths a user gives (files,
//! directories, globs) into a sorted list of files; [`ChunkReader`] reads each one as a
//! stream of [`Chunk`]s that end at line boundaries, decompressing gzip (multi-member,
//! as log shippers and `logrotate` write) and zstd by their magic bytes. Memory stays
//! bounded by the chunk size and the line limit ([`ChunkReader::with_max_line_bytes`]),
//! whatever the input size and the length of its lines. Inputs on object storage (`s3://`,
//! `gs://`, `az://`, `https://`) are listed and streamed by [`remote`].

pub mod remote;

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// An error reading inputs. Every variant names the path and says what to do.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error("input {path:?} does not exist; check the path (relative paths are resolved from {cwd:?})")]
    Missing { path: String, cwd: PathBuf },
    #[error("no files match the pattern {pattern:?}")]
    NoMatch { pattern: String },
    #[error("{pattern:?} is not a valid glob pattern: {message}")]
    BadGlob { pattern: String, message: String },
    #[error("directory {path:?} holds no log files (hidden files are ignored)")]
    EmptyDir { path: PathBuf },
    #[error("cannot read {path:?}: {source}")]
    Io { path: String, source: io::Error },
    #[error("{url:?} is not a URL sweep can read: {message}")]
    BadUrl { url: String, message: String },
    #[error("cannot read {url}: {message}")]
    Object { url: String, message: String },
    /// A URL given to a build without object storage and HTTP(S).
    #[error(transparent)]
    NotBuilt(sweep_storage::StorageError),
}

impl From<sweep_storage::StorageError> for ExtractError {
    fn from(e: sweep_storage::StorageError) -> ExtractError {
        match e {
            sweep_storage::StorageError::BadUrl { url, message } => ExtractError::BadUrl { url, message },
            sweep_storage::StorageError::Store { url, message } => ExtractError::Object { url, message },
            e @ sweep_storage::StorageError::NotBuilt { .. } => ExtractError::NotBuilt(e),
        }
    }
}

/// Where lines come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    File(PathBuf),
    Stdin,
    /// An object on object storage (S3, GCS, Azure, HTTP).
    Object(remote::RemoteObject),
}

impl Input {
    /// The provenance written to the `source` column.
    pub fn name(&self) -> String {
        match self {
            Input::File(p) => p.display().to_string(),
            Input::Stdin => "stdin".to_string(),
            Input::Object(o) => o.url.clone(),
        }
    }

    /// Size on disk (compressed), for progress; `None` for stdin.
    pub fn size(&self) -> Option<u64> {
        match self {
            Input::File(p) => std::fs::metadata(p).ok().map(|m| m.len()),
            Input::Stdin => None,
            Input::Object(o) => Some(o.size),
        }
    }
}

/// Expands paths as a user gives them: `-` is stdin, a directory means every non-hidden
/// file below it, a pattern with `*`, `?` or `[` is a glob; object storage URLs likewise
/// ([`remote::resolve`]). Files come out sorted within
/// each argument, in argument order, without duplicates. Below a directory, sweep's own
/// outputs are not inputs (see [`is_sweep_output`]): a lake written into the log folder is
/// not read back as logs by the next run.
pub fn resolve_inputs<S: AsRef<str>>(args: &[S]) -> Result<Vec<Input>, ExtractError> {
    let mut out: Vec<Input> = Vec::new();
    for arg in args {
        let arg = arg.as_ref();
        if arg == "-" {
            out.push(Input::Stdin);
            continue;
        }
        if remote::is_url(arg) && !remote::is_object_url(arg) {
            let scheme = arg.split_once("://").map_or("", |(s, _)| s);
            return Err(ExtractError::BadUrl {
                url: arg.to_string(),
                message: format!("sweep does not read {scheme}:// (it reads local paths and {})", remote::SCHEMES.join(":// ")),
            });
        }
        if remote::is_object_url(arg) {
            for object in remote::resolve(arg)? {
                let input = Input::Object(object);
                if !out.contains(&input) {
                    out.push(input);
                }
            }
            continue;
        }
        let mut found = Vec::new();
        if arg.contains(['*', '?', '[']) {
            let paths = glob::glob(arg).map_err(|e| ExtractError::BadGlob { pattern: arg.to_string(), message: e.to_string() })?;
            for p in paths {
                let p = p.map_err(|e| ExtractError::Io { path: e.path().display().to_string(), source: e.into() })?;
                if p.is_dir() {
                    walk(&p, &mut found)?;
                } else {
                    found.push(p);
                }
            }
            if found.is_empty() {
                return Err(ExtractError::NoMatch { pattern: arg.to_string() });
            }
        } else {
            let p = Path::new(arg);
            if !p.exists() {
                return Err(ExtractError::Missing { path: arg.to_string(), cwd: std::env::current_dir().unwrap_or_default() });
            }
            if p.is_dir() {
                walk(p, &mut found)?;
                if found.is_empty() {
                    return Err(ExtractError::EmptyDir { path: p.to_path_buf() });
                }
            } else {
                found.push(p.to_path_buf());
            }
        }
        found.sort();
        for f in found {
            let input = Input::File(f);
            if !out.contains(&input) {
                out.push(input);
            }
        }
    }
    Ok(out)
}

/// True for a folder sweep writes: a lake (its journal `_sweep`), a Delta table (`_delta_log`),
/// or a stream checkpoint (`pipeline.json` beside `offsets`).
pub fn is_sweep_output(dir: &Path) -> bool {
    dir.join("_sweep").is_dir() || dir.join("_delta_log").is_dir() || (dir.join("pipeline.json").is_file() && dir.join("offsets").is_dir())
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), ExtractError> {
    let io_err = |source| ExtractError::Io { path: dir.display().to_string(), source };
    for entry in std::fs::read_dir(dir).map_err(io_err)? {
        let entry = entry.map_err(io_err)?;
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            if is_sweep_output(&path) {
                continue;
            }
            walk(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

/// How the bytes of an input are compressed, told by their first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    pub fn detect(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }
}

/// Counts bytes read from the underlying (compressed) input, for progress bars.
struct Counting<R> {
    inner: R,
    counter: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.counter.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Opens an input and wraps it in the right decompressor.
pub fn open(input: &Input, counter: Arc<AtomicU64>) -> Result<Box<dyn Read + Send>, ExtractError> {
    decompressed(open_raw(input)?, input, counter)
}

/// The input's bytes as stored, without waiting for any of them: an object starts
/// downloading here, so opening the next input early overlaps its first bytes' latency with
/// the reading of this one ([`ChunkReader::from_raw`]).
pub fn open_raw(input: &Input) -> Result<Box<dyn Read + Send>, ExtractError> {
    Ok(match input {
        Input::File(p) => Box::new(File::open(p).map_err(|source| ExtractError::Io { path: input.name(), source })?),
        Input::Stdin => Box::new(io::stdin()),
        Input::Object(o) => remote::open(o),
    })
}

/// `raw` (from [`open_raw`]) behind the decompressor its first bytes call for.
fn decompressed(raw: Box<dyn Read + Send>, input: &Input, counter: Arc<AtomicU64>) -> Result<Box<dyn Read + Send>, ExtractError> {
    let name = input.name();
    let mut buffered = BufReader::with_capacity(1 << 16, Counting { inner: raw, counter });
    let head = buffered.fill_buf().map_err(|source| ExtractError::Io { path: name.clone(), source })?;
    Ok(match Compression::detect(head) {
        Compression::None => Box::new(buffered),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(buffered)),
        Compression::Zstd => {
            Box::new(zstd::stream::read::Decoder::with_buffer(buffered).map_err(|source| ExtractError::Io { path: name, source })?)
        }
    })
}

/// A run of whole lines from one input.
#[derive(Debug, Clone)]
pub struct Chunk {
    /// The input's name (the `source` column).
    pub source: Arc<str>,
    /// 1-based line number of the first line in `data`.
    pub first_offset: i64,
    /// Whole lines, each ending in `\n` except perhaps the last line of the input.
    pub data: Vec<u8>,
    /// The last header directive line (see `FormatSpec::header_directive`) that came
    /// before this chunk in the same input.
    pub header: Option<Arc<[u8]>>,
    /// Set when the reader cut the chunk's first line short because it is longer than the
    /// reader's `max_line_bytes`: `data` then holds that line alone, as its first
    /// `max_line_bytes` bytes and a `\n` (even at the end of the input), and this is its
    /// real length in bytes, without its `\n` or `\r\n` (see `ChunkParser::parse_chunk_cut`).
    pub cut_line_len: Option<u64>,
}

impl Chunk {
    /// Number of lines in the chunk, counted as the parser counts them.
    pub fn line_count(&self) -> u64 {
        count_lines(&self.data)
    }
}

/// Lines in `data`: one per `\n`, plus one for a last line without a terminator.
pub fn count_lines(data: &[u8]) -> u64 {
    let n = memchr::memchr_iter(b'\n', data).count() as u64;
    n + u64::from(!data.is_empty() && !data.ends_with(b"\n"))
}

/// Default chunk size: large enough to amortise channel and batch overheads, small
/// enough that a few in flight per core stay well under a gigabyte.
pub const DEFAULT_CHUNK_BYTES: usize = 4 << 20;

/// Reads one input as a sequence of line-aligned chunks.
pub struct ChunkReader {
    reader: Box<dyn Read + Send>,
    source: Arc<str>,
    chunk_bytes: usize,
    max_line: usize,
    carry: Vec<u8>,
    next_offset: i64,
    directive: Option<&'static [u8]>,
    header: Option<Arc<[u8]>>,
    done: bool,
}

impl ChunkReader {
    /// `directive` is the header-directive prefix of the format, if it has one.
    pub fn new(input: &Input, chunk_bytes: usize, directive: Option<&'static [u8]>, counter: Arc<AtomicU64>) -> Result<Self, ExtractError> {
        Ok(Self::from_reader(open(input, counter)?, input.name().into(), chunk_bytes, directive))
    }

    /// [`ChunkReader::new`] over bytes [`open_raw`] gave for `input`.
    pub fn from_raw(
        raw: Box<dyn Read + Send>,
        input: &Input,
        chunk_bytes: usize,
        directive: Option<&'static [u8]>,
        counter: Arc<AtomicU64>,
    ) -> Result<Self, ExtractError> {
        Ok(Self::from_reader(decompressed(raw, input, counter)?, input.name().into(), chunk_bytes, directive))
    }

    fn from_reader(reader: Box<dyn Read + Send>, source: Arc<str>, chunk_bytes: usize, directive: Option<&'static [u8]>) -> Self {
        ChunkReader {
            reader,
            source,
            chunk_bytes: chunk_bytes.max(1024),
            max_line: usize::MAX,
            carry: Vec::new(),
            next_offset: 1,
            directive,
            header: None,
            done: false,
        }
    }

    /// Cuts lines longer than `max` bytes (without their `\n` or `\r\n`) short while
    /// reading them: such a line comes as a chunk of its own holding its first `max` bytes,
    /// with its real length in [`Chunk::cut_line_len`], and the rest of it is counted and
    /// dropped as it streams past. A chunk then holds at most `chunk_bytes + max + 1` bytes
    /// whatever the length of a line. Without this limit a line is read whole, however long.
    ///
    /// The parser must use the same limit and be given `cut_line_len`
    /// (`ChunkParser::with_max_line_bytes`, `ChunkParser::parse_chunk_cut`), or a cut line's
    /// head would be read as a line of its own.
    pub fn with_max_line_bytes(mut self, max: usize) -> Self {
        self.max_line = max;
        self
    }

    /// The next chunk, `Ok(None)` at the end of the input.
    pub fn next_chunk(&mut self) -> Result<Option<Chunk>, ExtractError> {
        if self.done {
            return Ok(None);
        }
        let mut data = std::mem::take(&mut self.carry);
        data.reserve_exact(self.chunk_bytes.saturating_sub(data.len()));
        let mut searched = 0;
        let mut cut_line_len = None;
        loop {
            // Fill up to the chunk size (or more, while a single line is longer). Growing by
            // exactly what is read keeps the buffer's capacity, not only its length, bounded.
            let target = if data.len() < self.chunk_bytes { self.chunk_bytes } else { data.len() + self.chunk_bytes };
            let start = data.len();
            data.reserve_exact(target - start);
            data.resize(target, 0);
            let n = read_full(&mut self.reader, &mut data[start..])
                .map_err(|source| ExtractError::Io { path: self.source.to_string(), source })?;
            data.truncate(start + n);
            if n == 0 {
                self.done = true;
                break;
            }
            if let Some(last_nl) = memchr::memrchr(b'\n', &data[searched..]) {
                let cut = searched + last_nl + 1;
                self.carry = data[cut..].to_vec();
                data.truncate(cut);
                break;
            }
            // No line end yet: `data` is one line longer than the chunk, so keep reading,
            // unless it is too long already: past `max_line + 1` bytes (the last may be the
            // `\r` of a `\r\n`) nothing that follows can make it fit.
            searched = data.len();
            if data.len() > self.max_line.saturating_add(1) {
                cut_line_len = Some(self.cut_line(&mut data)?);
                break;
            }
        }
        if data.is_empty() {
            return Ok(None);
        }
        let chunk = Chunk { source: self.source.clone(), first_offset: self.next_offset, data, header: self.header.clone(), cut_line_len };
        self.next_offset += chunk.line_count() as i64;
        // A cut line is a reject, never a directive the parser reads.
        if let (Some(prefix), None) = (self.directive, cut_line_len)
            && let Some(line) = last_directive(&chunk.data, prefix, self.max_line)
        {
            self.header = Some(line.into());
        }
        Ok(Some(chunk))
    }

    /// Keeps the first `max_line` bytes of the too-long line that `data` begins (it holds no
    /// `\n`), reads past the rest of it, carries what follows it to the next chunk, and
    /// returns its length as the parser measures lines (without `\n` or `\r\n`).
    fn cut_line(&mut self, data: &mut Vec<u8>) -> Result<u64, ExtractError> {
        let mut len = data.len() as u64;
        let mut last = data.last().copied();
        data.truncate(self.max_line);
        let mut buf = vec![0; self.chunk_bytes.min(1 << 20)];
        loop {
            let n = read_full(&mut self.reader, &mut buf).map_err(|source| ExtractError::Io { path: self.source.to_string(), source })?;
            if n == 0 {
                self.done = true;
                break;
            }
            match memchr::memchr(b'\n', &buf[..n]) {
                Some(end) => {
                    len += end as u64;
                    last = if end > 0 { Some(buf[end - 1]) } else { last };
                    self.carry = buf[end + 1..n].to_vec();
                    break;
                }
                None => {
                    len += n as u64;
                    last = Some(buf[n - 1]);
                }
            }
        }
        // Even at the end of the input: a chunk of one line whatever `max_line` is (0 too).
        data.push(b'\n');
        data.shrink_to_fit();
        Ok(len - u64::from(last == Some(b'\r')))
    }
}

fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// The last header directive of `data` that the parser reads (one it does not reject for
/// its bytes: at most `max_line` bytes, UTF-8, no `\r` but a CRLF's and no NUL), without its
/// line terminator. A directive the parser rejects does not replace the one before it, so
/// neither may it for the chunks that follow.
fn last_directive<'a>(mut data: &'a [u8], prefix: &[u8], max_line: usize) -> Option<&'a [u8]> {
    while let Some(line) = last_line_with_prefix(data, prefix) {
        if line.len() <= max_line && !line.contains(&b'\r') && !line.contains(&0) && std::str::from_utf8(line).is_ok() {
            return Some(line);
        }
        // Search again before this line (`line` is a subslice of `data`).
        data = &data[..line.as_ptr() as usize - data.as_ptr() as usize];
    }
    None
}

/// The last line of `data` that starts with `prefix`, without its line terminator.
pub fn last_line_with_prefix<'a>(data: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    let mut needle = Vec::with_capacity(prefix.len() + 1);
    needle.push(b'\n');
    needle.extend_from_slice(prefix);
    let start = match memchr::memmem::rfind(data, &needle) {
        Some(i) => i + 1,
        None if data.starts_with(prefix) => 0,
        None => return None,
    };
    let end = memchr::memchr(b'\n', &data[start..]).map_or(data.len(), |i| start + i);
    let line = &data[start..end];
    Some(line.strip_suffix(b"\r").unwrap_or(line))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn read_all(input: &Input, chunk: usize, directive: Option<&'static [u8]>) -> Vec<Chunk> {
        let mut r = ChunkReader::new(input, chunk, directive, Arc::default()).unwrap();
        let mut out = Vec::new();
        while let Some(c) = r.next_chunk().unwrap() {
            out.push(c);
        }
        out
    }

    #[test]
    fn chunks_end_at_lines_and_keep_offsets() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        let text: String = (1..=1000).map(|i| format!("line number {i}\n")).collect();
        std::fs::write(&path, format!("{text}tail without newline")).unwrap();
        let chunks = read_all(&Input::File(path), 1024, None);
        assert!(chunks.len() > 10);
        let mut expected = 1;
        let mut joined = Vec::new();
        for c in &chunks {
            assert_eq!(c.first_offset, expected);
            let first = std::str::from_utf8(&c.data).unwrap().lines().next().unwrap().to_string();
            if expected <= 1000 {
                assert_eq!(first, format!("line number {expected}"));
            }
            expected += c.line_count() as i64;
            joined.extend_from_slice(&c.data);
        }
        assert_eq!(expected, 1002);
        assert!(joined.ends_with(b"tail without newline"));
    }

    #[test]
    fn a_folder_input_leaves_out_sweeps_own_outputs() {
        let dir = tempfile::tempdir().unwrap();
        let logs = dir.path().join("logs");
        for (path, text) in [
            ("a.log", "x\n"),
            ("sub/b.log", "y\n"),
            ("lake/_sweep/runs/1.json", "{}"),
            ("lake/events/date=2026-01-01/part-0.parquet", "PAR1"),
            ("delta/_delta_log/00000000000000000000.json", "{}"),
            ("delta/part-0.parquet", "PAR1"),
            ("ckpt/pipeline.json", "{}"),
            ("ckpt/offsets/000000000000.json", "{}"),
        ] {
            let p = logs.join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        let found = resolve_inputs(&[logs.to_str().unwrap()]).unwrap();
        assert_eq!(found, vec![Input::File(logs.join("a.log")), Input::File(logs.join("sub/b.log"))]);
        // Named explicitly, a file is read whatever folder it is in.
        let named = logs.join("lake/events/date=2026-01-01/part-0.parquet");
        assert_eq!(resolve_inputs(&[named.to_str().unwrap()]).unwrap(), vec![Input::File(named)]);
    }

    #[test]
    fn multi_member_gzip_and_zstd() {
        let dir = tempfile::tempdir().unwrap();
        let gz = dir.path().join("a.log.gz");
        let mut f = File::create(&gz).unwrap();
        for member in ["one\ntwo\n", "three\n"] {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            enc.write_all(member.as_bytes()).unwrap();
            f.write_all(&enc.finish().unwrap()).unwrap();
        }
        drop(f);
        let data: Vec<u8> = read_all(&Input::File(gz), 4096, None).into_iter().flat_map(|c| c.data).collect();
        assert_eq!(data, b"one\ntwo\nthree\n");

        let zst = dir.path().join("b.log.zst");
        std::fs::write(&zst, zstd::encode_all(&b"alpha\nbeta\n"[..], 3).unwrap()).unwrap();
        let data: Vec<u8> = read_all(&Input::File(zst), 4096, None).into_iter().flat_map(|c| c.data).collect();
        assert_eq!(data, b"alpha\nbeta\n");
    }

    #[test]
    fn header_directive_carried_to_next_chunk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("elff.log");
        let mut text = String::from("#Fields: a b\n");
        for i in 0..200 {
            text.push_str(&format!("{i} x\n"));
        }
        text.push_str("#Fields: a b c\r\n");
        for i in 0..200 {
            text.push_str(&format!("{i} x y\n"));
        }
        std::fs::write(&path, text).unwrap();
        let chunks = read_all(&Input::File(path), 1024, Some(b"#Fields:"));
        assert!(chunks[0].header.is_none());
        assert_eq!(chunks[1].header.as_deref(), Some(&b"#Fields: a b"[..]));
        assert_eq!(chunks.last().unwrap().header.as_deref(), Some(&b"#Fields: a b c"[..]));
    }

    /// `head` lines, one line of `long` bytes (`x`s, then `end`), `tail` lines, generated
    /// as they are read.
    fn with_long_line(head: usize, long: u64, end: &'static [u8], tail: usize) -> Box<dyn Read + Send> {
        let lines = |name: &str, n: usize| (1..=n).map(|i| format!("{name} line {i}\n")).collect::<String>().into_bytes();
        Box::new(
            io::Cursor::new(lines("head", head)).chain(io::repeat(b'x').take(long)).chain(end).chain(io::Cursor::new(lines("tail", tail))),
        )
    }

    #[test]
    fn long_line_is_cut_while_reading_and_counted_once() {
        const MAX: usize = 1 << 20;
        const CHUNK: usize = 64 << 10;
        const LONG: u64 = 50_000_000;
        for (end, len) in [(&b"\n"[..], LONG), (b"\r\n", LONG), (b"x\r\n", LONG + 1)] {
            let mut r = ChunkReader::from_reader(with_long_line(3000, LONG, end, 3000), "gen".into(), CHUNK, None).with_max_line_bytes(MAX);
            let mut chunks = Vec::new();
            while let Some(c) = r.next_chunk().unwrap() {
                assert!(c.data.capacity() <= CHUNK + MAX + 2, "a chunk of {} bytes ({} allocated)", c.data.len(), c.data.capacity());
                chunks.push(c);
            }
            let cut: Vec<&Chunk> = chunks.iter().filter(|c| c.cut_line_len.is_some()).collect();
            assert_eq!(cut.len(), 1);
            assert_eq!(cut[0].cut_line_len, Some(len), "the line's length without its line end");
            assert_eq!(cut[0].first_offset, 3001);
            assert_eq!(cut[0].line_count(), 1);
            assert_eq!(cut[0].data, [&vec![b'x'; MAX][..], b"\n"].concat());
            // The lines after it keep their numbers and their bytes.
            let mut offset = 1;
            let mut text = Vec::new();
            for c in &chunks {
                assert_eq!(c.first_offset, offset);
                offset += c.line_count() as i64;
                if c.cut_line_len.is_none() {
                    text.extend_from_slice(&c.data);
                }
            }
            assert_eq!(offset, 6002);
            let expected: String =
                (1..=3000).map(|i| format!("head line {i}\n")).chain((1..=3000).map(|i| format!("tail line {i}\n"))).collect();
            assert_eq!(String::from_utf8(text).unwrap(), expected);
        }
    }

    #[test]
    fn lines_that_fit_are_never_cut() {
        const MAX: usize = 4000;
        // A line of exactly the limit, with and without `\r\n`, longer than the chunk; and a
        // last line two bytes too long without a line end (one byte too long, it could still
        // have been a line with its `\r\n`, and would be read whole: the parser rejects it).
        let data = [&vec![b'a'; MAX][..], b"\r\n", &vec![b'b'; MAX][..], b"\n", b"short\n", &vec![b'c'; MAX + 2][..]].concat();
        let mut r = ChunkReader::from_reader(Box::new(io::Cursor::new(data.clone())), "gen".into(), 1024, None).with_max_line_bytes(MAX);
        let mut chunks = Vec::new();
        while let Some(c) = r.next_chunk().unwrap() {
            chunks.push(c);
        }
        let cut: Vec<_> = chunks.iter().filter_map(|c| c.cut_line_len.map(|len| (c.first_offset, len, c.data.len()))).collect();
        assert_eq!(cut, [(4, MAX as u64 + 2, MAX + 1)]);
        let kept: Vec<u8> = chunks.iter().flat_map(|c| c.data.clone()).collect();
        assert_eq!(kept, [&data[..data.len() - 2], b"\n"].concat());
    }

    #[test]
    fn a_zero_limit_still_gives_one_chunk_line_per_line() {
        // The last line, without a line end, is cut to nothing: its chunk still holds a line.
        let data = [&b"ab\n"[..], &[b'x'; 2000]].concat();
        let mut r = ChunkReader::from_reader(Box::new(io::Cursor::new(data)), "gen".into(), 1024, None).with_max_line_bytes(0);
        let mut got = Vec::new();
        while let Some(c) = r.next_chunk().unwrap() {
            got.push((c.first_offset, c.line_count(), c.cut_line_len));
        }
        assert_eq!(got, [(1, 1, None), (2, 1, Some(2000))]);
    }

    #[test]
    fn directives_the_parser_rejects_are_not_carried() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("elff.log");
        let mut text = b"#Fields: a b\n".to_vec();
        for i in 0..200 {
            text.extend_from_slice(format!("{i} x\n").as_bytes());
        }
        // Rejects (a lone `\r`, not UTF-8, too long): the fields before them still hold.
        text.extend_from_slice(b"#Fields: a\rb c\n#Fields: \xff\n#Fields: a b c d e f g h i j\n");
        for i in 0..200 {
            text.extend_from_slice(format!("{i} x\n").as_bytes());
        }
        std::fs::write(&path, text).unwrap();
        let mut r = ChunkReader::new(&Input::File(path), 1024, Some(b"#Fields:"), Arc::default()).unwrap().with_max_line_bytes(20);
        let mut last = None;
        while let Some(c) = r.next_chunk().unwrap() {
            last = c.header;
        }
        assert_eq!(last.as_deref(), Some(&b"#Fields: a b"[..]));
    }

    #[test]
    fn resolve_dirs_globs_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        for name in ["b.log", "a.log", ".hidden", "sub/c.log.gz"] {
            std::fs::write(dir.path().join(name), "x\n").unwrap();
        }
        let d = dir.path().display().to_string();
        let found = resolve_inputs(&[d.clone()]).unwrap();
        let names: Vec<String> = found.iter().map(|i| i.name().trim_start_matches(&d).to_string()).collect();
        assert_eq!(names, ["/a.log", "/b.log", "/sub/c.log.gz"]);
        assert_eq!(resolve_inputs(&[format!("{d}/*.log")]).unwrap().len(), 2);
        assert!(matches!(resolve_inputs(&[format!("{d}/*.nope")]), Err(ExtractError::NoMatch { .. })));
        let err = resolve_inputs(&[format!("{d}/missing.log")]).unwrap_err();
        assert!(err.to_string().contains("does not exist"), "{err}");
    }
}
