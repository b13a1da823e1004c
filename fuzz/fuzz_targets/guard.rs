//! For the Parquet and IPC targets only: a panic inside a third-party
//! decoder (arrow-ipc, parquet) is recorded and the input skipped, so that
//! one known decoder panic does not stop the run; a panic anywhere else
//! still aborts and is reported as a crash. Each distinct panic location is
//! printed once as `THIRD-PARTY PANIC #n at LOCATION: MESSAGE`, and the
//! input that first hit it is saved to `$MMARROW_FUZZ_THIRD_PARTY_DIR`
//! (when set) as `LOCATION-hash`.

use std::collections::HashSet;
use std::panic::AssertUnwindSafe;
use std::sync::{Mutex, Once};

static INIT: Once = Once::new();
static SEEN: Mutex<Option<HashSet<String>>> = Mutex::new(None);
static NEW: Mutex<Option<String>> = Mutex::new(None);

pub fn run(data: &[u8], f: impl FnOnce()) {
    INIT.call_once(|| {
        let abort = std::panic::take_hook(); // libfuzzer-sys's: print, abort
        std::panic::set_hook(Box::new(move |info| {
            let loc = info.location().map(|l| l.to_string()).unwrap_or_default();
            if !crate::common::is_third_party(&loc) {
                return abort(info);
            }
            let msg = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_default();
            let mut seen = SEEN.lock().unwrap();
            let seen = seen.get_or_insert_with(HashSet::new);
            if seen.insert(loc.clone()) {
                eprintln!("THIRD-PARTY PANIC #{} at {loc}: {msg}", seen.len());
                *NEW.lock().unwrap() = Some(loc);
            }
        }));
    });
    if std::panic::catch_unwind(AssertUnwindSafe(f)).is_err() {
        if let (Some(loc), Some(dir)) = (
            NEW.lock().unwrap().take(),
            std::env::var_os("MMARROW_FUZZ_THIRD_PARTY_DIR"),
        ) {
            let name: String = loc
                .rsplit("/src/")
                .next()
                .unwrap_or(&loc)
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect();
            let hash = data.iter().fold(0xcbf29ce484222325u64, |h, &b| {
                (h ^ b as u64).wrapping_mul(0x100000001b3)
            });
            let _ = std::fs::create_dir_all(&dir);
            let _ = std::fs::write(
                std::path::Path::new(&dir).join(format!("{name}-{hash:016x}")),
                data,
            );
        }
    }
}
