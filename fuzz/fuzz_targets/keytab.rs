//! Keytab files (`keytab::parse`): never panic, whatever the record sizes say; every entry
//! read names a principal with a realm.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(entries) = altgate::keytab::parse(data) {
        for e in entries {
            assert!(e.principal.contains('@'));
        }
    }
});
