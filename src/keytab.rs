//! Reading a keytab file (MIT format, version `0x0502`, what `ktpass`, `samba-tool domain
//! exportkeytab` and `ktutil` write) for what an admin needs to know about it: which principals,
//! key versions and encryption types it holds. The keys themselves are skipped, never kept.
//! The acceptor itself reads the keytab through MIT Kerberos; this is for `check-config` and
//! the start-up check that the configured service principal has a key.

use std::path::Path;

/// Largest keytab read, in bytes (a keytab with a few principals is a few KB).
pub const MAX_KEYTAB_BYTES: u64 = 1024 * 1024;

/// One key entry (the key bytes left out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyEntry {
    /// `HTTP/sts.contoso.com@CONTOSO.COM`.
    pub principal: String,
    /// Key version number.
    pub kvno: u32,
    /// Encryption type number (17, 18: AES; 23: RC4).
    pub enctype: u16,
}

impl KeyEntry {
    /// The encryption type's name.
    pub fn enctype_name(&self) -> String {
        enctype_name(self.enctype)
    }
}

/// The name of an encryption type number.
pub fn enctype_name(enctype: u16) -> String {
    match enctype {
        17 => "aes128-cts-hmac-sha1-96".into(),
        18 => "aes256-cts-hmac-sha1-96".into(),
        19 => "aes128-cts-hmac-sha256-128".into(),
        20 => "aes256-cts-hmac-sha384-192".into(),
        23 => "arcfour-hmac (RC4)".into(),
        1 | 3 => "des-cbc (DES)".into(),
        16 => "des3-cbc-sha1".into(),
        n => format!("enctype {n}"),
    }
}

/// True for encryption types AD offers but nobody should rely on (DES, RC4).
pub fn is_weak(enctype: u16) -> bool {
    matches!(enctype, 1 | 3 | 23 | 24)
}

/// Why a keytab could not be read.
#[derive(Debug, thiserror::Error)]
pub enum KeytabError {
    /// The file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Larger than [`MAX_KEYTAB_BYTES`].
    #[error("{0} is larger than 1 MiB: not a keytab")]
    TooLarge(String),
    /// Not a version 0x0502 keytab, or truncated.
    #[error("{path} is not a keytab (MIT format 0x0502): {why}")]
    Format {
        /// The file.
        path: String,
        /// What was wrong.
        why: &'static str,
    },
}

/// Reads the entries of the keytab at `path`.
pub fn read(path: &Path) -> Result<Vec<KeyEntry>, KeytabError> {
    let shown = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|source| KeytabError::Read {
        path: shown.clone(),
        source,
    })?;
    if meta.len() > MAX_KEYTAB_BYTES {
        return Err(KeytabError::TooLarge(shown));
    }
    let bytes = std::fs::read(path).map_err(|source| KeytabError::Read {
        path: shown.clone(),
        source,
    })?;
    parse(&bytes).map_err(|why| KeytabError::Format { path: shown, why })
}

/// A cursor over big-endian fields.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], &'static str> {
        if self.0.len() < n {
            return Err("truncated entry");
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, &'static str> {
        Ok(self.take(1)?.first().copied().unwrap_or(0))
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], &'static str> {
        <[u8; N]>::try_from(self.take(N)?).map_err(|_| "truncated entry")
    }
    fn u16(&mut self) -> Result<u16, &'static str> {
        Ok(u16::from_be_bytes(self.array()?))
    }
    fn u32(&mut self) -> Result<u32, &'static str> {
        Ok(u32::from_be_bytes(self.array()?))
    }
    fn string(&mut self) -> Result<String, &'static str> {
        let n = usize::from(self.u16()?);
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| "a name is not UTF-8")
    }
}

/// Parses keytab bytes.
pub fn parse(bytes: &[u8]) -> Result<Vec<KeyEntry>, &'static str> {
    let mut r = Reader(bytes);
    if r.take(2).map_err(|_| "empty file")? != [0x05, 0x02] {
        return Err("unknown version (expected 0x0502)");
    }
    let mut entries = Vec::new();
    while !r.0.is_empty() {
        let size = r.u32()? as i32;
        let len = size.unsigned_abs() as usize;
        let record = r.take(len)?;
        if size <= 0 {
            continue; // a hole left by a removed entry
        }
        let mut e = Reader(record);
        let count = e.u16()?;
        let realm = e.string()?;
        let mut components = Vec::with_capacity(usize::from(count.min(8)));
        for _ in 0..count {
            components.push(e.string()?);
        }
        let _name_type = e.u32()?;
        let _timestamp = e.u32()?;
        let kvno8 = e.u8()?;
        let enctype = e.u16()?;
        let key_len = usize::from(e.u16()?);
        e.take(key_len)?;
        // A 32-bit kvno follows when the record has room for it (it wins when non-zero).
        let kvno = match e.u32() {
            Ok(k) if k != 0 => k,
            _ => u32::from(kvno8),
        };
        entries.push(KeyEntry {
            principal: format!("{}@{realm}", components.join("/")),
            kvno,
            enctype,
        });
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fuzzing::samples::keytab_entry as entry_bytes;

    #[test]
    fn entries_holes_and_32_bit_kvnos() {
        let mut kt = vec![0x05, 0x02];
        kt.extend(entry_bytes(
            &["HTTP", "sts.contoso.com"],
            "CONTOSO.COM",
            2,
            18,
        ));
        kt.extend((-12i32).to_be_bytes());
        kt.extend([0u8; 12]);
        kt.extend(entry_bytes(
            &["HTTP", "sts.contoso.com"],
            "CONTOSO.COM",
            300,
            23,
        ));
        let entries = parse(&kt).expect("parses");
        assert_eq!(
            entries,
            vec![
                KeyEntry {
                    principal: "HTTP/sts.contoso.com@CONTOSO.COM".into(),
                    kvno: 2,
                    enctype: 18
                },
                KeyEntry {
                    principal: "HTTP/sts.contoso.com@CONTOSO.COM".into(),
                    kvno: 300,
                    enctype: 23
                },
            ]
        );
        assert!(is_weak(entries[1].enctype) && !is_weak(entries[0].enctype));
        assert_eq!(entries[0].enctype_name(), "aes256-cts-hmac-sha1-96");
    }

    #[test]
    fn garbage_is_an_error_never_a_panic() {
        assert!(parse(b"").is_err());
        assert!(parse(b"\x05\x01").is_err());
        assert_eq!(parse(b"\x05\x02"), Ok(vec![]));
        let mut kt = vec![0x05, 0x02];
        kt.extend(entry_bytes(&["HTTP", "h"], "R", 1, 18));
        for n in 2..kt.len() {
            assert!(parse(&kt[..n]).is_err() || n == 2, "prefix {n}");
        }
        assert!(parse(b"\x05\x02\x7f\xff\xff\xff").is_err());
    }
}
