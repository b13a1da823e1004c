//! Test helper for the Python interop harness: the `arrow.fixed_shape_tensor`
//! metadata codec from the command line.
//!
//! `tensor_meta encode 2,3 [--dim-names a,b] [--permutation 1,0]` prints the JSON mmarrow writes;
//! `tensor_meta decode JSON` prints the parsed metadata re-encoded, or fails with exit 2.

use std::process::ExitCode;

use mmarrow::format::TensorMetadata;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("encode") if args.len() >= 2 => encode(&args[1..]),
        Some("decode") if args.len() == 2 => TensorMetadata::from_json(&args[1])
            .map(|m| m.to_json())
            .map_err(|e| e.to_string()),
        _ => Err(
            "usage: tensor_meta encode SHAPE [--dim-names A,B] [--permutation P] | decode JSON"
                .into(),
        ),
    };
    match result {
        Ok(s) => {
            println!("{s}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("tensor_meta: {e}");
            ExitCode::from(2)
        }
    }
}

fn encode(args: &[String]) -> Result<String, String> {
    let nums = |s: &str| -> Result<Vec<u64>, String> {
        s.split(',')
            .map(|x| x.trim().parse().map_err(|_| format!("bad number {x:?}")))
            .collect()
    };
    let mut m = TensorMetadata::new(nums(&args[0])?);
    let mut it = args[1..].iter();
    while let Some(a) = it.next() {
        let v = it.next().ok_or(format!("{a} needs a value"))?;
        match a.as_str() {
            "--dim-names" => m.dim_names = Some(v.split(',').map(str::to_string).collect()),
            "--permutation" => m.permutation = Some(nums(v)?),
            _ => return Err(format!("unknown option {a}")),
        }
    }
    Ok(m.to_json())
}
