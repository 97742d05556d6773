//! Arbitrary bytes (lossy UTF-8) through IOC extraction, and through `enrich` of a post with
//! that text and its whitespace-separated words as links (the host lookup and the .gov
//! registry see arbitrary "URLs").
#![no_main]

use libfuzzer_sys::fuzz_target;
use streamer_model::{Platform, Post};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = streamer_ioc::extract(&text);

    let mut post = Post::new(Platform::X, "1", "1");
    post.text = text.into_owned();
    post.urls = post
        .text
        .split_whitespace()
        .take(16)
        .map(str::to_owned)
        .collect();
    let _ = streamer_ioc::enrich(&post);
});
