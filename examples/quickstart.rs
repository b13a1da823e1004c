//! Quickstart: write a sample embedding file with the library, describe it,
//! open it without copying and look at it the way an Arrow engine would.
//!
//! Run with `cargo run --release --example quickstart`.

use std::time::Instant;

use arrow_array::{Array, FixedSizeListArray, Float32Array};
use mmarrow::OpenOptions;

fn main() -> mmarrow::Result<()> {
    let dir = std::env::temp_dir().join(format!("mmarrow-quickstart-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| io(&dir, e))?;
    let path = dir.join("emb.f32");

    // 1. A raw file like `np.memmap(..., dtype='float32', mode='w+', shape=(100_000, 128))`.
    let (rows, dim) = (100_000u64, 128u64);
    let bytes: Vec<u8> = (0..rows * dim)
        .flat_map(|i| ((i / dim % 1000) as f32 + (i % dim) as f32 / 1000.0).to_le_bytes())
        .collect();
    std::fs::write(&path, &bytes).map_err(|e| io(&path, e))?;
    println!(
        "wrote {} ({} MB of float32)",
        path.display(),
        bytes.len() / 1_000_000
    );

    // 2. Record dtype and shape once in the sidecar (what `mmarrow describe` does).
    let options = OpenOptions::new()
        .try_with_dtype("float32")?
        .try_with_shape("-1,128")?;
    mmarrow::describe(&path, &options.clone().overwrite(true))?;
    println!(
        "described: {}",
        mmarrow::format::sidecar_path(&path).display()
    );

    // 3. Open it: a map, no data read or copied.
    let t = Instant::now();
    let array = mmarrow::open(&path)?;
    let batch = array.to_record_batch()?;
    let took = t.elapsed();
    let field = batch.schema().field(0).clone();
    println!(
        "opened in {:?}: dtype {} shape {:?}, {} rows, zero-copy: {}",
        took,
        array.dtype(),
        array.shape(),
        batch.num_rows(),
        array.is_zero_copy()
    );
    println!("arrow column {:?}: {}", field.name(), field.data_type());
    for (k, v) in field.metadata() {
        println!("  field metadata {k} = {v}");
    }

    // 4. The Arrow buffer is the mapped file.
    let list = batch
        .column(0)
        .as_any()
        .downcast_ref::<FixedSizeListArray>()
        .expect("2-D float32 is a FixedSizeList");
    let values = list
        .values()
        .as_any()
        .downcast_ref::<Float32Array>()
        .unwrap();
    let ptr = values.values().as_ptr() as usize;
    let map = array.mapped_range().expect("zero-copy array has a map");
    println!(
        "values buffer at {ptr:#x}, inside the map {:#x}..{:#x}: {}",
        map.start,
        map.end,
        map.contains(&ptr)
    );
    println!(
        "row 99999 starts with {:?}",
        &values.values()[(99_999 * dim) as usize..(99_999 * dim + 3) as usize]
    );

    // 5. Zero-copy batches for streaming.
    let n = array.batches(32_768, Default::default())?.count();
    println!("split into {n} zero-copy batches of up to 32768 rows");
    println!("the CLI does the same: mmarrow describe FILE --dtype float32 --shape -1,128; mmarrow info FILE; mmarrow head FILE");

    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn io(path: &std::path::Path, e: std::io::Error) -> mmarrow::Error {
    mmarrow::ErrorKind::Io {
        op: "write",
        source: e,
    }
    .at(path)
}
