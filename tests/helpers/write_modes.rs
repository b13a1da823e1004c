//! Test helper for the Python interop harness: numpy.memmap's write modes
//! (`w+`, `r+`, `c`) and the crash-safe `ArrayWriter`, from the command line,
//! so that numpy can check what the library writes.
//!
//! ```text
//! write_modes create PATH DTYPE SHAPE [--order C|F] [--offset N] [--force]
//! write_modes set    PATH INDEX VALUE [--dtype D --shape S --offset N --order C|F]
//! write_modes cow    PATH INDEX VALUE [--dtype D --shape S --offset N --order C|F]
//! write_modes append PATH DTYPE ROWSHAPE NROWS [--commit-every K] [--progress] [--wait]
//!                    [--durability fsync|process]
//! ```
//!
//! * `create` opens PATH in mode `w+` and sets flat element `k` (in file
//!   order, C or F) to `k`, then flushes. Prints the array's layout as JSON.
//! * `set` opens PATH in mode `r+` (described by its sidecar, its `.npy`
//!   header or the explicit options) and sets flat element INDEX to VALUE;
//!   dropping the map flushes. Prints `{"before", "after"}` as JSON.
//! * `cow` does the same in mode `c` (copy-on-write): prints the element
//!   before and after the write as read back from the map; the file must not
//!   change.
//! * `append` creates PATH with an `ArrayWriter` (`.npy` when the name ends in
//!   `.npy`, raw + sidecar otherwise) or, when PATH exists, reopens it with
//!   `ArrayWriter::open`, then appends NROWS rows of ROWSHAPE (comma-separated,
//!   empty or `()` for a 1-D array) whose flat element `k`, counted across
//!   runs, is `k`. It commits every K rows and at the end. `--progress` prints
//!   `{"committed": N}` after each commit returns; `--wait` additionally waits
//!   for a line on stdin after each such report (so a test can inspect the
//!   file at every commit).
//!
//! Integer dtypes take values as numpy's `astype` does (wrapping); VALUE is
//! parsed as an integer when it is one, else as a float. Supported dtypes:
//! `i1 i2 i4 i8 u1 u2 u4 u8 f2 f4 f8`.
//!
//! Exit code 2 and one line on stderr for errors, like the CLI.

use std::error::Error;
use std::fmt::Display;
use std::io::{BufRead, Write};
use std::path::Path;
use std::process::ExitCode;

use mmarrow::dtype::{Element, Kind};
use mmarrow::shape::Order;
use mmarrow::write::{Durability, WriterOptions};
use mmarrow::{ArrayWriter, Dtype, MmArrayMut, Mode, OpenOptions};
use serde_json::{json, Value as Json};

type Res<T> = Result<T, Box<dyn Error>>;

const USAGE: &str = "usage: write_modes create PATH DTYPE SHAPE | set PATH INDEX VALUE | \
                     cow PATH INDEX VALUE | append PATH DTYPE ROWSHAPE NROWS [options]";

fn main() -> ExitCode {
    match run() {
        Ok(v) => {
            println!("{v}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            let text = e.to_string();
            let line = text.lines().next().unwrap_or("error");
            eprintln!("write_modes: {line}");
            ExitCode::from(2)
        }
    }
}

/// An element type the helper can write: built from integers and floats as
/// numpy's `astype` builds it.
trait Value: Element + Copy + Display {
    fn from_i64(v: i64) -> Self;
    fn from_f64(v: f64) -> Self;
}

macro_rules! value_int {
    ($($t:ty),*) => {$(
        impl Value for $t {
            fn from_i64(v: i64) -> Self {
                v as $t
            }
            fn from_f64(v: f64) -> Self {
                v as i64 as $t
            }
        }
    )*};
}
value_int!(i8, i16, i32, i64, u8, u16, u32, u64);

macro_rules! value_float {
    ($($t:ty),*) => {$(
        impl Value for $t {
            fn from_i64(v: i64) -> Self {
                v as $t
            }
            fn from_f64(v: f64) -> Self {
                v as $t
            }
        }
    )*};
}
value_float!(f32, f64);

impl Value for half::f16 {
    fn from_i64(v: i64) -> Self {
        half::f16::from_f64(v as f64)
    }
    fn from_f64(v: f64) -> Self {
        half::f16::from_f64(v)
    }
}

fn parse_value<T: Value>(text: &str) -> Res<T> {
    if let Ok(i) = text.parse::<i64>() {
        return Ok(T::from_i64(i));
    }
    let f: f64 = text
        .parse()
        .map_err(|_| format!("VALUE {text:?} is not a number"))?;
    Ok(T::from_f64(f))
}

/// Calls `$f::<T>($args)` with `T` the element type of `$dtype`.
macro_rules! with_type {
    ($dtype:expr, $f:ident ( $($arg:expr),* )) => {{
        let d: &Dtype = $dtype;
        match (d.kind(), d.itemsize()) {
            (Kind::Int, 1) => $f::<i8>($($arg),*),
            (Kind::Int, 2) => $f::<i16>($($arg),*),
            (Kind::Int, 4) => $f::<i32>($($arg),*),
            (Kind::Int, 8) => $f::<i64>($($arg),*),
            (Kind::UInt, 1) => $f::<u8>($($arg),*),
            (Kind::UInt, 2) => $f::<u16>($($arg),*),
            (Kind::UInt, 4) => $f::<u32>($($arg),*),
            (Kind::UInt, 8) => $f::<u64>($($arg),*),
            (Kind::Float, 2) => $f::<half::f16>($($arg),*),
            (Kind::Float, 4) => $f::<f32>($($arg),*),
            (Kind::Float, 8) => $f::<f64>($($arg),*),
            _ => Err(format!("write_modes does not handle dtype {}", d.typestr()).into()),
        }
    }};
}

/// Positional arguments and `--name value` / `--flag` options.
struct Args {
    positional: Vec<String>,
    dtype: Option<String>,
    shape: Option<String>,
    offset: Option<u64>,
    order: Option<Order>,
    force: bool,
    commit_every: u64,
    progress: bool,
    wait: bool,
    durability: Durability,
}

fn parse_args(mut raw: impl Iterator<Item = String>) -> Res<Args> {
    let mut a = Args {
        positional: Vec::new(),
        dtype: None,
        shape: None,
        offset: None,
        order: None,
        force: false,
        commit_every: 0,
        progress: false,
        wait: false,
        durability: Durability::Fsync,
    };
    while let Some(arg) = raw.next() {
        let mut val = || raw.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--dtype" => a.dtype = Some(val()?),
            "--shape" => a.shape = Some(val()?),
            "--offset" => a.offset = Some(val()?.parse()?),
            "--order" => a.order = Some(val()?.parse()?),
            "--commit-every" => a.commit_every = val()?.parse()?,
            "--durability" => {
                a.durability = match val()?.as_str() {
                    "fsync" => Durability::Fsync,
                    "process" => Durability::Process,
                    other => return Err(format!("unknown durability {other:?}").into()),
                }
            }
            "--force" => a.force = true,
            "--progress" => a.progress = true,
            "--wait" => {
                a.progress = true;
                a.wait = true;
            }
            s if s.starts_with("--") => return Err(format!("unknown option {s}").into()),
            _ => a.positional.push(arg),
        }
    }
    Ok(a)
}

fn run() -> Res<Json> {
    let mut raw = std::env::args().skip(1);
    let cmd = raw.next().ok_or(USAGE)?;
    let a = parse_args(raw)?;
    let p = &a.positional;
    match (cmd.as_str(), p.len()) {
        ("create", 3) => create(&a),
        ("set", 3) => set_element(&a, Mode::ReadWrite),
        ("cow", 3) => set_element(&a, Mode::CopyOnWrite),
        ("append", 4) => append(&a),
        _ => Err(USAGE.into()),
    }
}

fn layout(m: &MmArrayMut) -> Json {
    json!({
        "dtype": m.dtype().typestr(),
        "shape": m.shape(),
        "order": m.order().to_string(),
        "offset": m.offset(),
    })
}

fn create(a: &Args) -> Res<Json> {
    let p = &a.positional;
    let mut o = OpenOptions::new()
        .mode(Mode::Create)
        .overwrite(a.force)
        .try_with_dtype(&p[1])?
        .try_with_shape(&p[2])?;
    if let Some(order) = a.order {
        o = o.order(order);
    }
    if let Some(off) = a.offset {
        o = o.offset(off);
    }
    let mut m = o.open_mut(&p[0])?;
    let dtype = *m.dtype();
    with_type!(&dtype, fill(&mut m))?;
    m.flush()?;
    Ok(layout(&m))
}

fn fill<T: Value>(m: &mut MmArrayMut) -> Res<()> {
    for (k, x) in m.as_mut_slice::<T>()?.iter_mut().enumerate() {
        *x = T::from_i64(k as i64);
    }
    Ok(())
}

fn set_element(a: &Args, mode: Mode) -> Res<Json> {
    let p = &a.positional;
    let index: usize = p[1]
        .parse()
        .map_err(|_| format!("INDEX {:?} is not a non-negative integer", p[1]))?;
    let mut o = OpenOptions::new().mode(mode);
    if let Some(d) = &a.dtype {
        o = o.try_with_dtype(d)?;
    }
    if let Some(s) = &a.shape {
        o = o.try_with_shape(s)?;
    }
    if let Some(off) = a.offset {
        o = o.offset(off);
    }
    if let Some(order) = a.order {
        o = o.order(order);
    }
    let mut m = o.open_mut(&p[0])?;
    let dtype = *m.dtype();
    let (before, after) = with_type!(&dtype, set_one(&mut m, index, &p[2]))?;
    let mut out = layout(&m);
    out["mode"] = json!(m.mode().to_string());
    out["before"] = json!(before);
    out["after"] = json!(after);
    // Dropping `m` flushes in r+ (as deleting a numpy.memmap does); in c it
    // discards the private copy.
    drop(m);
    Ok(out)
}

/// Sets element `index`; returns the element before and after, as read back.
fn set_one<T: Value>(m: &mut MmArrayMut, index: usize, text: &str) -> Res<(String, String)> {
    let v: T = parse_value(text)?;
    let s = m.as_mut_slice::<T>()?;
    let len = s.len();
    let x = s
        .get_mut(index)
        .ok_or_else(|| format!("INDEX {index} is out of range (the array has {len} elements)"))?;
    let before = x.to_string();
    *x = v;
    let after = m.as_slice::<T>()?[index].to_string();
    Ok((before, after))
}

fn parse_row_shape(text: &str) -> Res<Vec<u64>> {
    let t = text.trim().trim_start_matches('(').trim_end_matches(')');
    t.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<u64>()
                .map_err(|_| format!("ROWSHAPE {text:?}: {s:?} is not a dimension").into())
        })
        .collect()
}

fn append(a: &Args) -> Res<Json> {
    let p = &a.positional;
    let path = Path::new(&p[0]);
    let dtype = Dtype::parse(&p[1])?;
    let row_shape = parse_row_shape(&p[2])?;
    let nrows: u64 = p[3]
        .parse()
        .map_err(|_| format!("NROWS {:?} is not a non-negative integer", p[3]))?;
    let reopened = path.exists();
    let mut w = if reopened {
        let w = ArrayWriter::open(path, a.durability)?;
        if *w.dtype() != dtype || w.row_shape() != row_shape.as_slice() {
            return Err(format!(
                "{} holds rows of {:?} {}, not {:?} {}",
                path.display(),
                w.row_shape(),
                w.dtype().typestr(),
                row_shape,
                dtype.typestr()
            )
            .into());
        }
        w
    } else {
        WriterOptions::new(dtype, &row_shape)
            .durability(a.durability)
            .create(path)?
    };
    let start_rows = w.committed_rows();
    with_type!(&dtype, append_rows(&mut w, nrows, a))?;
    let array = w.finish()?;
    let rows = array.shape().first().copied().unwrap_or(0);
    if a.progress {
        report(rows, a.wait)?;
    }
    Ok(json!({
        "reopened": reopened,
        "start_rows": start_rows,
        "committed_rows": rows,
        "shape": array.shape(),
        "dtype": array.dtype().typestr(),
    }))
}

fn append_rows<T: Value>(w: &mut ArrayWriter, nrows: u64, a: &Args) -> Res<()> {
    let per_row = w.row_shape().iter().product::<u64>();
    let mut k = w.committed_rows() * per_row;
    let mut row: Vec<T> = Vec::with_capacity(per_row as usize);
    for r in 0..nrows {
        row.clear();
        row.extend((k..k + per_row).map(|x| T::from_i64(x as i64)));
        k += per_row;
        w.append(&row)?;
        if a.commit_every > 0 && (r + 1) % a.commit_every == 0 && r + 1 < nrows {
            let rows = w.commit()?;
            if a.progress {
                report(rows, a.wait)?;
            }
        }
    }
    Ok(())
}

/// Prints `{"committed": rows}` (flushed) and, with `wait`, waits for a line on stdin.
fn report(rows: u64, wait: bool) -> Res<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", json!({ "committed": rows }))?;
    out.flush()?;
    drop(out);
    if wait {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
    }
    Ok(())
}
