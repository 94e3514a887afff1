//! `config::parse`: any text is a config or a list of problems, never a panic. Half the inputs are spliced into
//! the demo config, so the fuzzer starts from something that gets past TOML.
#![no_main]

use std::path::Path;

use feedwright::demo;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, bytes)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(bytes) else { return };
    let text = if pick & 1 == 0 {
        let mut at = (pick as usize * 37) % demo::CONFIG.len();
        while !demo::CONFIG.is_char_boundary(at) {
            at -= 1;
        }
        format!("{}{text}{}", &demo::CONFIG[..at], &demo::CONFIG[at..])
    } else {
        text.to_owned()
    };
    let _ = feedwright::config::parse(&text, Path::new("fuzz.toml"));
});
