//! The gRPC request conversions on arbitrary bytes and names: a client
//! controls both, so nothing may panic and what is accepted is valid.
#![no_main]

use copydesk::grpc::fuzzing::{resource_names, story_requests};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    story_requests(bytes);
    if let Ok(name) = std::str::from_utf8(bytes) {
        resource_names(name);
    }
});
